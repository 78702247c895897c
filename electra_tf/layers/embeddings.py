"""Port of model/modeling.py `embedding_lookup` + `embedding_postprocessor`.

Word, token-type and position tables, LayerNorm (epsilon 1e-12) and dropout.
One instance is shared by generator and discriminator in the original
(`electra/embeddings/*`), so the word table is exposed for the tied MLM head.
"""

import keras

from electra_tf.layers.dropout import Dropout
from electra_tf.layers.layer_norm import LayerNorm

# Legend: B batch, L sequence length, E embedding size, V vocab size.


def truncated_normal(stddev):
    """TF1 `truncated_normal_initializer`: redraws beyond two stddevs."""
    return keras.initializers.TruncatedNormal(stddev=stddev)


@keras.saving.register_keras_serializable(package="electra_tf")
class Embeddings(keras.layers.Layer):
    """Token + segment + position embeddings, normalised, with dropout.

    Args:
        vocab_size: rows of the word table.
        embedding_size: width E of every table.
        max_position_embeddings: rows of the position table.
        type_vocab_size: rows of the token-type table.
        initializer_range: stddev of the truncated-normal initializer.
        dropout_rate: `hidden_dropout_prob`.

    Call: `input_ids`, `segment_ids` int [B, L] -> float [B, L, E].
    """

    def __init__(
        self,
        vocab_size,
        embedding_size,
        max_position_embeddings=512,
        type_vocab_size=2,
        initializer_range=0.02,
        dropout_rate=0.1,
        **kwargs,
    ):
        kwargs.setdefault("name", "embeddings")
        super().__init__(**kwargs)
        self.vocab_size = vocab_size
        self.embedding_size = embedding_size
        self.max_position_embeddings = max_position_embeddings
        self.type_vocab_size = type_vocab_size
        self.initializer_range = initializer_range
        self.dropout_rate = dropout_rate
        self.layer_norm = LayerNorm(epsilon=1e-12, name="LayerNorm")
        self.dropout = Dropout(dropout_rate)

    def build(self, input_shape=None):
        init = truncated_normal(self.initializer_range)
        self.word_embeddings = self.add_weight(
            name="word_embeddings",
            shape=(self.vocab_size, self.embedding_size),
            initializer=init,
        )
        self.token_type_embeddings = self.add_weight(
            name="token_type_embeddings",
            shape=(self.type_vocab_size, self.embedding_size),
            initializer=init,
        )
        self.position_embeddings = self.add_weight(
            name="position_embeddings",
            shape=(self.max_position_embeddings, self.embedding_size),
            initializer=init,
        )
        self.layer_norm.build((None, None, self.embedding_size))

    def call(self, input_ids, segment_ids, training=False):
        ops = keras.ops
        length = ops.shape(input_ids)[1]
        if isinstance(length, int) and length > self.max_position_embeddings:
            raise ValueError(
                f"Sequence length {length} exceeds max_position_embeddings "
                f"{self.max_position_embeddings}; shorten the inputs "
                "(max_seq_length) or use a model with more positions."
            )
        x = ops.take(self.word_embeddings, input_ids, axis=0)  # [B, L, E]
        x = x + ops.take(self.token_type_embeddings, segment_ids, axis=0)
        x = x + self.position_embeddings[None, :length]  # [B, L, E]
        x = self.layer_norm(x)
        return self.dropout(x, training=training)

    def get_config(self):
        config = super().get_config()
        config.update(
            vocab_size=self.vocab_size,
            embedding_size=self.embedding_size,
            max_position_embeddings=self.max_position_embeddings,
            type_vocab_size=self.type_vocab_size,
            initializer_range=self.initializer_range,
            dropout_rate=self.dropout_rate,
        )
        return config
