"""The pre-training eval metrics, streamed over batches in NumPy.

Port of run_pretraining.py `metric_fn` (TF1 streaming metrics): masked-LM
accuracy and loss, sampled-token accuracy, discriminator loss, AUC
(`tf.metrics.auc`: ROC, 200 thresholds, trapezoidal), accuracy, precision and
recall (run_pretraining.py: PretrainingModel.__init__, eval_metrics). As the
original, `disc_auc` counts padding positions as negatives scored 0.
"""

import numpy as np

# tf.metrics.auc constants.
_THRESHOLD_EPSILON = 1e-7
_RATE_EPSILON = 1e-6


def auc_thresholds(num_thresholds=200):
    """TF1's thresholds: 0 - eps, i / (n - 1) for i = 1..n-2, 1 + eps.

    >>> auc_thresholds(5).tolist()  # doctest: +ELLIPSIS
    [-1.0000000116860974e-07, 0.25, 0.5, 0.75, 1.000000...]
    """
    inner = [(i + 1) / (num_thresholds - 1) for i in range(num_thresholds - 2)]
    return np.array(
        [-_THRESHOLD_EPSILON] + inner + [1.0 + _THRESHOLD_EPSILON], np.float32
    )


class _Mean:
    """tf.metrics.mean / accuracy: Σ w·v / Σ w, 0 when Σ w = 0."""

    def __init__(self):
        self.total = 0.0
        self.count = 0.0

    def update(self, values, weights=None):
        values = np.asarray(values, np.float64).ravel()
        if weights is None:
            weights = np.ones_like(values)
        weights = np.asarray(weights, np.float64).ravel()
        self.total += float(np.sum(values * weights))
        self.count += float(np.sum(weights))

    def result(self):
        return self.total / self.count if self.count else 0.0


class _Auc:
    """tf.metrics.auc(curve="ROC", summation_method="trapezoidal")."""

    def __init__(self, num_thresholds=200):
        self.thresholds = auc_thresholds(num_thresholds)
        self.tp = np.zeros(num_thresholds)
        self.fn = np.zeros(num_thresholds)
        self.tn = np.zeros(num_thresholds)
        self.fp = np.zeros(num_thresholds)

    def update(self, labels, predictions):
        labels = np.asarray(labels).ravel().astype(bool)
        predictions = np.asarray(predictions, np.float32).ravel()
        for positive, above, below in (
            (True, self.tp, self.fn),
            (False, self.fp, self.tn),
        ):
            scores = np.sort(predictions[labels == positive])
            # count of scores > threshold, per threshold
            greater = len(scores) - np.searchsorted(
                scores, self.thresholds, side="right"
            )
            above += greater
            below += len(scores) - greater

    def result(self):
        e = _RATE_EPSILON
        recall = (self.tp + e) / (self.tp + self.fn + e)
        fp_rate = self.fp / (self.fp + self.tn + e)
        return float(
            np.sum((fp_rate[:-1] - fp_rate[1:]) * (recall[:-1] + recall[1:]) / 2)
        )


class PretrainingMetrics:
    """Accumulates the original's eval metrics over batches.

    Args:
        has_discriminator: ELECTRA or Electric (else masked-LM only).
        disc_weight: the discriminator metrics exist only if it is > 0.

    `update(outputs)` takes the NumPy values of one batch of
    `ElectraPretrainer.compute_losses`; `result()` returns the metric dict
    with the original's keys.

    >>> metrics = PretrainingMetrics(has_discriminator=False, disc_weight=1)
    >>> metrics.update({
    ...     "total_loss": 2.0,
    ...     "masked_lm_ids": np.array([[5, 6]]),
    ...     "masked_lm_weights": np.array([[1.0, 0.0]]),  # slot 2 is padding
    ...     "masked_lm_preds": np.array([[5, 7]]),
    ...     "mlm_loss": np.array([[0.5, 9.0]]),
    ... })
    >>> metrics.result()
    {'loss': 2.0, 'masked_lm_accuracy': 1.0, 'masked_lm_loss': 0.5}
    """

    def __init__(self, has_discriminator, disc_weight):
        self.has_discriminator = has_discriminator
        self.disc_metrics = has_discriminator and disc_weight > 0
        self.means = {
            k: _Mean()
            for k in (
                "loss",
                "masked_lm_accuracy",
                "masked_lm_loss",
                "sampled_masked_lm_accuracy",
                "disc_loss",
                "disc_accuracy",
                "disc_precision",
                "disc_recall",
            )
        }
        self.auc = _Auc()

    def update(self, outputs):
        m = self.means
        m["loss"].update(outputs["total_loss"])
        ids = outputs["masked_lm_ids"]
        weights = outputs["masked_lm_weights"]
        m["masked_lm_accuracy"].update(
            outputs["masked_lm_preds"] == ids, weights
        )
        m["masked_lm_loss"].update(outputs["mlm_loss"], weights)
        if not self.has_discriminator:
            return
        m["sampled_masked_lm_accuracy"].update(
            outputs["sampled_tokids"] == ids, weights
        )
        if not self.disc_metrics:
            return
        labels, preds = outputs["disc_labels"], outputs["disc_preds"]
        input_mask = outputs["input_mask"]
        correct = labels == preds
        m["disc_loss"].update(outputs["disc_loss"])
        self.auc.update(labels * input_mask, outputs["disc_probs"] * input_mask)
        m["disc_accuracy"].update(correct, input_mask)
        m["disc_precision"].update(correct, preds * input_mask)
        m["disc_recall"].update(correct, labels * input_mask)

    def result(self):
        keys = ["loss", "masked_lm_accuracy", "masked_lm_loss"]
        if self.has_discriminator:
            keys.append("sampled_masked_lm_accuracy")
        if self.disc_metrics:
            keys += ["disc_loss", "disc_accuracy", "disc_precision"]
            keys.append("disc_recall")
        results = {k: self.means[k].result() for k in keys}
        if self.disc_metrics:
            results["disc_auc"] = self.auc.result()
        return results
