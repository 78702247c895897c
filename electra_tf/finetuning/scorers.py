"""Fine-tuning metrics in pure Python / NumPy.

Port of finetune/scorer.py, finetune/classification/classification_metrics.py,
finetune/tagging/tagging_metrics.py and the metric parts of the official
evaluation scripts finetune/qa/squad_official_eval.py (SQuAD 2.0),
squad_official_eval_v1.py (SQuAD 1.1) and mrqa_official_eval.py. MCC, Pearson and Spearman are written here rather than imported
from scikit-learn / SciPy (which the original needs).
"""

import collections
import logging
import math
import re
import string

import numpy as np

logger = logging.getLogger(__name__)


# ----------------------------------------------------------------------------
# Plain metric functions.


def accuracy(y_true, y_pred):
    """100 x the fraction of exact matches."""
    _check_same_length(y_true, y_pred)
    correct = sum(1 for t, p in zip(y_true, y_pred) if t == p)
    return 100.0 * correct / len(y_true)


def matthews_corrcoef(y_true, y_pred):
    """Matthews correlation (multi-class, as scikit-learn); 0 if undefined."""
    _check_same_length(y_true, y_pred)
    classes = sorted(set(y_true) | set(y_pred))
    index = {c: i for i, c in enumerate(classes)}
    confusion = np.zeros((len(classes), len(classes)), np.float64)
    for t, p in zip(y_true, y_pred):
        confusion[index[t], index[p]] += 1
    t_sum = confusion.sum(axis=1)
    p_sum = confusion.sum(axis=0)
    n = confusion.sum()
    cov_tp = np.trace(confusion) * n - np.dot(t_sum, p_sum)
    cov_pp = n * n - np.dot(p_sum, p_sum)
    cov_tt = n * n - np.dot(t_sum, t_sum)
    if cov_pp * cov_tt == 0:
        return 0.0
    return float(cov_tp / math.sqrt(cov_tt * cov_pp))


def pearson(x, y):
    """Pearson correlation; NaN (and a warning) if a side is constant."""
    _check_same_length(x, y)
    x = np.asarray(x, np.float64) - np.mean(x)
    y = np.asarray(y, np.float64) - np.mean(y)
    denominator = math.sqrt(np.dot(x, x) * np.dot(y, y))
    if denominator == 0.0:
        logger.warning("Correlation is undefined for constant values: NaN.")
        return float("nan")
    return float(np.clip(np.dot(x, y) / denominator, -1.0, 1.0))


def rankdata(values):
    """1-based ranks; ties get the average of their ranks (SciPy's default)."""
    values = np.asarray(values, np.float64)
    order = np.argsort(values, kind="mergesort")
    ranks = np.empty(len(values), np.float64)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2.0 + 1.0
        i = j + 1
    return ranks


def spearman(x, y):
    """Spearman correlation: Pearson of average ranks."""
    return pearson(rankdata(x), rankdata(y))


def _check_same_length(a, b):
    if len(a) != len(b):
        raise ValueError(f"{len(a)} labels but {len(b)} predictions.")
    if not len(a):
        raise ValueError(
            "No examples to score: the evaluation split is empty. Check the "
            "dev file of the task."
        )


# ----------------------------------------------------------------------------
# Streaming scorers (update per example, then get_results), as the original.


class Scorer:
    """Accumulates per-example outputs; `get_results` lists (metric, value)."""

    def __init__(self):
        self._updated = False
        self._cached_results = []

    def update(self, results):
        self._updated = True

    def _get_results(self):
        raise NotImplementedError

    def get_results(self, prefix=""):
        if self._updated:
            self._cached_results = self._get_results()
        self._updated = False
        return [(prefix + k, v) for k, v in self._cached_results]

    def results_str(self):
        return " - ".join(f"{k}: {v:.2f}" for k, v in self.get_results())


class SentenceLevelScorer(Scorer):
    """One label (`label_ids` or `targets`) and prediction per example."""

    def __init__(self):
        super().__init__()
        self._total_loss = 0.0
        self._true_labels = []
        self._preds = []

    def update(self, results):
        super().update(results)
        self._total_loss += float(results["loss"])
        key = "label_ids" if "label_ids" in results else "targets"
        self._true_labels.append(np.asarray(results[key]).item())
        self._preds.append(np.asarray(results["predictions"]).item())

    def get_loss(self):
        return self._total_loss / len(self._true_labels)


class AccuracyScorer(SentenceLevelScorer):
    def _get_results(self):
        return [
            ("accuracy", accuracy(self._true_labels, self._preds)),
            ("loss", self.get_loss()),
        ]


class MCCScorer(SentenceLevelScorer):
    def _get_results(self):
        return [
            ("mcc", 100.0 * matthews_corrcoef(self._true_labels, self._preds)),
            ("loss", self.get_loss()),
        ]


class RegressionScorer(SentenceLevelScorer):
    """Pearson / Spearman (x100) and MSE on the normalised (label / 5) scale."""

    def _get_results(self):
        targets = np.asarray(self._true_labels, np.float64)
        preds = np.asarray(self._preds, np.float64)
        return [
            ("pearson", 100.0 * pearson(targets, preds)),
            ("spearman", 100.0 * spearman(targets, preds)),
            ("mse", float(np.mean(np.square(targets - preds)))),
            ("loss", self.get_loss()),
        ]


def _prf(n_correct, n_predicted, n_gold):
    if n_correct == 0:
        p = r = f1 = 0.0
    else:
        p = 100.0 * n_correct / n_predicted
        r = 100.0 * n_correct / n_gold
        f1 = 2 * p * r / (p + r)
    return [("precision", p), ("recall", r), ("f1", f1)]


def _split_tag(tag):
    """(prefix, type) of a tag such as "B-NP"; "O" has no prefix."""
    if tag == "O":
        return None, "O"
    prefix, sep, kind = tag.partition("-")
    if not sep or not kind:
        raise ValueError(
            f"Tag '{tag}' is not 'O' nor '<prefix>-<type>' (e.g. 'B-NP'); "
            "fix the tag column of the tagging file."
        )
    return prefix, kind


def get_span_labels(sentence_tags, inv_label_mapping=None):
    """Spans (start, end, type) of a tag sequence, scanned as the original
    (finetune/tagging/tagging_utils.py: `get_span_labels`).

    `I-`/`E-` tags continue the open span (an `I-` after `O` opens one, a
    type change inside `I-` tags does not close it); `B-`, `S-` and `O`
    close the open span. With `inv_label_mapping`, tags are label ids.
    """
    if inv_label_mapping:
        sentence_tags = [inv_label_mapping[i] for i in sentence_tags]
    spans = []
    last = "O"
    start = -1
    for i, tag in enumerate(sentence_tags):
        prefix, _ = _split_tag(tag)
        if (prefix in ("S", "B") or tag == "O") and last != "O":
            spans.append((start, i - 1, _split_tag(last)[1]))
        if prefix in ("B", "S") or last == "O":
            start = i
        last = tag
    if len(sentence_tags) and sentence_tags[-1] != "O":
        spans.append(
            (start, len(sentence_tags) - 1, _split_tag(sentence_tags[-1])[1])
        )
    return spans


class EntityLevelF1Scorer(Scorer):
    """Span-level precision / recall / F1 over label ids (chunking).

    Each example gives `labels`, `predictions`, `labels_mask` (1.0 per
    labelled word) and its summed `loss`; `loss` is reported per word.
    """

    def __init__(self, label_mapping):
        super().__init__()
        self._inv_label_mapping = {v: k for k, v in label_mapping.items()}
        self._total_loss = 0.0
        self._total_words = 0
        self._labels = []
        self._preds = []

    def update(self, results):
        super().update(results)
        n_words = int(round(float(np.sum(results["labels_mask"]))))
        self._labels.append(list(results["labels"][:n_words]))
        self._preds.append(list(results["predictions"][:n_words]))
        # Deviation from reference: the original adds each example's loss
        # twice, doubling the reported loss
        # (finetune/tagging/tagging_metrics.py: `WordLevelScorer.update`).
        self._total_loss += float(np.sum(results["loss"]))
        self._total_words += n_words

    def get_loss(self):
        return self._total_loss / max(1, self._total_words)

    def _get_results(self):
        n_correct = n_predicted = n_gold = 0
        inv = self._inv_label_mapping
        for labels, preds in zip(self._labels, self._preds):
            gold = set(get_span_labels(labels, inv))
            pred = set(get_span_labels(preds, inv))
            n_correct += len(gold & pred)
            n_gold += len(gold)
            n_predicted += len(pred)
        results = _prf(n_correct, n_predicted, n_gold)
        return results + [("loss", self.get_loss())]


# ----------------------------------------------------------------------------
# Question answering: the official SQuAD 1.1 / 2.0 and MRQA evaluations.


def normalize_answer(s):
    """Lower-case; drop punctuation, the articles a/an/the, extra whitespace."""
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


def _max_over_ground_truths(metric_fn, prediction, ground_truths):
    return max(metric_fn(prediction, gt) for gt in ground_truths)


def squad_v1_evaluate(dataset, predictions):
    """Official SQuAD 1.1 evaluation; missing predictions score 0."""
    f1 = exact_match = total = 0
    for article in dataset:
        for paragraph in article["paragraphs"]:
            for qa in paragraph["qas"]:
                total += 1
                if qa["id"] not in predictions:
                    logger.warning(
                        "Unanswered question %s will receive score 0.", qa["id"]
                    )
                    continue
                golds = [a["text"] for a in qa["answers"]]
                if not golds:
                    raise ValueError(
                        f"Question {qa['id']} has no gold answers; SQuAD 1.1 "
                        "evaluation needs at least one."
                    )
                prediction = predictions[qa["id"]]
                exact_match += _max_over_ground_truths(
                    exact_match_score, prediction, golds
                )
                f1 += _max_over_ground_truths(f1_score, prediction, golds)
    if not total:
        raise ValueError("No questions to score: the SQuAD dev set is empty.")
    return _em_f1(exact_match, f1, total)


def _em_f1(exact_match, f1, total):
    return {
        "exact_match": 100.0 * exact_match / total,
        "f1": 100.0 * f1 / total,
    }


def mrqa_evaluate(answers, predictions, skip_no_answer=True):
    """Official MRQA evaluation over `answers` {qid: [gold texts]}.

    With `skip_no_answer` (as ELECTRA calls it) questions without a
    prediction are left out of the total.
    """
    f1 = exact_match = total = 0
    for qid, ground_truths in answers.items():
        if qid not in predictions:
            if not skip_no_answer:
                logger.warning("Unanswered question %s scores 0.", qid)
                total += 1
            continue
        total += 1
        prediction = predictions[qid]
        exact_match += _max_over_ground_truths(
            exact_match_score, prediction, ground_truths
        )
        f1 += _max_over_ground_truths(f1_score, prediction, ground_truths)
    if not total:
        raise ValueError("No MRQA questions with predictions to score.")
    return _em_f1(exact_match, f1, total)


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
