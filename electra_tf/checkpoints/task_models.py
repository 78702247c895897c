"""`from_pretrained` / `save_pretrained` of the fine-tuning models.

A fine-tuning model is the discriminator encoder (`electra/...`) plus heads
`task_specific/<task>/...`, as run_finetuning.py `model_fn_builder` lays it
out. It loads from any format `describe` knows: always the encoder; a head
when the source holds one for that task (a fine-tuned directory, an original
fine-tuned checkpoint, an HF token-classification folder), else a new head.
"""

import dataclasses
import inspect
import logging
import os
import shutil

from electra_tf.checkpoints import finetuned, huggingface, original
from electra_tf.checkpoints.sizes import hf_model_config, hf_overrides
from electra_tf.config import ModelConfig
from electra_tf.errors import CheckpointError
from electra_tf.models.finetuner import QA_SETTINGS, SETTINGS

logger = logging.getLogger(__name__)

DENSE = {"dense/kernel", "dense/bias"}


def _model_config(description, hparams):
    from electra_tf.checkpoints import _need_config

    if description.format == "huggingface":
        return hf_model_config(description.config, description.path, hparams)
    return _need_config(description).disc_config()


def _source_shapes(description):
    if description.format == "huggingface":
        return {n: list(a.shape) for n, a in description.hf.weights.items()}
    return original.variable_shapes(description.prefix)


def _finetuned_task(cls, description):
    """The head of a fine-tuned directory that fits `cls`."""
    specs = finetuned.read_head_specs(os.path.dirname(description.prefix))
    fits = [s["name"] for s in specs if s["head_type"] == cls.head_type]
    if len(fits) == 1:
        return fits[0]
    heads = ", ".join(f"{s['name']} ({s['head_type']})" for s in specs)
    raise CheckpointError(
        f"'{description.path}' has heads {heads}: "
        f"{'none' if not fits else 'more than one'} of them fits "
        f"{cls.__name__} (a {cls.head_type} head). Pass task_name= to pick "
        "one, or a new task name to start a new head on its encoder."
    )


def _head_args(cls, description, head_args):
    """The class's arguments, completed from the head the source holds."""
    args, name = dict(head_args), cls.__name__
    default = inspect.signature(cls.__init__).parameters["task_name"].default
    if "task_name" not in args and description.format == "finetuned":
        args["task_name"] = _finetuned_task(cls, description)
    task = args.setdefault("task_name", default)
    if description.format == "finetuned" and cls.head_type == "span":
        for key in QA_SETTINGS:
            args.setdefault(key, getattr(description.config, key))
    prefix = f"task_specific/{task}/"
    head = {
        n[len(prefix) :]: s
        for n, s in _source_shapes(description).items()
        if n.startswith(prefix)
    }
    labels = None
    if description.format == "huggingface":
        labels = description.hf.labels
    if not head or cls.head_type == "span":
        return args
    if set(head) != DENSE:
        raise CheckpointError(
            f"'{description.path}' has a {task} head of other layers "
            f"({', '.join(sorted(head))}) than a {name} head "
            "(dense/kernel, dense/bias). Pass task_name= a new task name to "
            "start a new head on its encoder, or use the class of that head."
        )
    found = head["dense/kernel"][-1]
    wanted = 1 if name == "ElectraForMultipleChoice" else None
    wanted = args.get("num_labels", wanted)
    given = args.get("labels")
    if (wanted is not None and wanted != found) or (
        given is not None and labels is not None and list(given) != labels
    ):
        raise CheckpointError(
            f"'{description.path}' has a {task} head with {found} labels "
            f"{labels or ''}, but num_labels={wanted} labels={given} were "
            "passed. Drop num_labels/labels to keep the saved head, or pass "
            "task_name= a new task name to start a new head."
        )
    if name != "ElectraForMultipleChoice":
        args["num_labels"] = found
    if labels is not None and name == "ElectraForTokenClassification":
        args["labels"] = labels
    return args


def load_task_model(cls, path, hparams=None, **head_args):
    """A fine-tuning model of class `cls` from `path` (any format).

    `hparams`: the original pre-training hparams of an original checkpoint,
    or the encoder's `ModelConfig`. `head_args` are the class's arguments
    (`num_labels`, `task_name`, ...); those the source's head fixes may be
    left out. Logs one line naming the format found and what loaded.
    """
    from electra_tf.checkpoints import describe, load_finetuned

    if isinstance(hparams, ModelConfig):
        hparams = hf_overrides(hparams)
    description = describe(path, hparams)
    task = head_args.get("task_name")
    if (
        cls.__name__ == "ElectraForTokenClassification"
        and description.format == "huggingface"
        and description.hf.role == "token_classification"
        and task not in (None, "tagging")
    ):  # the HF head, under the task name asked for
        hf = huggingface.read(path, task_name=task)
        description = dataclasses.replace(description, hf=hf)
    if cls.__name__ == "FinetuningModel" and "tasks" not in head_args:
        if description.format != "finetuned":
            raise CheckpointError(
                f"'{path}' is a {description.format} checkpoint; a "
                "FinetuningModel from it needs tasks=[{name, head_type, "
                "num_labels}, ...] (a fine-tuned directory has its own)."
            )
        model = load_finetuned(path)[0]
        loaded = [t["name"] for t in model.tasks]
    else:
        if cls.__name__ == "FinetuningModel":
            args = dict(head_args)
            if description.format == "finetuned":
                for key in SETTINGS:
                    args.setdefault(key, getattr(description.config, key))
        else:
            args = _head_args(cls, description, head_args)
        if "num_labels" not in args and cls.__name__ in (
            "ElectraForSequenceClassification",
            "ElectraForTokenClassification",
        ):
            raise CheckpointError(
                f"'{path}' holds no {args['task_name']} head, so "
                f"{cls.__name__} needs num_labels= for its new head."
            )
        model = cls(_model_config(description, hparams), **args)
        loaded = _load(model, description)
    heads = f"heads {', '.join(loaded)}" if loaded else "a new head"
    logger.info(
        "Loaded %s from the %s checkpoint %s: encoder and %s",
        cls.__name__,
        description.format,
        path,
        heads,
    )
    return model


def _load(model, description):
    """Loads the encoder and the heads the source has; returns the heads."""
    from electra_tf.checkpoints import assign_from_arrays

    if description.format != "huggingface":
        return finetuned.init_from_checkpoint(model, description.prefix)
    table = original.variables_by_name(model)
    weights = description.hf.weights
    heads = sorted(
        {
            n.split("/")[1]
            for n in table
            if n.startswith("task_specific/") and n in weights
        }
    )
    wanted = {
        n: v
        for n, v in table.items()
        if n.startswith("electra/")
        or any(n.startswith(f"task_specific/{h}/") for h in heads)
    }
    assign_from_arrays(wanted, weights, description.path, finetuned.NOT_ENCODER)
    return heads


def save_task_model(model, path, format, vocab_file=None, do_lower_case=True):
    """Writes a fine-tuning model: 'original' (TF1 names, encoder and
    `task_specific/<task>/` heads) or, for ElectraForTokenClassification,
    'hf'. Returns the paths written."""
    name = type(model).__name__
    weights = {v.path: v.numpy() for v in model.weights}
    if format == "original":
        written = original.write_checkpoint(path, 0, weights)
        if vocab_file:
            shutil.copyfile(vocab_file, os.path.join(path, "vocab.txt"))
        return [written]
    if format == "hf" and name == "ElectraForTokenClassification":
        labels = model.labels or [f"LABEL_{i}" for i in range(model.num_labels)]
        huggingface.write(
            path,
            "token_classification",
            model.config,
            weights,
            vocab_file,
            do_lower_case,
            labels=list(labels),
        )
        return [path]
    if format == "hf":
        # No silent encoder-only export: transformers would load such a
        # folder into its own head class with a random head.
        raise CheckpointError(
            f"A {name} has no Hugging Face equivalent of its head "
            "(transformers' classification and QA heads are other networks "
            "than the original's), so format='hf' would lose it. Save it "
            "with format='original', or only its encoder with "
            "model.encoder.save_pretrained(path)."
        )
    raise CheckpointError(
        f"A {name} saves as format 'original' (the original's TF1 names, "
        "which electra-tf's fine-tuned checkpoints use too)"
        + (" or 'hf'" if name == "ElectraForTokenClassification" else "")
        + f", not {format!r}."
    )
