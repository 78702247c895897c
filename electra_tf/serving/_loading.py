"""Which models a path holds, and loading them, for export and pipelines.

A private adapter with the API of `electra_tf.checkpoints` (`describe`,
`load_pretrainer`, `load_encoder`, `load_finetuned`) over today's loaders
(conversion/loading.py, finetuning/checkpoints.py); serving code calls only
these four functions, so the adapter can be swapped in one place.

Layouts read: a pre-training run (`pretrain_config.json` beside object
checkpoints), an original TF1 checkpoint (with its hparams), and a
fine-tuned run `<data>/models/<name>/finetuning_models/<tasks>_model_<trial>`
(by-name checkpoints with `task_specific/<task>/` heads).
"""

import dataclasses
import os
import re

import tensorflow as tf

from electra_tf import config as config_lib
from electra_tf.conversion import loading
from electra_tf.conversion import tf1_checkpoint
from electra_tf.errors import CheckpointError, ConfigError, MissingInputError
from electra_tf.training.checkpoints import is_object_checkpoint

# Fields of a pre-training config that a fine-tuning config shares.
_MODEL_FIELDS = (
    "model_size",
    "model_hparam_overrides",
    "embedding_size",
    "vocab_size",
    "do_lower_case",
    "debug",
)
_FINETUNED_DIR = re.compile(r"^(?P<tasks>[\w,]+)_model(_\d+)?$")


@dataclasses.dataclass(frozen=True)
class Description:
    """What a model path holds: checkpoint format, model kinds, tokenizer."""

    path: str
    format: str
    kinds: tuple
    vocab_file: str
    do_lower_case: bool
    strip_accents: bool
    config: object


def _prefix(path):
    if not os.path.exists(path) and not os.path.exists(path + ".index"):
        raise MissingInputError(
            f"Model path '{path}' does not exist; pass a model directory "
            "written by electra-tf or an original checkpoint."
        )
    try:
        return tf1_checkpoint.resolve_checkpoint(path)
    except FileNotFoundError as e:
        raise CheckpointError(str(e)) from None


def _checkpoint_dir(path, prefix):
    return path if os.path.isdir(path) else os.path.dirname(prefix)


def _pretraining_config(checkpoint_dir, hparams):
    try:
        return loading._config_for(checkpoint_dir, hparams)
    except ValueError as e:
        raise CheckpointError(str(e)) from None


def _finetuning_config(checkpoint_dir, heads, hparams):
    """The FinetuningConfig of a fine-tuned run directory."""
    # <data_dir>/models/<model_name>/finetuning_models/<tasks>_model_<trial>
    run_dir = os.path.abspath(checkpoint_dir)
    pretrained_dir = os.path.dirname(os.path.dirname(run_dir))
    data_dir = os.path.dirname(os.path.dirname(pretrained_dir))
    match = _FINETUNED_DIR.match(os.path.basename(run_dir))
    tasks = sorted(heads)
    if match and sorted(match.group("tasks").split(",")) == tasks:
        tasks = match.group("tasks").split(",")  # the run's task order
    values = {}
    saved = os.path.join(pretrained_dir, loading.CONFIG_NAME)
    if os.path.exists(saved):
        pretraining = config_lib.PretrainingConfig.from_json(saved)
        values = {k: getattr(pretraining, k) for k in _MODEL_FIELDS}
        # A fine-tuned run does not record its length; pre-training's fits.
        values["max_seq_length"] = pretraining.max_seq_length
    elif hparams is None:
        raise CheckpointError(
            f"'{checkpoint_dir}' is a fine-tuned model but its shape is "
            f"unknown: no {loading.CONFIG_NAME} in '{pretrained_dir}'. Pass "
            "the fine-tuning hparams (--hparams JSON), e.g. "
            '\'{"model_size": "small"}\'.'
        )
    values.update(config_lib.load_hparams(hparams) or {})
    values["task_names"] = tasks
    try:
        return config_lib.FinetuningConfig.from_hparams(
            os.path.basename(pretrained_dir), data_dir, values
        )
    except ValueError as e:
        raise ConfigError(str(e)) from None


def _kinds_of_names(names):
    kinds = []
    if any(n.startswith("discriminator_predictions/") for n in names):
        kinds.append("discriminator")
    if any(n.startswith("generator_predictions/") for n in names):
        kinds.append("generator")
    if any(n.startswith("electra/") for n in names):
        kinds.append("encoder")
    heads = sorted(
        {
            m.group(1)
            for n in names
            if (m := re.match(r"task_specific/([^/]+)/", n))
        }
    )
    return kinds, heads


def _kinds_of_config(config):
    has_disc = config.electra_objective or config.electric_objective
    kinds = ["discriminator"] if has_disc else []
    if not (config.uniform_generator or config.two_tower_generator):
        kinds.append("generator")
    return tuple(kinds + (["encoder"] if has_disc else []))


def describe(path, hparams=None):
    """The `Description` of the model at `path` (a directory or prefix)."""
    prefix = _prefix(path)
    checkpoint_dir = _checkpoint_dir(path, prefix)
    if is_object_checkpoint(prefix):
        config = _pretraining_config(checkpoint_dir, hparams)
        fmt, kinds = "electra_tf", _kinds_of_config(config)
    else:
        names = tf.train.load_checkpoint(prefix).get_variable_to_shape_map()
        kinds, heads = _kinds_of_names(names)
        if heads:
            config = _finetuning_config(checkpoint_dir, heads, hparams)
            fmt = "finetuned"
            kinds = tuple(["encoder"] + [f"task:{h}" for h in heads])
        else:
            config = _pretraining_config(checkpoint_dir, hparams)
            fmt, kinds = "original", tuple(kinds)
    vocab_file = config.vocab_file
    beside = os.path.join(checkpoint_dir, "vocab.txt")
    if os.path.exists(beside) and not (
        vocab_file and os.path.exists(vocab_file)
    ):
        vocab_file = beside
    return Description(
        path=path,
        format=fmt,
        kinds=kinds,
        vocab_file=vocab_file,
        do_lower_case=config.do_lower_case,
        strip_accents=True,
        config=config,
    )


def load_pretrainer(path, hparams=None):
    """The `ElectraPretrainer` of a pre-training checkpoint."""
    try:
        return loading.load_pretraining_checkpoint(path, hparams)
    except FileNotFoundError as e:
        raise MissingInputError(str(e)) from None
    except ValueError as e:
        if isinstance(e, CheckpointError):
            raise
        raise CheckpointError(str(e)) from None


def load_encoder(path, hparams=None):
    """The discriminator `Encoder` of a pre-trained or fine-tuned model."""
    if describe(path, hparams).format == "finetuned":
        return load_finetuned(path, hparams)[0].encoder
    try:
        return loading.load_discriminator_checkpoint(path, hparams)
    except FileNotFoundError as e:
        raise MissingInputError(str(e)) from None
    except ValueError as e:
        if isinstance(e, CheckpointError):
            raise
        raise CheckpointError(str(e)) from None


def load_finetuned(path, hparams=None):
    """(FinetuningModel, FinetuningConfig, tasks) of a fine-tuned model."""
    # Imported here: the fine-tuning stack is heavy and only this needs it.
    from electra_tf.finetuning import checkpoints
    from electra_tf.finetuning import runner
    from electra_tf.finetuning import task_builder

    description = describe(path, hparams)
    if description.format != "finetuned":
        raise CheckpointError(
            f"'{path}' holds {', '.join(description.kinds)}, not a "
            "fine-tuned model; pass a finetuning_models/<tasks>_model_<trial> "
            "directory."
        )
    config = dataclasses.replace(
        description.config, vocab_file=description.vocab_file
    )
    if not os.path.exists(config.vocab_file or ""):
        raise MissingInputError(
            f"The vocab of '{path}' is missing (looked for "
            f"'{config.vocab_file}'); put the vocab.txt the model was "
            "trained with there."
        )
    try:
        tasks = task_builder.get_tasks(config)
    except (ValueError, OSError) as e:
        raise CheckpointError(
            f"Cannot rebuild the tasks of '{path}': {e}"
        ) from None
    model = runner.build_model(config, tasks)
    checkpoints.init_from_checkpoint(model, path, require_heads=True)
    return model, config, tasks
