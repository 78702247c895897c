"""Load google-research/electra TF1 checkpoints by their variable names.

Our layers create their variables under the original scopes, so a weight's
`.path` is its TF1 checkpoint name and the name table is `{path: variable}`.
Loading asserts that the table is total both ways: every model weight is in
the checkpoint with the same shape, and every checkpoint variable is used or
deliberately ignored (optimizer slots `<var>/adam_m`, `<var>/adam_v` and
`global_step`, which training code may load separately).
"""

import os
import re

import tensorflow as tf

from electra_tf.errors import CheckpointError
from electra_tf.training.checkpoints import OBJECT_GRAPH_KEY

# Training state of the original release that a model does not hold.
TRAINING_STATE = re.compile(r"(/adam_[mv]$)|(^global_step$)")

# Key of the model in electra-tf training checkpoints (tf.train.Checkpoint).
MODEL_KEY = "model"


class CheckpointMismatchError(CheckpointError):
    """A checkpoint does not fit the model: names are missing, surplus or
    of another shape."""


def resolve_checkpoint(path):
    """A checkpoint directory (with a `checkpoint` file) or prefix -> prefix."""
    if os.path.isdir(path):
        prefix = tf.train.latest_checkpoint(path)
        if prefix is None:
            raise FileNotFoundError(
                f"No checkpoint found in directory '{path}': it has no "
                "'checkpoint' index file naming one. Pass the checkpoint "
                "prefix (e.g. '<dir>/model.ckpt') instead."
            )
        return prefix
    if not os.path.exists(path + ".index"):
        raise FileNotFoundError(
            f"No checkpoint at '{path}': expected '{path}.index' and its "
            "data files, or a directory holding a 'checkpoint' file."
        )
    return path


def variables_by_name(model):
    """The name table `{path: variable}` of a model (shared ones once)."""
    table = {}
    for variable in model.weights:
        other = table.setdefault(variable.path, variable)
        if other is not variable:
            raise ValueError(f"Two model variables share the path {variable.path}.")
    return table


def _listing(title, names, limit=25):
    shown = "\n  ".join(names[:limit])
    more = f"\n  ... and {len(names) - limit} more" if len(names) > limit else ""
    return f"{title} ({len(names)}):\n  {shown}{more}"


def restore_by_name(variables, path, ignore=TRAINING_STATE, allow_unused=None):
    """Assigns each variable from the checkpoint entry of the same name.

    Args:
        variables: dict name -> keras/tf variable (e.g. `variables_by_name`).
        path: checkpoint directory or prefix.
        ignore: regex of checkpoint names that are never model weights.
        allow_unused: optional regex of checkpoint names that this model may
            leave unused (e.g. the generator when loading a discriminator).
    Returns:
        The sorted checkpoint names that were assigned.
    Raises:
        CheckpointMismatchError listing every missing, surplus and
        wrong-shape name.
    """
    prefix = resolve_checkpoint(path)
    reader = tf.train.load_checkpoint(prefix)
    shapes = reader.get_variable_to_shape_map()
    if OBJECT_GRAPH_KEY in shapes:
        raise CheckpointMismatchError(
            f"'{prefix}' is an electra-tf (object-based) checkpoint, not an "
            "original TF1 one; load it with electra_tf.load_pretraining_checkpoint."
        )
    missing = sorted(n for n in variables if n not in shapes)
    surplus = sorted(
        n
        for n in shapes
        if n not in variables
        and not ignore.search(n)
        and not (allow_unused is not None and allow_unused.search(n))
    )
    wrong = sorted(
        f"{n}: checkpoint {list(shapes[n])} vs model {list(v.shape)}"
        for n, v in variables.items()
        if n in shapes and list(shapes[n]) != list(v.shape)
    )
    if missing or surplus or wrong:
        parts = [f"Checkpoint '{prefix}' does not fit the model."]
        if missing:
            parts.append(_listing("Model variables missing from the checkpoint", missing))
        if surplus:
            parts.append(_listing("Checkpoint variables the model does not have", surplus))
        if wrong:
            parts.append(_listing("Variables whose shapes differ", wrong))
        parts.append(
            "Check that the hparams match the checkpoint (model_size, "
            "model_hparam_overrides, embedding_size, vocab_size, "
            "generator_hidden_size: the released ELECTRA-Small needs 1.0)."
        )
        raise CheckpointMismatchError("\n".join(parts))
    for name, variable in variables.items():
        variable.assign(reader.get_tensor(name))
    return sorted(variables)
