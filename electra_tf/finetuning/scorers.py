"""Classification, regression and tagging metrics in pure Python / NumPy.

Port of finetune/scorer.py, finetune/classification/classification_metrics.py
and finetune/tagging/tagging_metrics.py. MCC, Pearson and Spearman are
written here rather than imported from scikit-learn / SciPy (which the
original needs). The SQuAD / MRQA evaluation is in squad_eval.py.
"""

import logging
import math

import numpy as np

logger = logging.getLogger(__name__)


# ----------------------------------------------------------------------------
# Plain metric functions.


def accuracy(y_true, y_pred):
    """100 x the fraction of exact matches.

    Example:
      >>> accuracy([1, 0, 1, 1], [1, 1, 1, 1])
      75.0
    """
    _check_same_length(y_true, y_pred)
    correct = sum(1 for t, p in zip(y_true, y_pred) if t == p)
    return 100.0 * correct / len(y_true)


def matthews_corrcoef(y_true, y_pred):
    """Matthews correlation (multi-class, as scikit-learn); 0 if undefined.

    Example:
      >>> round(matthews_corrcoef([1, 1, 0, 0], [1, 0, 0, 0]), 4)
      0.5774
    """
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
    """Spearman correlation: Pearson of average ranks.

    Example:
      >>> round(spearman([1, 2, 3, 4], [10, 20, 40, 30]), 4)
      0.8
    """
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
