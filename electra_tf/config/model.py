"""The transformer config (`BertConfig`) and the model sizes.

Port of model/modeling.py `BertConfig`, util/training_utils.py
`get_bert_config` and run_pretraining.py `get_generator_config`.
"""

import dataclasses
from typing import Optional

from electra_tf.config.hparams import Config, HparamError, check_keys
from electra_tf.hparam_ranges import check_values, field_types

# Transformer shape per model size: (hidden_size, num_hidden_layers).
MODEL_SIZES = {"small": (256, 12), "base": (768, 12), "large": (1024, 24)}

# Debug mode shrinks the discriminator to this (run_pretraining.py:
# `PretrainingModel.__init__`, run_finetuning.py: `FinetuningModel.__init__`).
DEBUG_MODEL = dict(
    num_hidden_layers=3,
    hidden_size=144,
    intermediate_size=576,
    num_attention_heads=4,
)


@dataclasses.dataclass(frozen=True)
class ModelConfig(Config):
    """The original `BertConfig` fields and defaults, plus `embedding_size`.

    `embedding_size` None means "same as hidden_size", as in the original.
    An original `bert_config.json` loads with `ModelConfig.from_json`.
    """

    vocab_size: int
    hidden_size: int = 768
    num_hidden_layers: int = 12
    num_attention_heads: int = 12
    intermediate_size: int = 3072
    hidden_act: str = "gelu"
    hidden_dropout_prob: float = 0.1
    attention_probs_dropout_prob: float = 0.1
    max_position_embeddings: int = 512
    type_vocab_size: int = 2
    initializer_range: float = 0.02
    embedding_size: Optional[int] = None

    _where = "ModelConfig."

    def __post_init__(self):
        super().__post_init__()
        if self.hidden_size % self.num_attention_heads:
            raise HparamError(
                f"hidden_size {self.hidden_size} is not a multiple of "
                f"num_attention_heads {self.num_attention_heads}."
            )

    @property
    def embedding_width(self):
        return self.embedding_size or self.hidden_size


def get_bert_config(
    model_size, vocab_size, overrides=None, embedding_size=None, debug=False
):
    """The discriminator config for a model size, as `get_bert_config` does.

    Heads and intermediate size are re-derived from the (possibly overridden)
    hidden size, then the overrides are applied again so explicit values win.

    Example:
      >>> c = get_bert_config("base", 30522, {"hidden_size": 512})
      >>> c.hidden_size, c.num_attention_heads, c.intermediate_size
      (512, 8, 2048)
    """
    check_values({"model_size": str}, {"model_size": model_size})
    overrides = dict(overrides or {})
    check_keys(ModelConfig, overrides, where="model_hparam_overrides")
    check_values(
        field_types(ModelConfig), overrides, where="model_hparam_overrides."
    )
    hidden, layers = MODEL_SIZES[model_size]
    values = dict(hidden_size=hidden, num_hidden_layers=layers)
    values["vocab_size"] = vocab_size
    values.update(overrides)
    values["num_attention_heads"] = max(1, values["hidden_size"] // 64)
    values["intermediate_size"] = 4 * values["hidden_size"]
    values.update(overrides)
    if debug:
        values.update(DEBUG_MODEL)
    values.setdefault("embedding_size", embedding_size)
    return ModelConfig(**values)


def get_generator_config(disc_config, hidden_fraction, layers_fraction):
    """The generator config: a fraction of the discriminator's width/depth.

    Python's `round` (half to even) as in the original.

    Example:
      >>> disc = get_bert_config("base", 30522)
      >>> gen = get_generator_config(disc, 1 / 3, 1.0)
      >>> gen.hidden_size, gen.num_attention_heads, gen.num_hidden_layers
      (256, 4, 12)
    """
    hidden = int(round(disc_config.hidden_size * hidden_fraction))
    return dataclasses.replace(
        disc_config,
        hidden_size=hidden,
        num_hidden_layers=int(
            round(disc_config.num_hidden_layers * layers_fraction)
        ),
        intermediate_size=4 * hidden,
        num_attention_heads=max(1, hidden // 64),
    )
