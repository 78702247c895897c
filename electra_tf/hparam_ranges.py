"""The accepted type and range of every hyperparameter, as data.

Each config field's type comes from its dataclass annotation (int, float,
bool, str, list, dict, each possibly Optional); `RANGES` adds the values a
field accepts. `check_values` holds a dict of values against both and raises
one `ConfigError` that names the key, the value, its type and what is
accepted. Strings are never converted to numbers or booleans: "1e-3" for
`learning_rate` is an error, not 0.001.

>>> check_values({"learning_rate": float}, {"learning_rate": 1e-3})
>>> check_values({"learning_rate": float}, {"learning_rate": -1})
Traceback (most recent call last):
...
electra_tf.errors.ConfigError: hparam learning_rate = -1 is not accepted; use a number > 0.
"""

import dataclasses
import typing

from electra_tf.errors import ConfigError


@dataclasses.dataclass(frozen=True)
class Domain:
    """The values a field accepts: a test and the words that describe it."""

    accepts: typing.Callable
    text: str


def one_of(*choices):
    return Domain(lambda v: v in choices, "one of " + ", ".join(choices))


POSITIVE = Domain(lambda v: v > 0, "> 0")
AT_LEAST_0 = Domain(lambda v: v >= 0, ">= 0")
AT_LEAST_1 = Domain(lambda v: v >= 1, ">= 1")
PROBABILITY = Domain(lambda v: 0 <= v <= 1, "in [0, 1]")
DROPOUT = Domain(lambda v: 0 <= v < 1, "in [0, 1)")
MASK_PROB = Domain(lambda v: 0 < v < 1, "in (0, 1)")
PRETRAIN_LENGTH = Domain(lambda v: v >= 5, ">= 5")
FINETUNE_LENGTH = Domain(lambda v: 3 <= v <= 512, "in [3, 512]")
TRIALS = Domain(lambda v: v == -1 or v >= 1, "-1 (run until stopped) or >= 1")

MODEL_SIZES = ("small", "base", "large")
# "auto": mixed_bfloat16 on a CPU with AMX, else float32 (resolved at run
# start by training/distribution.py: resolve_precision).
MIXED_PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16", "auto")
DISTRIBUTION_STRATEGIES = ("auto", "default", "mirrored", "multi_worker", "tpu")
ACTIVATIONS = ("gelu", "relu", "tanh", "linear")

# Accepted values beyond the type; a field not listed accepts any value of
# its type (names, paths, flags, `seed`, `qa_na_threshold`).
RANGES = {
    # ModelConfig (model/modeling.py: BertConfig)
    "vocab_size": AT_LEAST_1,
    "hidden_size": AT_LEAST_1,
    "num_hidden_layers": AT_LEAST_1,
    "num_attention_heads": AT_LEAST_1,
    "intermediate_size": AT_LEAST_1,
    "hidden_act": Domain(
        lambda v: v.lower() in ACTIVATIONS, "one of " + ", ".join(ACTIVATIONS)
    ),
    "hidden_dropout_prob": DROPOUT,
    "attention_probs_dropout_prob": DROPOUT,
    "max_position_embeddings": AT_LEAST_1,
    "type_vocab_size": AT_LEAST_1,
    "initializer_range": AT_LEAST_0,
    "embedding_size": AT_LEAST_1,
    # both run configs
    "model_size": one_of(*MODEL_SIZES),
    "num_tpu_cores": AT_LEAST_1,
    "distribution_strategy": one_of(*DISTRIBUTION_STRATEGIES),
    "mixed_precision": one_of(*MIXED_PRECISIONS),
    "learning_rate": POSITIVE,
    "weight_decay_rate": AT_LEAST_0,
    "iterations_per_loop": AT_LEAST_1,
    "save_checkpoints_steps": AT_LEAST_1,
    "train_batch_size": AT_LEAST_1,
    "eval_batch_size": AT_LEAST_1,
    # PretrainingConfig (configure_pretraining.py)
    "gen_weight": AT_LEAST_0,
    "disc_weight": AT_LEAST_0,
    "mask_prob": MASK_PROB,
    "lr_decay_power": AT_LEAST_0,
    "num_warmup_steps": AT_LEAST_0,
    "num_train_steps": AT_LEAST_1,
    "num_eval_steps": AT_LEAST_1,
    "keep_checkpoint_max": AT_LEAST_0,
    "generator_layers": POSITIVE,
    "generator_hidden_size": POSITIVE,
    "temperature": POSITIVE,
    "max_predictions_per_seq": AT_LEAST_1,
    # FinetuningConfig (configure_finetuning.py)
    "num_trials": TRIALS,
    "layerwise_lr_decay": POSITIVE,
    "num_train_epochs": POSITIVE,
    "warmup_proportion": PROBABILITY,
    "n_writes_test": AT_LEAST_0,
    "predict_batch_size": AT_LEAST_1,
    "max_query_length": AT_LEAST_1,
    "doc_stride": AT_LEAST_1,
    "n_best_size": AT_LEAST_1,
    "max_answer_length": AT_LEAST_1,
    "answerable_weight": AT_LEAST_0,
    "beam_size": AT_LEAST_1,
}

# Per config class, ranges that differ from RANGES.
CLASS_RANGES = {
    "PretrainingConfig": {"max_seq_length": PRETRAIN_LENGTH},
    "FinetuningConfig": {"max_seq_length": FINETUNE_LENGTH},
}

_TYPE_WORDS = {
    int: "an integer (a JSON number without quotes)",
    float: "a number (a JSON number without quotes)",
    bool: "true or false (without quotes)",
    str: "a string",
    list: "a list",
    dict: "a dict",
}


def _is(value, kind):
    """Whether `value` has type `kind`; bools are not numbers, ints are
    floats, nothing is converted."""
    if kind is bool:
        return isinstance(value, bool)
    if isinstance(value, bool):
        return False
    if kind is float:
        return isinstance(value, (int, float))
    return isinstance(value, kind)


def field_types(cls):
    """{field name: (type, may be None)} from a dataclass's annotations."""
    hints = typing.get_type_hints(cls)
    out = {}
    for field in dataclasses.fields(cls):
        hint = hints[field.name]
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        optional = typing.get_origin(hint) is typing.Union
        kind = args[0] if optional else hint
        out[field.name] = (typing.get_origin(kind) or kind, optional)
    return out


def check_values(types, values, where="hparam ", ranges=None):
    """Raises `ConfigError` for the first value of a wrong type or range.

    Args:
      types: {key: type} or {key: (type, may be None)}; other keys are
        left to `check_keys`.
      values: {key: value} to check.
      where: prefix of the key in the message ("hparam ",
        "model_hparam_overrides.").
      ranges: {key: Domain} that replace `RANGES` entries.
    """
    ranges = dict(RANGES, **(ranges or {}))
    for key, value in values.items():
        if key not in types:
            continue
        kind = types[key]
        kind, optional = kind if isinstance(kind, tuple) else (kind, False)
        if value is None and optional:
            continue
        if not _is(value, kind):
            accepted = _TYPE_WORDS.get(kind, kind.__name__)
            if optional:
                accepted += " or null"
            raise ConfigError(
                f"{where}{key} = {value!r} is a {type(value).__name__}; "
                f"use {accepted}."
            )
        domain = ranges.get(key)
        if domain is not None and not domain.accepts(value):
            noun = "a number " if kind in (int, float) else ""
            raise ConfigError(
                f"{where}{key} = {value!r} is not accepted; use {noun}"
                f"{domain.text}."
            )
