"""Every checkpoint format, and the one place that decides which a path holds.

Formats: `ours` (this package's pre-training checkpoints: the original TF1
layout plus `electra_tf/` keys, with `pretrain_config.json` beside them),
`original` (google-research/electra TF1 checkpoints; their hparams must be
passed), `finetuned` (this package's fine-tuned models, with
`finetune_config.json`) and `huggingface` (HF ELECTRA or BERT folders:
config.json + model.safetensors). Pre-training resume and eval, fine-tuning init and
eval-only, conversion and export all load through `describe` and the
`load_*` functions here.
"""

import dataclasses
import os
import re
from typing import Optional

from electra_tf.checkpoints import finetuned, huggingface, ours
from electra_tf.checkpoints.ours import PRETRAIN_CONFIG, save_pretraining_config
from electra_tf.checkpoints.saving import save_model
from electra_tf.checkpoints.sizes import (
    finetuning_config_for,
    hf_model_config,
    hf_overrides,
    pretraining_config_for,
)
from electra_tf.checkpoints.original import (
    CheckpointCorruptError,
    CheckpointMismatchError,
    OBJECT_GRAPH_KEY,
    old_format_error,
    resolve_checkpoint,
    restore_by_name,
    variable_shapes,
    variables_by_name,
)
from electra_tf import tokenization
from electra_tf.config import FinetuningConfig, PretrainingConfig, load_hparams
from electra_tf.errors import CheckpointError, MissingInputError

__all__ = [
    "CheckpointCorruptError",
    "CheckpointError",
    "CheckpointMismatchError",
    "Description",
    "describe",
    "finetuning_config_for",
    "init_encoder",
    "load_discriminator_checkpoint",
    "load_encoder",
    "load_finetuned",
    "load_pretrainer",
    "load_pretraining_checkpoint",
    "pretraining_config_for",
    "save_model",
    "save_pretraining_config",
]


@dataclasses.dataclass(frozen=True)
class Description:
    """What a checkpoint path holds.

    `format` is 'ours', 'original' or 'finetuned'; `kinds` names its parts
    among 'discriminator', 'generator', 'encoder' and 'task:<name>';
    `config` is the run config that builds its model (None for an original
    checkpoint described without hparams); `prefix` the checkpoint read.
    """

    path: str
    format: str
    kinds: tuple
    config: Optional[object]
    vocab_file: Optional[str]
    do_lower_case: bool = True
    # FullTokenizer's meaning: strip accents when lower-casing (the original).
    strip_accents: bool = True
    prefix: Optional[str] = None
    hf: Optional[object] = dataclasses.field(default=None, repr=False)


# What each Hugging Face role holds, in `Description.kinds` terms.
HF_KINDS = {
    "discriminator": ("discriminator", "encoder"),
    "generator": ("generator",),
    "encoder": ("encoder",),
    "token_classification": ("encoder",),
}


def _kinds(names):
    kinds = []
    if any(n.startswith("electra/") for n in names):
        if any(n.startswith("discriminator_predictions/") for n in names):
            kinds.append("discriminator")
        kinds.append("encoder")
    if any(n.startswith("generator_predictions/") for n in names):
        kinds.append("generator")
    tasks = sorted(
        {
            m.group(1)
            for n in names
            for m in [re.match(r"task_specific/([^/]+)/", n)]
            if m
        }
    )
    return tuple(kinds + [f"task:{t}" for t in tasks])


def _pretraining_config(folder, hparams):
    saved = os.path.join(folder, PRETRAIN_CONFIG)
    if hparams is None:
        if not os.path.exists(saved):
            return None
        return PretrainingConfig.from_json(saved)
    # Original layout: <data-dir>/models/<model-name>.
    data_dir = os.path.dirname(os.path.dirname(os.path.abspath(folder)))
    return PretrainingConfig.from_hparams(
        os.path.basename(os.path.abspath(folder)),
        data_dir,
        load_hparams(hparams),
    )


def _checkpoint_folder(path):
    if os.path.isdir(path):
        return path
    if os.path.exists(path + ".index"):
        return os.path.dirname(path) or "."
    if not os.path.exists(path):
        raise MissingInputError(
            f"'{path}' does not exist; pass a model directory, a checkpoint "
            "prefix or a Hugging Face folder."
        )
    raise CheckpointError(
        f"'{path}' is not a checkpoint: looked for a directory with a "
        "'checkpoint' index (electra-tf or original TF1 checkpoints), a "
        f"checkpoint prefix with '{path}.index', and a Hugging Face folder "
        "(config.json with model.safetensors or pytorch_model.bin)."
    )


def describe(path, hparams=None):
    """Which format `path` holds and what is in it (a `Description`).

    `hparams` (dict, JSON string or path) configure an original checkpoint
    and, when given, override a saved pre-training config.
    """
    if os.path.isdir(path) and huggingface.is_hf_folder(path):
        hf = huggingface.read(path)
        tasks = sorted(
            {
                n.split("/")[1]
                for n in hf.weights
                if n.startswith("task_specific/")
            }
        )
        return Description(
            path=path,
            format="huggingface",
            kinds=HF_KINDS[hf.role] + tuple(f"task:{t}" for t in tasks),
            config=hf.model_config,
            vocab_file=hf.vocab_file,
            do_lower_case=hf.do_lower_case,
            strip_accents=hf.strip_accents,
            hf=hf,
        )
    folder = _checkpoint_folder(path)
    if os.path.isdir(path) and not os.path.exists(
        os.path.join(path, "checkpoint")
    ):
        raise CheckpointError(
            f"'{path}' holds no known checkpoint: looked for a 'checkpoint' "
            "index (electra-tf or original TF1 checkpoints), "
            f"'{PRETRAIN_CONFIG}', '{finetuned.CONFIG_NAME}', and a Hugging "
            "Face folder (config.json with model.safetensors or "
            "pytorch_model.bin)."
        )
    prefix = resolve_checkpoint(path)
    names = variable_shapes(prefix)
    if OBJECT_GRAPH_KEY in names:
        raise old_format_error(prefix)
    kinds = _kinds(names)
    if os.path.exists(os.path.join(folder, finetuned.CONFIG_NAME)):
        fmt = "finetuned"
        config = FinetuningConfig.from_json(
            os.path.join(folder, finetuned.CONFIG_NAME)
        )
    else:
        fmt = "ours" if ours.FORMAT_KEY in names else "original"
        config = _pretraining_config(folder, hparams)
    vocab = os.path.join(folder, "vocab.txt")
    if not os.path.exists(vocab):
        vocab = getattr(config, "vocab_file", None)
        vocab = vocab if vocab and os.path.exists(vocab) else None
    return Description(
        path=path,
        format=fmt,
        kinds=kinds,
        config=config,
        vocab_file=vocab,
        do_lower_case=getattr(config, "do_lower_case", True),
        prefix=prefix,
    )


def _need_config(description):
    if description.config is None:
        raise CheckpointError(
            f"'{description.path}' has no {PRETRAIN_CONFIG}, so the model "
            "shape is unknown. Pass the original pre-training hparams, e.g. "
            'hparams={"model_size": "small", "generator_hidden_size": 1.0} '
            "for the released ELECTRA-Small, or the path of a JSON file."
        )
    return description.config


def load_pretrainer(path, hparams=None):
    """Returns the `ElectraPretrainer` stored at `path`.

    Args:
        path: a model directory (its latest checkpoint is used) or a
            checkpoint prefix, written by electra-tf or by
            google-research/electra.
        hparams: the original pre-training hparams (dict, JSON string or
            `.json` path) when the checkpoint has no `pretrain_config.json`
            beside it; when given they take precedence over a saved config.

    Raises CheckpointMismatchError naming every missing, surplus or
    wrong-shape variable when the checkpoint does not fit the hparams.
    """
    from electra_tf.models.pretrainer import ElectraPretrainer

    description = describe(path, hparams)
    if description.format == "huggingface":
        return _hf_pretrainer(description, hparams)
    if description.format == "finetuned":
        raise CheckpointError(
            f"'{path}' is a fine-tuned model; load it with "
            "electra_tf.checkpoints.load_finetuned or load_encoder."
        )
    config = _need_config(description)
    model = ElectraPretrainer(config, _special_ids(description, config))
    restore_by_name(variables_by_name(model), description.prefix)
    return model


def _special_ids(description, config):
    """The ids of [CLS], [SEP] and [MASK] in the vocab beside the
    checkpoint (or its config's), for `compute_losses`; None without one."""
    if description.vocab_file is None:
        return None
    return tokenization.special_ids(description.vocab_file, config.vocab_size)


def load_encoder(path, hparams=None):
    """Returns the discriminator `Encoder` (`electra/...`) stored at `path`:
    of a pre-training checkpoint (full or discriminator-only; the generator
    and heads may be there and are left unused) or of a fine-tuned model."""
    from electra_tf.models.encoder import Encoder

    description = describe(path, hparams)
    if description.format == "huggingface":
        encoder = Encoder(
            hf_model_config(description.config, path, hparams), name="electra"
        )
        assign_from_arrays(
            variables_by_name(encoder),
            description.hf.weights,
            path,
            allow_unused=finetuned.NOT_ENCODER,
        )
        return encoder
    config = _need_config(description)
    encoder = Encoder(config.disc_config(), name="electra")
    restore_by_name(
        variables_by_name(encoder),
        description.prefix,
        allow_unused=finetuned.NOT_ENCODER,
    )
    return encoder


def load_finetuned(path, hparams=None):
    """Returns (FinetuningModel, FinetuningConfig, [Task]) of a fine-tuned
    directory `finetuning_models/<tasks>_model_<trial>`; `hparams`
    override fields of its saved config (e.g. a new `vocab_file`)."""
    from electra_tf.finetuning import preprocessing
    from electra_tf.models.finetuner import FinetuningModel

    description = describe(path)
    if description.format != "finetuned":
        raise CheckpointError(
            f"'{path}' is a {description.format} checkpoint, not a fine-tuned "
            f"model directory (one with {finetuned.CONFIG_NAME})."
        )
    config = description.config
    if hparams:
        config = FinetuningConfig.from_dict(
            dict(config.to_dict(), **load_hparams(hparams))
        )
    if description.vocab_file and description.vocab_file != config.vocab_file:
        config = dataclasses.replace(config, vocab_file=description.vocab_file)
    folder = _checkpoint_folder(path)
    model = FinetuningModel.from_finetuning_config(
        config, finetuned.read_head_specs(folder)
    )
    finetuned.init_from_checkpoint(
        model, description.prefix, require_heads=True
    )
    return model, config, preprocessing.get_tasks(config)


def load_pretraining_checkpoint(path, hparams=None):
    """The `ElectraPretrainer` at `path` (see `load_pretrainer`)."""
    return load_pretrainer(path, hparams)


def load_discriminator_checkpoint(path, hparams=None):
    """The discriminator `Encoder` at `path` (see `load_encoder`)."""
    return load_encoder(path, hparams)


def init_encoder(model, path):
    """Loads the discriminator encoder (`electra/...`) of `model` from
    `path` (any format); the rest of `model` keeps its initial values.
    Surplus encoder variables are an error. Returns a description."""
    wanted = {
        n: v
        for n, v in variables_by_name(model).items()
        if n.startswith("electra/")
    }
    description = describe(path)
    if description.format == "huggingface":
        assign_from_arrays(
            wanted, description.hf.weights, path, finetuned.NOT_ENCODER
        )
    else:
        restore_by_name(
            wanted, description.prefix, allow_unused=finetuned.NOT_ENCODER
        )
    return (
        f"initialized the discriminator encoder from the {description.format} "
        f"checkpoint {path}"
    )


def assign_from_arrays(variables, arrays, where, allow_unused=None):
    """Assigns {name: variable} from {name: array}, strictly by name."""
    from electra_tf.checkpoints.original import check_names

    shapes = {n: list(a.shape) for n, a in arrays.items()}
    check_names(variables, shapes, where, allow_unused=allow_unused)
    for name, variable in variables.items():
        variable.assign(arrays[name])
    return sorted(variables)


def _hf_pretrainer(description, hparams):
    """A pre-trainer from `<name>-discriminator` and `<name>-generator`."""
    from electra_tf.models.pretrainer import ElectraPretrainer

    path = description.path.rstrip(os.sep)
    base = (
        path[: -len("-discriminator")]
        if path.endswith("-discriminator")
        else None
    )
    generator = base + "-generator" if base else None
    if description.hf.role != "discriminator" or not (
        generator and huggingface.is_hf_folder(generator)
    ):
        raise CheckpointError(
            f"{path} is a Hugging Face {description.hf.role} folder; a "
            "pre-trainer needs the pair <name>-discriminator and "
            "<name>-generator (as `convert --to hf` writes them). Load an "
            "encoder with load_encoder instead."
        )
    gen = huggingface.read(generator)
    disc_config, gen_config = description.config, gen.model_config
    values = hf_overrides(disc_config)
    values.update(
        generator_hidden_size=gen_config.hidden_size / disc_config.hidden_size,
        generator_layers=gen_config.num_hidden_layers
        / disc_config.num_hidden_layers,
    )
    values.update(load_hparams(hparams or {}))
    config = PretrainingConfig.from_hparams(
        os.path.basename(base), os.path.dirname(base), values
    )
    model = ElectraPretrainer(config, _special_ids(description, config))
    arrays = dict(gen.weights, **description.hf.weights)
    assign_from_arrays(variables_by_name(model), arrays, path)
    return model
