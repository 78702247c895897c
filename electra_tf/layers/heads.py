"""Pre-training heads of run_pretraining.py.

`MaskedLMHead` ports `get_token_logits` (scopes `generator_predictions` and,
for Electric, `cloze_predictions`); `DiscriminatorHead` ports
`discriminator_predictions` (dense + activation, then `dense_1` to a logit).
"""

import keras

from electra_tf.layers.activations import get_activation
from electra_tf.layers.dense import Dense, flat_matmul
from electra_tf.layers.embeddings import truncated_normal
from electra_tf.layers.layer_norm import LayerNorm

# Legend: B batch, L sequence length, N predictions, H hidden size,
# E embedding size, V vocab size.


@keras.saving.register_keras_serializable(package="electra_tf")
class MaskedLMHead(keras.layers.Layer):
    """Dense + activation + LayerNorm, then logits against the word table.

    Args:
        input_size: width of the incoming hidden states (H).
        embedding_size: width E of the (tied) word-embedding table.
        vocab_size: V; size of `output_bias`.
        hidden_act: activation of the dense layer.
        initializer_range: stddev of the truncated-normal kernel.

    Call: `hidden` [B, N, H] and `embedding_table` [V, E] -> logits [B, N, V].
    """

    def __init__(
        self,
        input_size,
        embedding_size,
        vocab_size,
        hidden_act="gelu",
        initializer_range=0.02,
        **kwargs,
    ):
        kwargs.setdefault("name", "generator_predictions")
        super().__init__(**kwargs)
        self.input_size = input_size
        self.embedding_size = embedding_size
        self.vocab_size = vocab_size
        self.hidden_act = hidden_act
        self.initializer_range = initializer_range
        self.dense = Dense(
            embedding_size,
            activation=get_activation(hidden_act),
            kernel_initializer=truncated_normal(initializer_range),
            name="dense",
        )
        self.layer_norm = LayerNorm(epsilon=1e-12, name="LayerNorm")

    def build(self, input_shape=None):
        self.dense.build((None, None, self.input_size))
        self.layer_norm.build((None, None, self.embedding_size))
        self.output_bias = self.add_weight(
            name="output_bias", shape=(self.vocab_size,), initializer="zeros"
        )

    def call(self, hidden, embedding_table):
        ops = keras.ops
        x = self.layer_norm(self.dense(hidden))  # [B, N, E]
        table = ops.cast(embedding_table, x.dtype)
        bias = ops.cast(self.output_bias, x.dtype)
        return flat_matmul(x, table, bias, transpose_kernel=True)  # [B, N, V]

    def get_config(self):
        config = super().get_config()
        config.update(
            input_size=self.input_size,
            embedding_size=self.embedding_size,
            vocab_size=self.vocab_size,
            hidden_act=self.hidden_act,
            initializer_range=self.initializer_range,
        )
        return config


@keras.saving.register_keras_serializable(package="electra_tf")
class DiscriminatorHead(keras.layers.Layer):
    """Replaced-token detection: dense + activation, `dense_1` to one logit.

    `dense_1` keeps TF1's default Glorot-uniform kernel, as the original.

    Call: `sequence_output` [B, L, H] -> logits [B, L].
    """

    def __init__(
        self, hidden_size, hidden_act="gelu", initializer_range=0.02, **kwargs
    ):
        kwargs.setdefault("name", "discriminator_predictions")
        super().__init__(**kwargs)
        self.hidden_size = hidden_size
        self.hidden_act = hidden_act
        self.initializer_range = initializer_range
        self.dense = Dense(
            hidden_size,
            activation=get_activation(hidden_act),
            kernel_initializer=truncated_normal(initializer_range),
            name="dense",
        )
        self.dense_1 = Dense(1, name="dense_1")

    def build(self, input_shape=None):
        self.dense.build((None, None, self.hidden_size))
        self.dense_1.build((None, None, self.hidden_size))

    def call(self, sequence_output):
        hidden = self.dense(sequence_output)  # [B, L, H]
        return keras.ops.squeeze(self.dense_1(hidden), axis=-1)  # [B, L]

    def get_config(self):
        config = super().get_config()
        config.update(
            hidden_size=self.hidden_size,
            hidden_act=self.hidden_act,
            initializer_range=self.initializer_range,
        )
        return config
