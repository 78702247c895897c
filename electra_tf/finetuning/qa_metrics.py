"""QA decoding and scoring from the span head's NumPy outputs.

Port of finetune/qa/qa_metrics.py (`SpanBasedQAScorer`): candidate spans
from the joint beam (or independent n-best start/end logits), the validity
filters, the null score of SQuAD 2.0, n-best texts via `get_final_text`, the
prediction / null-odds files, then the official SQuAD 2.0, SQuAD 1.1 or MRQA
evaluation (squad_eval.py).
"""

import collections
import json
import logging
import os

import numpy as np
import tensorflow as tf

from electra_tf import tokenization
from electra_tf.finetuning import scorers, squad_eval

logger = logging.getLogger(__name__)

RawResult = collections.namedtuple(
    "RawResult",
    [
        "unique_id",
        "start_logits",
        "end_logits",
        "answerable_logit",
        "start_top_log_probs",
        "start_top_index",
        "end_top_log_probs",
        "end_top_index",
    ],
)
_Prelim = collections.namedtuple(
    "PrelimPrediction",
    ["feature_index", "start_index", "end_index", "start_logit", "end_logit"],
)
_NBest = collections.namedtuple(
    "NbestPrediction", ["text", "start_logit", "end_logit"]
)


def write_json(obj, path):
    tf.io.gfile.makedirs(os.path.dirname(path))
    with tf.io.gfile.GFile(path, "w") as f:
        json.dump(obj, f, indent=2)


def load_json(path):
    with tf.io.gfile.GFile(path, "r") as f:
        return json.load(f)


def nbest_file(config, task_name):
    """`<tasks>_qa/<task>_nbest.json`, beside the predictions file."""
    directory = os.path.dirname(config.qa_preds_file(task_name))
    return os.path.join(directory, task_name + "_nbest.json")


def _get_best_indexes(logits, n_best_size):
    """Indices of the `n_best_size` largest logits, best first."""
    ranked = sorted(enumerate(logits), key=lambda x: x[1], reverse=True)
    return [i for i, _ in ranked[:n_best_size]]


def _compute_softmax(scores):
    if not scores:
        return []
    scores = np.asarray(scores, np.float64)
    exp = np.exp(scores - np.max(scores))
    return list(exp / np.sum(exp))


def _strip_spaces(text):
    ns_chars = []
    ns_to_s_map = {}
    for i, c in enumerate(text):
        if c == " ":
            continue
        ns_to_s_map[len(ns_chars)] = i
        ns_chars.append(c)
    return "".join(ns_chars), ns_to_s_map


def get_final_text(pred_text, orig_text, do_lower_case, verbose=False):
    """Maps the normalised predicted text back onto the original words.

    Falls back to `orig_text` whenever the character alignment fails.

    Example:
      >>> get_final_text("steve smith", "Steve Smith's", do_lower_case=True)
      'Steve Smith'
    """
    basic = tokenization.BasicTokenizer(do_lower_case=do_lower_case)
    tok_text = " ".join(basic.tokenize(orig_text))
    start_position = tok_text.find(pred_text)
    if start_position == -1:
        if verbose:
            logger.info("Unable to find text %r in %r", pred_text, orig_text)
        return orig_text
    end_position = start_position + len(pred_text) - 1

    orig_ns_text, orig_ns_to_s_map = _strip_spaces(orig_text)
    tok_ns_text, tok_ns_to_s_map = _strip_spaces(tok_text)
    if len(orig_ns_text) != len(tok_ns_text):
        if verbose:
            logger.info(
                "Lengths differ without spaces: %r vs %r",
                orig_ns_text,
                tok_ns_text,
            )
        return orig_text
    tok_s_to_ns_map = {s: ns for ns, s in tok_ns_to_s_map.items()}

    def to_orig(position):
        ns = tok_s_to_ns_map.get(position)
        return None if ns is None else orig_ns_to_s_map.get(ns)

    orig_start, orig_end = to_orig(start_position), to_orig(end_position)
    if orig_start is None or orig_end is None:
        if verbose:
            logger.info("Could not map %r back onto %r", pred_text, orig_text)
        return orig_text
    return orig_text[orig_start : orig_end + 1]


class SpanBasedQAScorer(scorers.Scorer):
    """Decodes and scores SQuAD 1.1 / 2.0 and MRQA predictions.

    `update` takes one feature's outputs (keys of the span head plus `eid`);
    `write_predictions` writes `<task>_preds.json`, `<task>_nbest.json` and,
    for SQuAD 2.0, `<task>_null_odds.json`; `get_results` runs the official
    evaluation and writes `<task>_eval.json`.
    """

    def __init__(self, config, task, split, v2):
        super().__init__()
        self._config = config
        self._task = task
        self._name = task.name
        self._split = split
        self._v2 = v2
        self._all_results = []
        self._eval_examples = task.get_examples(split)

    def update(self, results):
        super().update(results)
        self._all_results.append(
            RawResult(
                unique_id=int(results["eid"]),
                start_logits=np.asarray(results["start_logits"]),
                end_logits=np.asarray(results["end_logits"]),
                answerable_logit=float(results["answerable_logit"]),
                start_top_log_probs=np.asarray(results["start_top_log_probs"]),
                start_top_index=np.asarray(results["start_top_index"]),
                end_top_log_probs=np.asarray(results["end_top_log_probs"]),
                end_top_index=np.asarray(results["end_top_index"]),
            )
        )

    def _candidates(self, features, unique_id_to_result):
        """Valid (feature, start, end) candidates and the null score."""
        config = self._config
        name = self._name
        prelim = []
        score_null = 1000000.0  # large and positive
        for feature_index, feature in enumerate(features):
            eid = feature[name + "_eid"]
            if eid not in unique_id_to_result:
                raise ValueError(
                    f"{name} {self._split}: no model output for feature {eid}; "
                    "the prediction records do not match the examples (a "
                    "stale TFRecord cache?)."
                )
            result = unique_id_to_result[eid]
            if config.joint_prediction:
                start_indexes = result.start_top_index
            else:
                n_best = config.n_best_size
                start_indexes = _get_best_indexes(result.start_logits, n_best)
                end_indexes = _get_best_indexes(result.end_logits, n_best)
            if self._v2:
                if config.answerable_classifier:
                    feature_null_score = result.answerable_logit
                else:
                    feature_null_score = (
                        result.start_logits[0] + result.end_logits[0]
                    )
                score_null = min(score_null, feature_null_score)
            n_tokens = len(feature[name + "_tokens"])
            max_length = config.max_answer_length
            token_to_orig_map = feature[name + "_token_to_orig_map"]
            is_max_context = feature[name + "_token_is_max_context"]
            for i, start_index in enumerate(start_indexes):
                start_index = int(start_index)
                if config.joint_prediction:
                    end_indexes = result.end_top_index[i]
                for j, end_index in enumerate(end_indexes):
                    end_index = int(end_index)
                    if (
                        start_index >= n_tokens
                        or end_index >= n_tokens
                        or start_index == 0
                        or start_index not in token_to_orig_map
                        or end_index not in token_to_orig_map
                        or not is_max_context.get(start_index, False)
                        or end_index < start_index
                        or end_index + 1 - start_index > max_length
                    ):
                        continue
                    if config.joint_prediction:
                        start_logit = result.start_top_log_probs[i]
                        end_logit = result.end_top_log_probs[i, j]
                    else:
                        start_logit = result.start_logits[start_index]
                        end_logit = result.end_logits[end_index]
                    prelim.append(
                        _Prelim(feature_index, start_index, end_index,
                                float(start_logit), float(end_logit))
                    )
        # Deviation from reference: the original adds a dummy candidate in
        # debug mode when none is valid; the "empty" fallback covers that.
        return prelim, score_null

    def _nbest(self, example, features, prelim):
        name = self._name
        prelim = sorted(
            prelim, key=lambda x: x.start_logit + x.end_logit, reverse=True
        )
        seen = set()
        nbest = []
        for pred in prelim:
            if len(nbest) >= self._config.n_best_size:
                break
            feature = features[pred.feature_index]
            tokens = feature[name + "_tokens"]
            tok_tokens = tokens[pred.start_index : pred.end_index + 1]
            orig_start = feature[name + "_token_to_orig_map"][pred.start_index]
            orig_end = feature[name + "_token_to_orig_map"][pred.end_index]
            orig_text = " ".join(example.doc_tokens[orig_start : orig_end + 1])
            tok_text = " ".join(tok_tokens).replace(" ##", "").replace("##", "")
            tok_text = " ".join(tok_text.strip().split())
            config = self._config
            final_text = get_final_text(
                tok_text, orig_text, config.do_lower_case, config.debug
            )
            if final_text in seen:
                continue
            seen.add(final_text)
            nbest.append(_NBest(final_text, pred.start_logit, pred.end_logit))
        if not nbest:
            nbest.append(_NBest("empty", 0.0, 0.0))
        return nbest

    def write_predictions(self):
        """Decodes every example; writes and returns the predictions, the
        null odds (SQuAD 2.0) and the n-best lists."""
        config = self._config
        unique_id_to_result = {r.unique_id: r for r in self._all_results}
        all_predictions = collections.OrderedDict()
        all_nbest = collections.OrderedDict()
        null_odds = collections.OrderedDict()
        for example in self._eval_examples:
            if "squad" in self._name:
                example_id = example.qas_id
            else:
                example_id = example.qid
            features = self._task.featurize(example, False, for_eval=True)
            prelim, score_null = self._candidates(features, unique_id_to_result)
            nbest = self._nbest(example, features, prelim)
            scores = [e.start_logit + e.end_logit for e in nbest]
            probs = _compute_softmax(scores)
            all_nbest[example_id] = [
                {
                    "text": e.text,
                    "probability": float(p),
                    "start_logit": e.start_logit,
                    "end_logit": e.end_logit,
                }
                for e, p in zip(nbest, probs)
            ]
            if not self._v2:
                all_predictions[example_id] = nbest[0].text
                continue
            # Deviation from reference: if every n-best text is empty the
            # original crashes; here the prediction is "" (no answer).
            best = next((e for e in nbest if e.text), _NBest("", 0.0, 0.0))
            if config.answerable_classifier:
                null_odds[example_id] = float(score_null)
            else:
                null_odds[example_id] = float(
                    score_null - best.start_logit - best.end_logit
                )
            all_predictions[example_id] = best.text
        write_json(all_predictions, config.qa_preds_file(self._name))
        write_json(all_nbest, nbest_file(config, self._name))
        if self._v2:
            write_json(null_odds, config.qa_na_file(self._name))
        return all_predictions, null_odds, all_nbest

    def _get_results(self):
        if not self._eval_examples:
            raise ValueError(
                f"{self._name} {self._split}: no examples to score; the "
                "split's data file has no questions."
            )
        preds, null_odds, _ = self.write_predictions()
        if self._v2:
            dataset = load_json(self._task.data_file(self._split))["data"]
            results = squad_eval.squad_v2_evaluate(
                dataset, preds, null_odds, self._config.qa_na_threshold
            )
        elif "squad" in self._name:
            dataset_json = load_json(self._task.data_file(self._split))
            if dataset_json.get("version") != "1.1":
                logger.warning(
                    "SQuAD 1.1 evaluation expects version 1.1, got %s.",
                    dataset_json.get("version"),
                )
            results = squad_eval.squad_v1_evaluate(dataset_json["data"], preds)
        else:
            gold = squad_eval.read_mrqa_answers(
                self._task.data_file(self._split)
            )
            results = squad_eval.mrqa_evaluate(gold, preds, skip_no_answer=True)
        write_json(results, self._config.qa_eval_file(self._name))
        return sorted(results.items())
