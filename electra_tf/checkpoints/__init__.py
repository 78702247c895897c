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
from electra_tf.config import FinetuningConfig, PretrainingConfig, load_hparams
from electra_tf.errors import CheckpointError

PRETRAIN_CONFIG = "pretrain_config.json"

__all__ = [
    "CheckpointCorruptError",
    "CheckpointError",
    "CheckpointMismatchError",
    "Description",
    "describe",
    "load_encoder",
    "load_finetuned",
    "load_pretrainer",
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
    strip_accents: Optional[bool] = None
    prefix: Optional[str] = None
    hf: Optional[object] = dataclasses.field(default=None, repr=False)

# What each Hugging Face role holds, in `Description.kinds` terms.
HF_KINDS = {
    "discriminator": ("discriminator", "encoder"),
    "generator": ("generator",),
    "encoder": ("encoder",),
    "token_classification": ("encoder",),
}


def save_pretraining_config(config, model_dir):
    """Writes `pretrain_config.json` so the checkpoints describe themselves."""
    os.makedirs(model_dir, exist_ok=True)
    config.to_json(os.path.join(model_dir, PRETRAIN_CONFIG))


def _kinds(names):
    kinds = []
    if any(n.startswith("electra/") for n in names):
        if any(n.startswith("discriminator_predictions/") for n in names):
            kinds.append("discriminator")
        kinds.append("encoder")
    if any(n.startswith("generator_predictions/") for n in names):
        kinds.append("generator")
    tasks = sorted(
        {m.group(1) for n in names for m in [re.match(r"task_specific/([^/]+)/", n)] if m}
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
        os.path.basename(os.path.abspath(folder)), data_dir, load_hparams(hparams)
    )


def _checkpoint_folder(path):
    if os.path.isdir(path):
        return path
    if os.path.exists(path + ".index"):
        return os.path.dirname(path) or "."
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
            {n.split("/")[1] for n in hf.weights if n.startswith("task_specific/")}
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
    if os.path.isdir(path) and not os.path.exists(os.path.join(path, "checkpoint")):
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
    model = ElectraPretrainer(_need_config(description))
    restore_by_name(variables_by_name(model), description.prefix)
    return model


def load_encoder(path, hparams=None):
    """Returns the discriminator `Encoder` (`electra/...`) stored at `path`:
    of a pre-training checkpoint (full or discriminator-only; the generator
    and heads may be there and are left unused) or of a fine-tuned model."""
    from electra_tf.models.encoder import Encoder

    description = describe(path, hparams)
    if description.format == "huggingface":
        encoder = Encoder(
            hf_model_config(description, hparams), name="electra"
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
    from electra_tf.finetuning import task_builder
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
    model = FinetuningModel(
        config.disc_config(),
        finetuned.read_head_specs(folder),
        beam_size=config.beam_size,
        joint_prediction=config.joint_prediction,
        answerable_classifier=config.answerable_classifier,
        answerable_uses_start_logits=config.answerable_uses_start_logits,
        answerable_weight=config.answerable_weight,
    )
    finetuned.init_from_checkpoint(model, description.prefix, require_heads=True)
    return model, config, task_builder.get_tasks(config)


def load_pretraining_checkpoint(path, hparams=None):
    """The `ElectraPretrainer` at `path` (see `load_pretrainer`)."""
    return load_pretrainer(path, hparams)


def load_discriminator_checkpoint(path, hparams=None):
    """The discriminator `Encoder` at `path` (see `load_encoder`)."""
    return load_encoder(path, hparams)


MODEL_FIELDS = (
    "hidden_size",
    "num_hidden_layers",
    "num_attention_heads",
    "intermediate_size",
    "hidden_act",
    "hidden_dropout_prob",
    "attention_probs_dropout_prob",
    "max_position_embeddings",
    "type_vocab_size",
    "initializer_range",
)


def hf_model_config(description, hparams=None):
    """The ModelConfig of an HF folder; model fields in `hparams` (its
    `model_hparam_overrides`, `vocab_size`, `embedding_size`) must agree."""
    config = description.config
    given = dict(load_hparams(hparams or {}))
    given.update(given.pop("model_hparam_overrides", {}) or {})
    mine = {**dataclasses.asdict(config), "embedding_size": config.embedding_width}
    wrong = [
        f"{k}: hparams {given[k]!r} vs config.json {mine[k]!r}"
        for k in sorted(mine)
        if k in given and given[k] is not None and given[k] != mine[k]
    ]
    if wrong:
        raise CheckpointMismatchError(
            f"The hparams describe another model than {description.path}/"
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


def pretraining_config_for(config):
    """`config` with the discriminator of an HF `init_checkpoint` folder
    (sizes from its config.json unless `model_hparam_overrides` set them)."""
    path = config.init_checkpoint
    if not (path and os.path.isdir(path) and huggingface.is_hf_folder(path)):
        return config
    description = describe(path)
    if config.model_hparam_overrides:
        hf_model_config(
            description,
            dict(config.model_hparam_overrides, vocab_size=config.vocab_size),
        )
    return dataclasses.replace(config, **hf_overrides(description.config))


def init_encoder(model, path):
    """Loads the discriminator encoder (`electra/...`) of `model` from
    `path` (any format); the rest of `model` keeps its initial values.
    Surplus encoder variables are an error. Returns a description."""
    wanted = {
        n: v for n, v in variables_by_name(model).items()
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


def finetuning_config_for(config):
    """`config` with the model of an HF `init_checkpoint` folder: sizes
    from its config.json unless `model_hparam_overrides` set them (then
    they must agree), and its vocab when the config's does not exist."""
    path = config.init_checkpoint
    if not (path and os.path.isdir(path) and huggingface.is_hf_folder(path)):
        return config
    description = describe(path)
    model_config = description.config
    if config.model_hparam_overrides:
        hf_model_config(
            description,
            dict(config.model_hparam_overrides, vocab_size=config.vocab_size),
        )
    values = hf_overrides(model_config)
    if not (config.vocab_file and os.path.exists(config.vocab_file)):
        if description.vocab_file is None:
            raise CheckpointError(
                f"{path} has no vocab.txt and the config's vocab_file "
                f"{config.vocab_file} does not exist; set vocab_file."
            )
        values.update(
            vocab_file=description.vocab_file,
            do_lower_case=description.do_lower_case,
        )
    return dataclasses.replace(config, **values)


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
    base = path[: -len("-discriminator")] if path.endswith("-discriminator") else None
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
    model = ElectraPretrainer(config)
    arrays = dict(gen.weights, **description.hf.weights)
    assign_from_arrays(variables_by_name(model), arrays, path)
    return model


SAVE_FORMATS = ("hf", "original", "ours")


def save_model(model, path, format="hf", vocab_file=None, do_lower_case=True):
    """Writes an `Encoder` ('hf' encoder folder or 'original' TF1 names)
    or an `ElectraPretrainer` ('hf': `<path>-discriminator` and
    `<path>-generator`; 'original'; 'ours' with `pretrain_config.json`).
    Returns the paths written."""
    from electra_tf.checkpoints import original
    from electra_tf.models.encoder import Encoder

    if format not in SAVE_FORMATS:
        raise CheckpointError(
            f"Unknown format {format!r}; use one of {', '.join(SAVE_FORMATS)}."
        )
    weights = {v.path: v.numpy() for v in model.weights}
    is_encoder = isinstance(model, Encoder)
    if format == "original":
        return [original.write_checkpoint(path, 0, weights)]
    if is_encoder:
        if format == "ours":
            raise CheckpointError(
                "An encoder alone has no pre-training config; save it with "
                "format 'hf' or 'original'."
            )
        huggingface.write(
            path, "encoder", model.config, weights, vocab_file, do_lower_case
        )
        return [path]
    config = model.config
    vocab_file = vocab_file or (
        config.vocab_file if config.vocab_file and os.path.exists(config.vocab_file) else None
    )
    if format == "ours":
        config = dataclasses.replace(config, model_dir=path)
        save_pretraining_config(config, path)
        return [ours.Checkpointer(path, None, model).save(0)]
    halves = [("discriminator", config.disc_config())]
    if model.generator is not None:
        halves.append(("generator", config.generator_config()))
    folders = []
    for role, model_config in halves:
        folder = f"{path.rstrip(os.sep)}-{role}"
        huggingface.write(
            folder, role, model_config, weights, vocab_file, config.do_lower_case
        )
        folders.append(folder)
    return folders
