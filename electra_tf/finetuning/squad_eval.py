"""The official SQuAD 1.1 / 2.0 and MRQA evaluations, in pure Python.

Port of the metric parts of finetune/qa/squad_official_eval.py (SQuAD 2.0),
squad_official_eval_v1.py (SQuAD 1.1) and mrqa_official_eval.py: answers are
normalised (lower case, no punctuation or articles), then scored by exact
match and token F1 against the best gold answer.
"""

import collections
import json
import logging
import re
import string

import tensorflow as tf

logger = logging.getLogger(__name__)


def normalize_answer(s):
    """Lower-case; drop punctuation, the articles a/an/the, extra whitespace.

    Example:
      >>> normalize_answer("The  Eiffel-Tower!")
      'eiffeltower'
    """
    s = s.lower()
    s = "".join(ch for ch in s if ch not in _PUNCTUATION)
    s = re.sub(r"\b(a|an|the)\b", " ", s)
    return " ".join(s.split())


_PUNCTUATION = frozenset(string.punctuation)


def _token_f1(pred_tokens, gold_tokens):
    common = collections.Counter(pred_tokens) & collections.Counter(gold_tokens)
    num_same = sum(common.values())
    if num_same == 0:
        return 0.0
    precision = num_same / len(pred_tokens)
    recall = num_same / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)


def exact_match_score(prediction, ground_truth):
    """SQuAD 1.1 / MRQA exact match of normalised strings (bool)."""
    return normalize_answer(prediction) == normalize_answer(ground_truth)


def f1_score(prediction, ground_truth):
    """SQuAD 1.1 / MRQA token F1 (0 when nothing is shared, even both empty)."""
    pred_tokens = normalize_answer(prediction).split()
    return _token_f1(pred_tokens, normalize_answer(ground_truth).split())


def compute_exact(a_gold, a_pred):
    """SQuAD 2.0 exact match (0/1)."""
    return int(normalize_answer(a_gold) == normalize_answer(a_pred))


def compute_f1(a_gold, a_pred):
    """SQuAD 2.0 token F1: 1 if both are empty, 0 if only one is."""
    gold_toks = normalize_answer(a_gold).split() if a_gold else []
    pred_toks = normalize_answer(a_pred).split() if a_pred else []
    if not gold_toks or not pred_toks:
        return float(gold_toks == pred_toks)
    return _token_f1(pred_toks, gold_toks)


def _best_em_f1(prediction, ground_truths):
    """SQuAD 1.1 / MRQA exact match and F1 against the best gold answer
    (`metric_max_over_ground_truths` of both scripts)."""
    return (
        max(exact_match_score(prediction, gt) for gt in ground_truths),
        max(f1_score(prediction, gt) for gt in ground_truths),
    )


def squad_v1_evaluate(dataset, predictions):
    """Official SQuAD 1.1 evaluation; missing predictions score 0.

    Example:
      >>> qa = {"id": "q1", "answers": [{"text": "the Eiffel Tower"}]}
      >>> data = [{"paragraphs": [{"qas": [qa]}]}]
      >>> squad_v1_evaluate(data, {"q1": "Eiffel tower"})
      {'exact_match': 100.0, 'f1': 100.0}
    """
    scores = []
    for article in dataset:
        for paragraph in article["paragraphs"]:
            for qa in paragraph["qas"]:
                if qa["id"] not in predictions:
                    logger.warning(
                        "Unanswered question %s will receive score 0.", qa["id"]
                    )
                    scores.append((0, 0))
                    continue
                golds = [a["text"] for a in qa["answers"]]
                if not golds:
                    raise ValueError(
                        f"Question {qa['id']} has no gold answers; SQuAD 1.1 "
                        "evaluation needs at least one."
                    )
                scores.append(_best_em_f1(predictions[qa["id"]], golds))
    return _em_f1(
        scores, "No questions to score: the SQuAD dev set is empty."
    )


def _em_f1(scores, empty_message):
    """100 x the mean exact match and F1 of (em, f1) pairs."""
    if not scores:
        raise ValueError(empty_message)
    return {
        "exact_match": 100.0 * sum(em for em, _ in scores) / len(scores),
        "f1": 100.0 * sum(f1 for _, f1 in scores) / len(scores),
    }


def mrqa_evaluate(answers, predictions, skip_no_answer=True):
    """Official MRQA evaluation over `answers` {qid: [gold texts]}.

    With `skip_no_answer` (as ELECTRA calls it) questions without a
    prediction are left out of the total.
    """
    scores = []
    for qid, ground_truths in answers.items():
        if qid not in predictions:
            if not skip_no_answer:
                logger.warning("Unanswered question %s scores 0.", qid)
                scores.append((0, 0))
            continue
        scores.append(_best_em_f1(predictions[qid], ground_truths))
    return _em_f1(scores, "No MRQA questions with predictions to score.")


def _eval_dict(exact, f1, qids):
    total = len(qids)
    return collections.OrderedDict(
        [
            ("exact", 100.0 * sum(exact[k] for k in qids) / total),
            ("f1", 100.0 * sum(f1[k] for k in qids) / total),
            ("total", total),
        ]
    )


def _find_best_thresh(preds, scores, na_probs, qid_to_has_ans):
    """Best score when predicting "" above a threshold swept over na_probs."""
    cur_score = sum(1 for k in qid_to_has_ans if not qid_to_has_ans[k])
    best_score, best_thresh = cur_score, 0.0
    for qid in sorted(na_probs, key=lambda k: na_probs[k]):
        if qid not in scores:
            continue
        if qid_to_has_ans[qid]:
            cur_score += scores[qid]
        elif preds[qid]:
            cur_score -= 1
        if cur_score > best_score:
            best_score, best_thresh = cur_score, na_probs[qid]
    return 100.0 * best_score / len(scores), best_thresh


def squad_v2_evaluate(dataset, preds, na_probs=None, na_prob_thresh=1.0):
    """Official SQuAD 2.0 evaluation, returning the keys of its eval JSON.

    A prediction becomes "no answer" when its `na_probs` value exceeds
    `na_prob_thresh`; `best_*` sweep that threshold.
    """
    qid_to_has_ans = {}
    exact_raw, f1_raw = {}, {}
    for article in dataset:
        for paragraph in article["paragraphs"]:
            for qa in paragraph["qas"]:
                qid = qa["id"]
                qid_to_has_ans[qid] = bool(qa["answers"])
                golds = [a["text"] for a in qa["answers"]]
                golds = [a for a in golds if normalize_answer(a)] or [""]
                if qid not in preds:
                    # Deviation from reference: the official script prints
                    # and then fails with a KeyError in the HasAns/NoAns split.
                    raise ValueError(
                        f"Missing prediction for question {qid}; every "
                        "question of the SQuAD 2.0 file needs one."
                    )
                pred = preds[qid]
                exact_raw[qid] = max(compute_exact(a, pred) for a in golds)
                f1_raw[qid] = max(compute_f1(a, pred) for a in golds)
    if not qid_to_has_ans:
        raise ValueError("No questions to score: the SQuAD 2.0 file is empty.")
    has_na_probs = na_probs is not None
    if not has_na_probs:
        na_probs = {k: 0.0 for k in preds}
    exact, f1 = {}, {}
    for qid in exact_raw:
        if na_probs[qid] > na_prob_thresh:
            exact[qid] = f1[qid] = float(not qid_to_has_ans[qid])
        else:
            exact[qid], f1[qid] = exact_raw[qid], f1_raw[qid]
    out = _eval_dict(exact, f1, list(exact))
    for prefix, wanted in (("HasAns", True), ("NoAns", False)):
        qids = [k for k, v in qid_to_has_ans.items() if v == wanted]
        if qids:
            for k, v in _eval_dict(exact, f1, qids).items():
                out[f"{prefix}_{k}"] = v
    if has_na_probs:
        args = (na_probs, qid_to_has_ans)
        out["best_exact"], out["best_exact_thresh"] = _find_best_thresh(
            preds, exact_raw, *args
        )
        out["best_f1"], out["best_f1_thresh"] = _find_best_thresh(
            preds, f1_raw, *args
        )
    return dict(out)


def read_mrqa_answers(gold_file):
    """{qid: [answer texts]} from an MRQA JSON-lines file."""
    answers = {}
    with tf.io.gfile.GFile(gold_file, "r") as f:
        for i, line in enumerate(f):
            if not line.strip():
                continue
            example = json.loads(line)
            if i == 0 and "header" in example:
                continue
            for qa in example["qas"]:
                answers[qa["qid"]] = qa["answers"]
    return answers
