"""Model sizes of a run that starts from a Hugging Face folder.

A run's config names its model by size; a Hugging Face `init_checkpoint`
brings its own config.json. Its sizes win unless the hparams set
`model_hparam_overrides`; then both must agree, or the error names both.
"""

import dataclasses
import os

from electra_tf.checkpoints import huggingface
from electra_tf.checkpoints.original import CheckpointMismatchError
from electra_tf.config import ModelConfig, load_hparams
from electra_tf.errors import CheckpointError

# The ModelConfig fields that `model_hparam_overrides` carries (vocab_size
# and embedding_size are hparams of the run config itself).
MODEL_FIELDS = tuple(
    f.name
    for f in dataclasses.fields(ModelConfig)
    if f.name not in ("vocab_size", "embedding_size")
)


def hf_model_config(config, path, hparams=None):
    """`config` (of the HF folder `path`) after checking that the model
    fields in `hparams` (its `model_hparam_overrides`, `vocab_size`,
    `embedding_size`) agree with it."""
    given = dict(load_hparams(hparams or {}))
    given.update(given.pop("model_hparam_overrides", {}) or {})
    mine = {
        **dataclasses.asdict(config),
        "embedding_size": config.embedding_width,
    }
    wrong = [
        f"{k}: hparams {given[k]!r} vs config.json {mine[k]!r}"
        for k in sorted(mine)
        if k in given and given[k] is not None and given[k] != mine[k]
    ]
    if wrong:
        raise CheckpointMismatchError(
            f"The hparams describe another model than {path}/"
            f"config.json: {'; '.join(wrong)}. Drop these hparams (the "
            "sizes come from config.json) or use a matching folder."
        )
    return config


def hf_overrides(model_config):
    """Run-config hparams that rebuild `model_config` exactly."""
    return {
        "vocab_size": model_config.vocab_size,
        "embedding_size": model_config.embedding_width,
        "model_hparam_overrides": {
            k: getattr(model_config, k) for k in MODEL_FIELDS
        },
    }


def _hf_init_checkpoint(config):
    """The HFCheckpoint of `config.init_checkpoint` when that is an HF
    folder (its sizes checked against `model_hparam_overrides`), else None."""
    path = config.init_checkpoint
    if not (path and os.path.isdir(path) and huggingface.is_hf_folder(path)):
        return None
    hf = huggingface.read(path)
    if config.model_hparam_overrides:
        hf_model_config(
            hf.model_config,
            path,
            dict(config.model_hparam_overrides, vocab_size=config.vocab_size),
        )
    return hf


def pretraining_config_for(config):
    """`config` with the discriminator of an HF `init_checkpoint` folder
    (sizes from its config.json unless `model_hparam_overrides` set them)."""
    hf = _hf_init_checkpoint(config)
    if hf is None:
        return config
    return dataclasses.replace(config, **hf_overrides(hf.model_config))


def finetuning_config_for(config):
    """`config` with the model of an HF `init_checkpoint` folder: sizes
    from its config.json unless `model_hparam_overrides` set them (then
    they must agree), and its vocab when the config's does not exist."""
    hf = _hf_init_checkpoint(config)
    if hf is None:
        return config
    values = hf_overrides(hf.model_config)
    if not (config.vocab_file and os.path.exists(config.vocab_file)):
        if hf.vocab_file is None:
            raise CheckpointError(
                f"{config.init_checkpoint} has no vocab.txt and the config's "
                f"vocab_file {config.vocab_file} does not exist; set vocab_file."
            )
        values.update(
            vocab_file=hf.vocab_file,
            do_lower_case=hf.do_lower_case,
        )
    return dataclasses.replace(config, **values)
