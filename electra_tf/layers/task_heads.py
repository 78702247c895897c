"""Fine-tuning heads of the original tasks, under `task_specific/<task>/`.

Ports the `get_prediction_module` methods of classification_tasks.py
(classification, regression), qa_tasks.py (span extraction with the
joint beam and the answerable classifier) and tagging_tasks.py
(tagging). Every dense keeps TF1's default Glorot-uniform kernel,
zero bias and the original's layer name (`dense`, `qa_hidden`, `dense_1`, ...).
"""

import keras

from electra_tf.layers.activations import get_activation
from electra_tf.layers.dropout import Dropout

# Legend: B batch, L sequence length, H hidden size, C classes, K beam size.

@keras.saving.register_keras_serializable(package="electra_tf")
class ClassificationHead(keras.layers.Layer):
    """`[CLS]` vector -> dropout (training only) -> `dense` -> logits.

    Args:
        hidden_size: H.
        num_labels: C.
        dropout_rate: 0.1 (the original's keep probability 0.9).

    Call: `pooled_output` [B, H] -> logits [B, C].
    """

    def __init__(self, hidden_size, num_labels, dropout_rate=0.1, **kwargs):
        super().__init__(**kwargs)
        self.hidden_size = hidden_size
        self.num_labels = num_labels
        self.dropout_rate = dropout_rate
        self.dropout = Dropout(dropout_rate)
        self.dense = keras.layers.Dense(num_labels, name="dense")

    def build(self, input_shape=None):
        self.dense.build((None, self.hidden_size))

    def call(self, pooled_output, training=False):
        x = self.dropout(pooled_output, training=training)  # [B, H]
        return self.dense(x)  # [B, C]

    def get_config(self):
        config = super().get_config()
        config.update(
            hidden_size=self.hidden_size,
            num_labels=self.num_labels,
            dropout_rate=self.dropout_rate,
        )
        return config


@keras.saving.register_keras_serializable(package="electra_tf")
class RegressionHead(keras.layers.Layer):
    """`[CLS]` vector -> dropout (training only) -> `dense` to one score.

    STS trains it on label / 5 with a squared error.

    Call: `pooled_output` [B, H] -> predictions [B].
    """

    def __init__(self, hidden_size, dropout_rate=0.1, **kwargs):
        super().__init__(**kwargs)
        self.hidden_size = hidden_size
        self.dropout_rate = dropout_rate
        self.dropout = Dropout(dropout_rate)
        self.dense = keras.layers.Dense(1, name="dense")

    def build(self, input_shape=None):
        self.dense.build((None, self.hidden_size))

    def call(self, pooled_output, training=False):
        x = self.dropout(pooled_output, training=training)  # [B, H]
        return keras.ops.squeeze(self.dense(x), -1)  # [B]

    def get_config(self):
        config = super().get_config()
        config.update(
            hidden_size=self.hidden_size, dropout_rate=self.dropout_rate
        )
        return config


@keras.saving.register_keras_serializable(package="electra_tf")
class TaggingHead(keras.layers.Layer):
    """Sequence output gathered at the labelled positions -> `dense`.

    Call: `sequence_output` [B, L, H], `labeled_positions` int [B, L] ->
    logits [B, L, C].
    """

    def __init__(self, hidden_size, num_labels, **kwargs):
        super().__init__(**kwargs)
        self.hidden_size = hidden_size
        self.num_labels = num_labels
        self.dense = keras.layers.Dense(num_labels, name="dense")

    def build(self, input_shape=None):
        self.dense.build((None, None, self.hidden_size))

    def call(self, sequence_output, labeled_positions):
        positions = keras.ops.cast(labeled_positions, "int32")[:, :, None]
        x = keras.ops.take_along_axis(sequence_output, positions, axis=1)
        return self.dense(x)  # [B, L, C]

    def get_config(self):
        config = super().get_config()
        config.update(hidden_size=self.hidden_size, num_labels=self.num_labels)
        return config


def answer_mask(input_mask, segment_ids):
    """Allowed span positions: segment 1 (incl. the last [SEP]) and [CLS]."""
    ops = keras.ops
    mask = ops.cast(input_mask, "float32") * ops.cast(segment_ids, "float32")
    length = ops.shape(mask)[1]
    return mask + ops.one_hot(0, length, dtype="float32")[None, :]  # [B, L]


@keras.saving.register_keras_serializable(package="electra_tf")
class SpanHead(keras.layers.Layer):
    """Start/end logits for extractive QA, as the original's QA head.

    Joint prediction (default): start logits from `dense`; end logits from
    `qa_hidden` (2H -> 512, gelu) and `dense_1` over [start vector; token
    vector], with the gold start when training and each of the `beam_size`
    best starts otherwise (then `end_logits` are zeros and the beam tensors
    are filled). Otherwise `dense_1` gives independent end logits. The
    answerable classifier (`dense_2` 2H -> 512 gelu over [CLS; expected
    start vector], `dense_3` -> 1; or `dense_2` -> 1 on [CLS] alone) gives a
    logit that is high for "no answer".

    Call: `sequence_output` [B, L, H], `input_mask`, `segment_ids` [B, L],
    `start_positions` [B] (used when training) -> dict of `start_logits`,
    `end_logits` [B, L], `answerable_logit` [B], `start_top_log_probs`,
    `start_top_index` [B, K], `end_top_log_probs`, `end_top_index` [B, K, K].
    """

    def __init__(
        self,
        hidden_size,
        beam_size=20,
        joint_prediction=True,
        answerable_classifier=True,
        answerable_uses_start_logits=True,
        hidden_act="gelu",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.hidden_size = hidden_size
        self.beam_size = beam_size
        self.joint_prediction = joint_prediction
        self.answerable_classifier = answerable_classifier
        self.answerable_uses_start_logits = answerable_uses_start_logits
        self.hidden_act = hidden_act
        act = get_activation(hidden_act)
        # Names follow the original's creation order of unnamed dense layers.
        self.dense = keras.layers.Dense(1, name="dense")
        names = iter(["dense_1", "dense_2", "dense_3"])
        self.qa_hidden = None
        if joint_prediction:
            self.qa_hidden = keras.layers.Dense(
                512, activation=act, name="qa_hidden"
            )
        self.end_dense = keras.layers.Dense(1, name=next(names))
        self.answerable_hidden = self.answerable_dense = None
        if answerable_classifier:
            if answerable_uses_start_logits:
                self.answerable_hidden = keras.layers.Dense(
                    512, activation=act, name=next(names)
                )
            self.answerable_dense = keras.layers.Dense(1, name=next(names))

    def build(self, input_shape=None):
        h = self.hidden_size
        self.dense.build((None, None, h))
        if self.joint_prediction:
            self.qa_hidden.build((None, None, 2 * h))
            self.end_dense.build((None, None, 512))
        else:
            self.end_dense.build((None, None, h))
        if self.answerable_hidden is not None:
            self.answerable_hidden.build((None, 2 * h))
            self.answerable_dense.build((None, 512))
        elif self.answerable_dense is not None:
            self.answerable_dense.build((None, h))

    def _end_logits(self, start_features, end_features):
        x = keras.ops.concatenate([start_features, end_features], axis=-1)
        x = self.qa_hidden(x)  # [..., L, 512]
        return keras.ops.squeeze(self.end_dense(x), -1)  # [..., L]

    def call(
        self,
        sequence_output,
        input_mask,
        segment_ids,
        start_positions=None,
        training=False,
    ):
        ops = keras.ops
        h = sequence_output  # [B, L, H]
        batch, length = ops.shape(h)[0], ops.shape(h)[1]
        k = self.beam_size
        allowed = answer_mask(input_mask, segment_ids)  # [B, L]
        mask_bias = 1000.0 * (allowed - 1.0)  # [B, L]
        start_logits = ops.squeeze(self.dense(h), -1)  # [B, L]
        start_logits = ops.cast(start_logits, "float32") + mask_bias
        out = {
            "start_top_log_probs": ops.zeros((batch, k)),
            "start_top_index": ops.zeros((batch, k), "int32"),
            "end_top_log_probs": ops.zeros((batch, k, k)),
            "end_top_index": ops.zeros((batch, k, k), "int32"),
        }
        if self.joint_prediction:
            start_log_probs = ops.log_softmax(start_logits, axis=-1)
            top_lp, top_index = ops.top_k(start_log_probs, k)  # [B, K]
            out["start_top_log_probs"] = top_lp
            out["start_top_index"] = ops.cast(top_index, "int32")
            if training:
                one_hot = ops.one_hot(
                    ops.cast(start_positions, "int32"), length, dtype=h.dtype
                )  # [B, L]
                start_vec = ops.sum(one_hot[:, :, None] * h, axis=1)  # [B, H]
                start_features = ops.repeat(
                    start_vec[:, None, :], length, axis=1
                )  # [B, L, H]
                end_logits = self._end_logits(start_features, h)  # [B, L]
                end_logits = ops.cast(end_logits, "float32") + mask_bias
            else:
                start_vecs = ops.take_along_axis(
                    h, ops.cast(top_index, "int32")[:, :, None], axis=1
                )  # [B, K, H]
                start_features = ops.repeat(
                    start_vecs[:, :, None, :], length, axis=2
                )  # [B, K, L, H]
                end_features = ops.repeat(h[:, None], k, axis=1)  # [B, K, L, H]
                beam_logits = self._end_logits(start_features, end_features)
                beam_logits = ops.cast(beam_logits, "float32")
                beam_logits = beam_logits + mask_bias[:, None]  # [B, K, L]
                end_lp, end_index = ops.top_k(
                    ops.log_softmax(beam_logits, axis=-1), k
                )  # [B, K, K]
                out["end_top_log_probs"] = end_lp
                out["end_top_index"] = ops.cast(end_index, "int32")
                end_logits = ops.zeros((batch, length))
        else:
            end_logits = ops.squeeze(self.end_dense(h), -1)
            end_logits = ops.cast(end_logits, "float32") + mask_bias
        out["start_logits"] = start_logits
        out["end_logits"] = end_logits
        out["answerable_logit"] = self._answerable_logit(h, start_logits, batch)
        return out

    def _answerable_logit(self, h, start_logits, batch):
        ops = keras.ops
        if self.answerable_dense is None:
            return ops.zeros((batch,))
        x = h[:, 0]  # [B, H]
        if self.answerable_hidden is not None:
            start_p = ops.cast(ops.softmax(start_logits, axis=-1), h.dtype)
            start_feature = ops.sum(start_p[:, :, None] * h, axis=1)  # [B, H]
            x = self.answerable_hidden(ops.concatenate([x, start_feature], -1))
        logit = ops.squeeze(self.answerable_dense(x), -1)
        return ops.cast(logit, "float32")  # [B]

    def get_config(self):
        config = super().get_config()
        config.update(
            hidden_size=self.hidden_size,
            beam_size=self.beam_size,
            joint_prediction=self.joint_prediction,
            answerable_classifier=self.answerable_classifier,
            answerable_uses_start_logits=self.answerable_uses_start_logits,
            hidden_act=self.hidden_act,
        )
        return config
