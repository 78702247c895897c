"""Port of model/modeling.py `attention_layer` plus the attention output block.

Variables mirror the original scopes: `attention/self/{query,key,value}` and
`attention/output/{dense,LayerNorm}`.
"""

import math

import keras

from electra_tf.layers.dense import Dense
from electra_tf.layers.dropout import Dropout
from electra_tf.layers.embeddings import truncated_normal
from electra_tf.layers.layer_norm import LayerNorm

# Legend: B batch, L sequence length (from = to), H hidden size,
# A attention heads, D head size (H / A).


@keras.saving.register_keras_serializable(package="electra_tf")
class SelfAttention(keras.layers.Layer):
    """Multi-head self-attention, output projection, dropout, residual, LN.

    Args:
        hidden_size: width H of inputs and outputs.
        num_attention_heads: A; H must be divisible by it.
        attention_probs_dropout_prob: dropout on the attention probabilities.
        hidden_dropout_prob: dropout on the projected output.
        initializer_range: stddev of the truncated-normal kernels.

    Call: `x` [B, L, H] and `attention_mask` [B, L, L] (1 = may attend)
    -> [B, L, H]. Masked scores get -10000 added, as in the original.
    """

    def __init__(
        self,
        hidden_size,
        num_attention_heads,
        attention_probs_dropout_prob=0.1,
        hidden_dropout_prob=0.1,
        initializer_range=0.02,
        **kwargs,
    ):
        kwargs.setdefault("name", "attention")
        super().__init__(**kwargs)
        if hidden_size % num_attention_heads:
            raise ValueError(
                f"hidden_size {hidden_size} is not a multiple of "
                f"num_attention_heads {num_attention_heads}."
            )
        self.hidden_size = hidden_size
        self.num_attention_heads = num_attention_heads
        self.attention_probs_dropout_prob = attention_probs_dropout_prob
        self.hidden_dropout_prob = hidden_dropout_prob
        self.initializer_range = initializer_range
        self.head_size = hidden_size // num_attention_heads

        def dense(name):
            return Dense(
                hidden_size,
                kernel_initializer=truncated_normal(initializer_range),
                name=name,
            )

        self.query = dense("query")
        self.key = dense("key")
        self.value = dense("value")
        self.output_dense = dense("dense")
        self.output_layer_norm = LayerNorm(epsilon=1e-12, name="LayerNorm")
        self.probs_dropout = Dropout(attention_probs_dropout_prob)
        self.output_dropout = Dropout(hidden_dropout_prob)

    def build(self, input_shape=None):
        shape = (None, None, self.hidden_size)
        with keras.name_scope("self"):
            for layer in (self.query, self.key, self.value):
                layer.build(shape)
        with keras.name_scope("output"):
            self.output_dense.build(shape)
            self.output_layer_norm.build(shape)

    def _split_heads(self, x):
        ops = keras.ops
        batch, length = ops.shape(x)[0], ops.shape(x)[1]
        x = ops.reshape(
            x, (batch, length, self.num_attention_heads, self.head_size)
        )
        return ops.transpose(x, (0, 2, 1, 3))  # [B, A, L, D]

    def call(self, x, attention_mask, training=False):
        ops = keras.ops
        q = self._split_heads(self.query(x))  # [B, A, L, D]
        k = self._split_heads(self.key(x))  # [B, A, L, D]
        v = self._split_heads(self.value(x))  # [B, A, L, D]
        scores = ops.matmul(q, ops.transpose(k, (0, 1, 3, 2)))  # [B, A, L, L]
        scores = scores * (1.0 / math.sqrt(float(self.head_size)))
        mask = ops.cast(attention_mask[:, None], scores.dtype)  # [B, 1, L, L]
        scores = scores + (1.0 - mask) * -10000.0
        probs = ops.softmax(scores, axis=-1)
        probs = self.probs_dropout(probs, training=training)
        context = ops.matmul(probs, v)  # [B, A, L, D]
        context = ops.transpose(context, (0, 2, 1, 3))  # [B, L, A, D]
        batch, length = ops.shape(x)[0], ops.shape(x)[1]
        context = ops.reshape(context, (batch, length, self.hidden_size))
        out = self.output_dropout(self.output_dense(context), training=training)
        return self.output_layer_norm(out + x)  # [B, L, H]

    def get_config(self):
        config = super().get_config()
        config.update(
            hidden_size=self.hidden_size,
            num_attention_heads=self.num_attention_heads,
            attention_probs_dropout_prob=self.attention_probs_dropout_prob,
            hidden_dropout_prob=self.hidden_dropout_prob,
            initializer_range=self.initializer_range,
        )
        return config
