"""The losses of ELECTRA pre-training (run_pretraining.py: PretrainingModel):
the generator's masked-LM (or Electric's cloze) loss and the discriminator's
replaced-token-detection loss. Logits come in float32.

Example (a uniform generator's loss is log V):
    >>> logits = tf.zeros([1, 2, 4])
    >>> out = softmax_output(logits, tf.constant([[1, 3]]), tf.ones([1, 2]))
    >>> round(float(out["loss"]), 4) == round(math.log(4), 4)
    True
"""

import math

import tensorflow as tf

from electra_tf.models import masking

# Legend: B batch, L sequence length, N predictions, V vocab size.


def softmax_output(logits, targets, weights):
    """Port of `get_softmax_output`: weighted mean of -log p(target).

    Returns dict of `loss` (Σ w·nll / (Σ w + 1e-6) over the batch),
    `per_example_loss` (the nll per slot, as the original names it) and
    `preds` (argmax ids).
    """
    # -log softmax(logits)[target] as one kernel that also gives its
    # gradient: no [B, N, V] log-probabilities to gather from and scatter back.
    nll = tf.nn.sparse_softmax_cross_entropy_with_logits(
        labels=targets, logits=logits
    )  # [B, N]
    loss = tf.reduce_sum(weights * nll) / (tf.reduce_sum(weights) + 1e-6)
    preds = tf.argmax(logits, axis=-1, output_type=tf.int32)
    return {"loss": loss, "per_example_loss": nll, "preds": preds}


def cloze_output(cloze_logits, inputs, special_ids):
    """Electric's cloze loss: every maskable position [B, L] scored against
    its original id (run_pretraining.py: PretrainingModel, two towers)."""
    weights = masking.candidates_mask(
        inputs["input_ids"], inputs["input_mask"], special_ids
    )  # [B, L]
    return softmax_output(
        cloze_logits, inputs["input_ids"], tf.cast(weights, tf.float32)
    )


def electric_logits(logits, cloze_logits, fake_ids, mask_prob):
    """Electric's NCE logits [B, L]: the discriminator's plus log q of the
    fake ids under the cloze model (no gradient) plus the prior log-odds of
    a replacement (run_pretraining.py: `_get_discriminator_output`)."""
    log_q = tf.gather(
        tf.nn.log_softmax(cloze_logits), fake_ids, batch_dims=2
    )  # [B, L]
    logits += tf.stop_gradient(log_q)
    return logits + math.log(mask_prob / (1.0 - mask_prob))


def discriminator_output(logits, labels, input_mask):
    """Port of `_get_discriminator_output`: sigmoid cross-entropy of the
    logits [B, L] against the replaced labels [B, L] over real tokens."""
    weights = tf.cast(input_mask, tf.float32)
    losses = weights * tf.nn.sigmoid_cross_entropy_with_logits(
        labels=tf.cast(labels, tf.float32), logits=logits
    )  # [B, L]
    per_example = tf.reduce_sum(losses, -1) / (
        1e-6 + tf.reduce_sum(weights, -1)
    )
    return {
        "loss": tf.reduce_sum(losses) / (1e-6 + tf.reduce_sum(weights)),
        "per_example_loss": per_example,  # [B]
        "probs": tf.sigmoid(logits),
        # round((sign(logit) + 1) / 2): 1 iff the logit is positive
        "preds": tf.cast(logits > 0, tf.int32),
        "labels": labels,
    }
