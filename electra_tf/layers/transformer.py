"""Port of one post-LN block of model/modeling.py `transformer_model`.

attention -> intermediate dense with `hidden_act` -> output dense, dropout,
residual, LayerNorm; variables under `layer_<i>/{attention,intermediate,output}`.
"""

import keras

from electra_tf.layers.activations import get_activation
from electra_tf.layers.attention import SelfAttention
from electra_tf.layers.dense import Dense
from electra_tf.layers.dropout import Dropout
from electra_tf.layers.embeddings import truncated_normal
from electra_tf.layers.layer_norm import LayerNorm

# Legend: B batch, L sequence length, H hidden size, I intermediate size.


@keras.saving.register_keras_serializable(package="electra_tf")
class TransformerLayer(keras.layers.Layer):
    """One BERT/ELECTRA encoder block.

    Args:
        hidden_size, num_attention_heads, intermediate_size, hidden_act,
        hidden_dropout_prob, attention_probs_dropout_prob, initializer_range:
        the `BertConfig` fields of the same names.

    Call: `x` [B, L, H], `attention_mask` [B, L, L] -> [B, L, H].
    """

    def __init__(
        self,
        hidden_size,
        num_attention_heads,
        intermediate_size,
        hidden_act="gelu",
        hidden_dropout_prob=0.1,
        attention_probs_dropout_prob=0.1,
        initializer_range=0.02,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.hidden_size = hidden_size
        self.num_attention_heads = num_attention_heads
        self.intermediate_size = intermediate_size
        self.hidden_act = hidden_act
        self.hidden_dropout_prob = hidden_dropout_prob
        self.attention_probs_dropout_prob = attention_probs_dropout_prob
        self.initializer_range = initializer_range
        self.attention = SelfAttention(
            hidden_size,
            num_attention_heads,
            attention_probs_dropout_prob,
            hidden_dropout_prob,
            initializer_range,
            name="attention",
        )
        init = truncated_normal(initializer_range)
        self.intermediate_dense = Dense(
            intermediate_size,
            activation=get_activation(hidden_act),
            kernel_initializer=init,
            name="dense",
        )
        self.output_dense = Dense(
            hidden_size, kernel_initializer=init, name="dense"
        )
        self.output_layer_norm = LayerNorm(epsilon=1e-12, name="LayerNorm")
        self.output_dropout = Dropout(hidden_dropout_prob)

    def build(self, input_shape=None):
        self.attention.build((None, None, self.hidden_size))
        with keras.name_scope("intermediate"):
            self.intermediate_dense.build((None, None, self.hidden_size))
        with keras.name_scope("output"):
            self.output_dense.build((None, None, self.intermediate_size))
            self.output_layer_norm.build((None, None, self.hidden_size))

    def call(self, x, attention_mask, training=False):
        attention_output = self.attention(x, attention_mask, training=training)
        inner = self.intermediate_dense(attention_output)  # [B, L, I]
        out = self.output_dropout(self.output_dense(inner), training=training)
        return self.output_layer_norm(out + attention_output)  # [B, L, H]

    def get_config(self):
        config = super().get_config()
        config.update(
            hidden_size=self.hidden_size,
            num_attention_heads=self.num_attention_heads,
            intermediate_size=self.intermediate_size,
            hidden_act=self.hidden_act,
            hidden_dropout_prob=self.hidden_dropout_prob,
            attention_probs_dropout_prob=self.attention_probs_dropout_prob,
            initializer_range=self.initializer_range,
        )
        return config
