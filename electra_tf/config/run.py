"""Fields and steps both run configs share: names, model shape, TPU and the
port's additions; the order in which defaults and user hparams apply."""

import dataclasses
import os
from typing import Optional

from electra_tf.config.hparams import (
    Config,
    HparamError,
    check_run_values,
    defaults,
    load_hparams,
)
from electra_tf.config.model import get_bert_config


def check_vocab_size(config):
    """The vocab file's tokens must all have an id below `vocab_size`."""
    path = config.vocab_file
    if not path or not os.path.isfile(path):
        return
    with open(path, "rb") as f:
        n_tokens = sum(1 for _ in f)
    if config.vocab_size < n_tokens:
        raise HparamError(
            f"hparam vocab_size = {config.vocab_size} is smaller than the "
            f"{n_tokens} tokens of {path}; set vocab_size to at least "
            f"{n_tokens} or use the vocab file the model was built with."
        )


@dataclasses.dataclass(frozen=True)
class RunConfig(Config):
    """Fields both run configs have: names, model shape, TPU, port additions."""

    model_name: str
    data_dir: str
    debug: bool = False
    # model settings
    model_size: str = "small"
    model_hparam_overrides: dict = dataclasses.field(default_factory=dict)
    embedding_size: Optional[int] = None
    vocab_size: int = 30522
    do_lower_case: bool = True
    # TPU settings
    use_tpu: bool = False
    num_tpu_cores: int = 1
    tpu_job_name: Optional[str] = None
    tpu_name: Optional[str] = None
    tpu_zone: Optional[str] = None
    gcp_project: Optional[str] = None
    # additions of this port (README, "Deviations")
    seed: int = 0
    distribution_strategy: str = "auto"
    mixed_precision: str = "auto"  # resolved at run start
    jit_compile: bool = False

    @classmethod
    def from_hparams(cls, model_name, data_dir, hparams=None):
        """The config as the original builds it: defaults, then
        `_derive(values, hparams)` (the class's own order of paths, user
        hparams, debug and size defaults), then the user hparams again so
        that they win."""
        hparams = load_hparams(hparams)
        check_run_values(cls, hparams)
        values = defaults(cls)
        values.update(model_name=model_name, data_dir=data_dir)
        cls._derive(values, hparams)
        values.update(hparams)
        config = cls(**values)
        config.validate()
        return config

    def validate(self):
        check_vocab_size(self)
        self.disc_config()  # raises on bad overrides

    def disc_config(self):
        """The discriminator's transformer config (debug shrinks it)."""
        return get_bert_config(
            self.model_size,
            self.vocab_size,
            self.model_hparam_overrides,
            self.embedding_size,
            self.debug,
        )
