"""Hparam handling shared by every config: `--hparams` reading, strict keys,
JSON round-trips and type/range checks (hparam_ranges.py).

Every unknown key is an error that names the closest valid key; a key the
original uses that has no effect here is accepted with a warning.
"""

import dataclasses
import difflib
import json
import logging
import os

from electra_tf.errors import ConfigError
from electra_tf.errors import MissingInputError
from electra_tf.hparam_ranges import CLASS_RANGES
from electra_tf.hparam_ranges import check_values
from electra_tf.hparam_ranges import field_types

logger = logging.getLogger(__name__)

# Hparams the original uses that have no effect here, and why.
IGNORED = {
    "PretrainingConfig": {
        "tpu_job_name": "tf.distribute.TPUStrategy takes no job name",
    },
    "FinetuningConfig": {
        "tpu_job_name": "tf.distribute.TPUStrategy takes no job name",
        "predict_batch_size": "predictions are batched by eval_batch_size",
        "iterations_per_loop": "fine-tuning runs one step per call",
    },
}

# A bad hyperparameter: an unknown key, a wrong value or malformed JSON
# (the name the runners import).
HparamError = ConfigError


def check_keys(cls, keys, where="hparams"):
    """Raises HparamError naming the first key that `cls` does not have.

    Example:
      >>> from electra_tf.config import ModelConfig
      >>> try:
      ...     check_keys(ModelConfig, ["hiden_size"])
      ... except HparamError as e:
      ...     print(e)  # doctest: +ELLIPSIS
      Unknown hparam 'hiden_size' in hparams for ModelConfig. Did you mean ...
    """
    valid = [f.name for f in dataclasses.fields(cls)]
    for key in keys:
        if key not in valid:
            close = difflib.get_close_matches(key, valid, n=1, cutoff=0.5)
            hint = f" Did you mean '{close[0]}'?" if close else ""
            raise HparamError(
                f"Unknown hparam '{key}' in {where} for {cls.__name__}.{hint}"
                f" Valid keys: {', '.join(sorted(valid))}."
            )


def load_hparams(hparams):
    """Reads `--hparams`: a dict, a JSON string, or the path of a JSON file.

    Text that does not start with `{` or `[` is a path.

    Example:
      >>> load_hparams('{"model_size": "base"}')
      {'model_size': 'base'}
    """
    if hparams is None:
        return {}
    if isinstance(hparams, dict):
        return dict(hparams)
    text = str(hparams).strip()
    source = "--hparams"
    if text and not text.startswith(("{", "[")):
        if not os.path.isfile(text):
            raise MissingInputError(
                f"--hparams file '{text}' does not exist; pass a JSON dict "
                "or the path of an existing .json file."
            )
        with open(text, encoding="utf-8") as f:
            source, text = text, f.read()
    try:
        value = json.loads(text or "{}")
    except json.JSONDecodeError as e:
        raise HparamError(
            f"{source} is not valid JSON ({e}). Pass a JSON dict such as "
            '\'{"model_size": "small"}\' or a path ending in .json.'
        ) from None
    if not isinstance(value, dict):
        raise HparamError(
            f"{source} must be a JSON object (a dict of hparams), "
            f"got {type(value).__name__}."
        )
    return value


def check_run_values(cls, hparams):
    """The user's hparams against their types and ranges, before any
    value is derived from them; a warning for each that has no effect."""
    check_keys(cls, hparams)
    check_values(
        field_types(cls), hparams, ranges=CLASS_RANGES.get(cls.__name__)
    )
    for key, why in IGNORED.get(cls.__name__, {}).items():
        if key in hparams:
            logger.warning("hparam %s has no effect here: %s.", key, why)


def defaults(cls):
    """{field: default} of a config dataclass (fields without one left out)."""
    values = {}
    for f in dataclasses.fields(cls):
        if f.default is not dataclasses.MISSING:
            values[f.name] = f.default
        elif f.default_factory is not dataclasses.MISSING:
            values[f.name] = f.default_factory()
    return values


class Config:
    """JSON round-trip and type/range checks of the config dataclasses."""

    # How messages name a field: "hparam key" or "ModelConfig.key".
    _where = "hparam "

    def __post_init__(self):
        cls = type(self)
        check_values(
            field_types(cls),
            self.to_dict(),
            where=self._where,
            ranges=CLASS_RANGES.get(cls.__name__),
        )

    def to_dict(self):
        return dataclasses.asdict(self)

    def to_json(self, path=None):
        text = json.dumps(self.to_dict(), indent=2, sort_keys=True)
        if path is not None:
            tmp = path + ".tmp"
            with open(tmp, "w", encoding="utf-8") as f:
                f.write(text + "\n")
            os.replace(tmp, path)
        return text

    @classmethod
    def from_dict(cls, values):
        check_keys(cls, values, where="config")
        return cls(**values)

    @classmethod
    def from_json(cls, path):
        with open(path, encoding="utf-8") as f:
            return cls.from_dict(load_hparams(f.read()))
