"""Port of model/modeling.py `BertModel`: the ELECTRA transformer encoder.

Embeddings (possibly shared) -> optional `embeddings_project` (E -> H, Glorot
uniform, no activation) -> `encoder/layer_<i>` blocks. There is no pooler:
`pooled_output` is the first token's vector, as in the original. Variables
are created at construction under the model's name, so their `.path`s are the
original checkpoint names (`electra/encoder/layer_0/attention/self/query/kernel`).
"""

import keras

from electra_tf.config import ModelConfig
from electra_tf.layers.dense import Dense
from electra_tf.layers.embeddings import Embeddings
from electra_tf.layers.transformer import TransformerLayer
from electra_tf.models.pretrained import PretrainedMixin

# Legend: B batch, L sequence length, E embedding size, H hidden size.

CAUSAL_DIRECTIONS = (None, "ltr", "rtl")


def as_model_config(config):
    return config if isinstance(config, ModelConfig) else ModelConfig(**config)


def make_embeddings(config):
    """The `embeddings` block for a transformer config."""
    return Embeddings(
        vocab_size=config.vocab_size,
        embedding_size=config.embedding_width,
        max_position_embeddings=config.max_position_embeddings,
        type_vocab_size=config.type_vocab_size,
        initializer_range=config.initializer_range,
        dropout_rate=config.hidden_dropout_prob,
        name="embeddings",
    )


def attention_mask_from_input_mask(input_mask, causal=None):
    """[B, L] padding mask -> [B, L, L]: query i may attend key j.

    Padding is masked as a key only; `ltr` keeps j <= i, `rtl` keeps j >= i
    (Electric's two-tower generator).
    """
    ops = keras.ops
    input_mask = ops.cast(input_mask, "float32")
    length = ops.shape(input_mask)[1]
    mask = ops.ones_like(input_mask)[:, :, None] * input_mask[:, None, :]
    if causal is not None:
        tri = ops.tril(ops.ones((length, length), "float32"))
        mask = mask * (tri if causal == "ltr" else ops.transpose(tri))
    return mask  # [B, L, L]


@keras.saving.register_keras_serializable(package="electra_tf")
class Encoder(PretrainedMixin, keras.Model):
    """The ELECTRA/BERT encoder; `from_pretrained` reads the discriminator's
    of a pre-training checkpoint.

    Args:
        config: a `ModelConfig` (or its dict).
        embeddings: an `Embeddings` layer to share (the original shares
            `electra/embeddings` between generator and discriminator); when
            None the encoder owns one under `<name>/embeddings`. A shared
            layer is not part of `get_config`.
        causal: None, "ltr" or "rtl" attention (Electric's generator towers).

    Call: dict of `input_ids`, `input_mask`, `segment_ids` int [B, L] ->
    dict of `embedding_output` [B, L, H], `sequence_output` [B, L, H],
    `pooled_output` [B, H], `all_layer_outputs` (list of [B, L, H]).

    Example:
        >>> cfg = ModelConfig(vocab_size=99, hidden_size=16,
        ...     num_hidden_layers=1, num_attention_heads=2,
        ...     intermediate_size=32)
        >>> enc = Encoder(cfg)
        >>> ids = keras.ops.ones((2, 5), "int32")
        >>> enc({"input_ids": ids, "input_mask": ids,
        ...      "segment_ids": 0 * ids})["sequence_output"].shape
        TensorShape([2, 5, 16])
    """

    _checkpoint_loader = "load_encoder"

    def __init__(self, config, embeddings=None, causal=None, **kwargs):
        kwargs.setdefault("name", "electra")
        super().__init__(**kwargs)
        if causal not in CAUSAL_DIRECTIONS:
            raise ValueError(f"causal must be one of {CAUSAL_DIRECTIONS}.")
        self.config = as_model_config(config)
        self.causal = causal
        cfg = self.config
        self.embeddings = embeddings or make_embeddings(cfg)
        if self.embeddings.embedding_size != cfg.hidden_size:
            self.embeddings_project = Dense(
                cfg.hidden_size, name="embeddings_project"
            )
        else:
            self.embeddings_project = None
        # Named attributes, not a list: tf.train.Checkpoint does not follow
        # Keras 3's tracked lists, so listed layers would not be saved.
        for i in range(cfg.num_hidden_layers):
            layer = TransformerLayer(
                hidden_size=cfg.hidden_size,
                num_attention_heads=cfg.num_attention_heads,
                intermediate_size=cfg.intermediate_size,
                hidden_act=cfg.hidden_act,
                hidden_dropout_prob=cfg.hidden_dropout_prob,
                attention_probs_dropout_prob=cfg.attention_probs_dropout_prob,
                initializer_range=cfg.initializer_range,
                name=f"layer_{i}",
            )
            setattr(self, f"layer_{i}", layer)
        self.build()

    def build(self, input_shape=None):
        if not self.embeddings.built:
            self.embeddings.build()
        if self.embeddings_project is not None:
            self.embeddings_project.build(
                (None, None, self.embeddings.embedding_size)
            )
        with keras.name_scope("encoder"):
            for layer in self.encoder_layers:
                layer.build((None, None, self.config.hidden_size))

    @property
    def encoder_layers(self):
        return [
            getattr(self, f"layer_{i}")
            for i in range(self.config.num_hidden_layers)
        ]

    @property
    def embedding_table(self):
        """The word-embedding variable [V, E] (tied to the MLM output)."""
        return self.embeddings.word_embeddings

    def call(self, inputs, training=False):
        x = self.embeddings(
            inputs["input_ids"], inputs["segment_ids"], training=training
        )  # [B, L, E]
        if self.embeddings_project is not None:
            x = self.embeddings_project(x)  # [B, L, H]
        embedding_output = x
        mask = attention_mask_from_input_mask(inputs["input_mask"], self.causal)
        all_layer_outputs = []
        for layer in self.encoder_layers:
            x = layer(x, mask, training=training)
            all_layer_outputs.append(x)
        return {
            "embedding_output": embedding_output,
            "sequence_output": x,
            "pooled_output": x[:, 0],
            "all_layer_outputs": all_layer_outputs,
        }

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "config": self.config.to_dict(),
            "causal": self.causal,
        }
