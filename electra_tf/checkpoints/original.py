"""google-research/electra TF1 checkpoints: names in and out, strictly.

Our layers create their variables under the original scopes, so a weight's
`.path` is its TF1 checkpoint name and the name table is `{path: variable}`.
Reading asserts the table is total both ways: every model weight is in the
checkpoint with the same shape, and every checkpoint variable is used or
deliberately ignored (optimizer slots `<var>/adam_m`, `<var>/adam_v`,
`global_step`, and this package's own `electra_tf/...` training state).
Writing produces what the original's Estimator writes (`model.ckpt-<step>`
plus the `checkpoint` index), so its `run_pretraining.py` and
`modeling.get_assignment_map_from_checkpoint` find every variable.
"""

import glob
import logging
import os
import re

import tensorflow as tf

from electra_tf.errors import CheckpointError

logger = logging.getLogger(__name__)

# Training state a model does not hold.
TRAINING_STATE = re.compile(r"(/adam_[mv]$)|(^global_step$)|(^electra_tf/)")
GLOBAL_STEP = "global_step"
CHECKPOINT_NAME = "model.ckpt"
OBJECT_GRAPH_KEY = "_CHECKPOINTABLE_OBJECT_GRAPH"


class CheckpointMismatchError(CheckpointError):
    """A checkpoint does not fit the model: names are missing, surplus or
    of another shape."""


class CheckpointCorruptError(CheckpointError):
    """A checkpoint's files are missing, truncated or unreadable."""


def _state(directory):
    try:
        return tf.train.get_checkpoint_state(directory)
    except Exception as e:  # a garbled index file
        raise CheckpointCorruptError(
            f"The checkpoint index {directory}/checkpoint is unreadable "
            f"({type(e).__name__}); delete it or restore it from a backup."
        ) from e


def indexed_checkpoints(directory):
    """The prefixes the `checkpoint` index of `directory` names, oldest
    first ([] without an index)."""
    state = _state(directory)
    if state is None:
        return []
    paths = list(state.all_model_checkpoint_paths)
    if state.model_checkpoint_path and state.model_checkpoint_path not in paths:
        paths.append(state.model_checkpoint_path)
    return [
        p if os.path.isabs(p) else os.path.join(directory, p) for p in paths
    ]


def resolve_checkpoint(path):
    """A checkpoint directory (its `checkpoint` index) or prefix -> prefix."""
    if os.path.isdir(path):
        state = _state(path)
        if state is None or not state.model_checkpoint_path:
            raise CheckpointError(
                f"No checkpoint found in directory '{path}': it has no "
                "'checkpoint' index file naming one. Pass the checkpoint "
                "prefix (e.g. '<dir>/model.ckpt') instead."
            )
        prefix = indexed_checkpoints(path)[-1]
        if not tf.io.gfile.exists(prefix + ".index"):
            raise CheckpointCorruptError(
                f"The index '{path}/checkpoint' names the checkpoint "
                f"'{prefix}', but '{prefix}.index' does not exist. Restore "
                "its files, or pass the prefix of a checkpoint that exists."
            )
        return prefix
    if not tf.io.gfile.exists(path + ".index"):
        raise CheckpointError(
            f"No checkpoint at '{path}': expected '{path}.index' and its "
            "data files, or a directory holding a 'checkpoint' file."
        )
    return path


def variable_shapes(prefix):
    """{name: shape} of a checkpoint; unreadable files raise CheckpointCorruptError."""
    try:
        return tf.train.load_checkpoint(prefix).get_variable_to_shape_map()
    except Exception as e:
        raise CheckpointCorruptError(
            f"Cannot read '{prefix}.index' ({type(e).__name__}): the file is "
            "truncated or not a checkpoint."
        ) from e


def read_tensors(prefix, names):
    """{name: ndarray}; a truncated data file raises CheckpointCorruptError."""
    try:
        reader = tf.train.load_checkpoint(prefix)
        return {n: reader.get_tensor(n) for n in names}
    except Exception as e:
        files = sorted(glob.glob(prefix + ".data-*")) or [prefix + ".data-*"]
        raise CheckpointCorruptError(
            f"Cannot read '{', '.join(files)}' ({type(e).__name__}): the "
            "data file is truncated or corrupt."
        ) from e


def variables_by_name(model):
    """The name table `{path: variable}` of a model (shared ones once)."""
    table = {}
    for variable in model.weights:
        other = table.setdefault(variable.path, variable)
        if other is not variable:
            raise ValueError(
                f"Two model variables share the path {variable.path}."
            )
    return table


def _listing(title, names, limit=25):
    shown = "\n  ".join(names[:limit])
    more = (
        f"\n  ... and {len(names) - limit} more" if len(names) > limit else ""
    )
    return f"{title} ({len(names)}):\n  {shown}{more}"


FIX = (
    "Check that the hparams match the checkpoint (model_size, "
    "model_hparam_overrides, embedding_size, vocab_size, "
    "generator_hidden_size: the released ELECTRA-Small needs 1.0)."
)


def check_names(
    variables, shapes, prefix, ignore=TRAINING_STATE, allow_unused=None, fix=FIX
):
    """Raises CheckpointMismatchError listing every missing, surplus and
    wrong-shape name of `variables` ({name: variable}) against `shapes`."""
    missing = sorted(n for n in variables if n not in shapes)
    surplus = sorted(
        n
        for n in shapes
        if n not in variables
        and n != OBJECT_GRAPH_KEY
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
            parts.append(
                _listing("Model variables missing from the checkpoint", missing)
            )
        if surplus:
            parts.append(
                _listing(
                    "Checkpoint variables the model does not have", surplus
                )
            )
        if wrong:
            parts.append(_listing("Variables whose shapes differ", wrong))
        parts.append(fix)
        raise CheckpointMismatchError("\n".join(parts))


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
        wrong-shape name; CheckpointCorruptError for unreadable files.
    """
    prefix = resolve_checkpoint(path)
    shapes = variable_shapes(prefix)
    if OBJECT_GRAPH_KEY in shapes:
        raise old_format_error(prefix)
    check_names(variables, shapes, prefix, ignore, allow_unused)
    values = read_tensors(prefix, sorted(variables))
    for name, variable in variables.items():
        variable.assign(values[name])
    return sorted(variables)


def old_format_error(prefix):
    return CheckpointMismatchError(
        f"'{prefix}' is an electra-tf 0.1 checkpoint, which keys weights by "
        "their position in the optimizer, so it cannot be matched by name. "
        f"Convert it once with `python -m electra_tf.convert --from "
        f"{os.path.dirname(prefix) or '.'} --to ours --output NEW_DIR` "
        "(it checks every shape against the saved pretrain_config.json)."
    )


def write_checkpoint(directory, step, tensors, max_to_keep=None):
    """Writes `<directory>/model.ckpt-<step>` from {name: tensor} and then,
    atomically, the `checkpoint` index naming it; keeps the newest
    `max_to_keep` checkpoints (all with None/0). Returns the prefix.

    The index is replaced only after the files are complete, so a crash
    mid-save leaves the previous checkpoint as the latest.
    """
    tf.io.gfile.makedirs(directory)
    names = sorted(tensors)
    prefix = os.path.join(directory, f"{CHECKPOINT_NAME}-{step}")
    tf.raw_ops.SaveV2(
        prefix=prefix,
        tensor_names=names,
        shape_and_slices=[""] * len(names),
        tensors=[tensors[n] for n in names],
    )
    kept = [p for p in indexed_checkpoints(directory) if p != prefix] + [prefix]
    dropped = []
    if max_to_keep:
        dropped, kept = kept[:-max_to_keep], kept[-max_to_keep:]
    # Relative paths, as TF1 Savers write, so the directory can move.
    lines = [f'model_checkpoint_path: "{os.path.basename(prefix)}"']
    lines += [
        f'all_model_checkpoint_paths: "{os.path.basename(p)}"' for p in kept
    ]
    index = os.path.join(directory, "checkpoint")
    with tf.io.gfile.GFile(index + ".tmp", "w") as f:
        f.write("\n".join(lines) + "\n")
    tf.io.gfile.rename(index + ".tmp", index, overwrite=True)
    for old in dropped:
        for path in tf.io.gfile.glob(old + ".*"):
            tf.io.gfile.remove(path)
    return prefix


def remove_partial_checkpoints(directory, newer_than=None):
    """Deletes what a crashed save left in `directory`: `*_temp*` and
    `*.tempstate*` files and directories of checkpoint saves and, if
    `newer_than` is a step, checkpoint files with a larger number (never
    indexed, so never complete). Returns the removed paths."""
    removed = []
    pattern = re.compile(r"^(model\.)?ckpt-(\d+)[._].*$")
    for name in sorted(os.listdir(directory)):
        match = pattern.match(name)
        if not match:
            continue
        stale = "_temp" in name or ".tempstate" in name
        if stale or (
            newer_than is not None and int(match.group(2)) > newer_than
        ):
            path = os.path.join(directory, name)
            if os.path.isdir(path):
                tf.io.gfile.rmtree(path)
            else:
                os.remove(path)
            removed.append(path)
    if removed:
        logger.warning(
            "Removed the remains of an interrupted save: %s", ", ".join(removed)
        )
    return removed


def step_of(prefix):
    """The number of `<name>-<step>` (-1 without one).

    >>> step_of("/run/model.ckpt-1000"), step_of("/run/model.ckpt")
    (1000, -1)
    """
    tail = prefix.rsplit("-", 1)[-1]
    return int(tail) if tail.isdigit() else -1


def checkpoint_step(prefix):
    """The `global_step` stored in a checkpoint (0 without one)."""
    if GLOBAL_STEP in variable_shapes(prefix):
        return int(read_tensors(prefix, [GLOBAL_STEP])[GLOBAL_STEP])
    return 0


def original_tensors(prefix):
    """{name: ndarray} of a checkpoint without this package's extra keys."""
    shapes = variable_shapes(prefix)
    if OBJECT_GRAPH_KEY in shapes:
        raise old_format_error(prefix)
    return read_tensors(
        prefix, sorted(n for n in shapes if not n.startswith("electra_tf/"))
    )


def export(path, output_dir):
    """Writes the checkpoint at `path` (ours or original) as an original
    TF1 checkpoint `<output_dir>/model.ckpt-<step>`; returns its prefix."""
    prefix = resolve_checkpoint(path)
    tensors = original_tensors(prefix)
    step = int(tensors.get(GLOBAL_STEP, 0))
    return write_checkpoint(output_dir, step, tensors)


def load_training_state(prefix, variables, slots, iterations):
    """Loads an original (TF1) checkpoint for continued training: weights
    by name, and the Adam slots `<var>/adam_m`, `<var>/adam_v` and
    `global_step` if present (the README's recipe for continuing
    pre-training a released model). Returns a description."""
    restore_by_name(variables, prefix)
    names = variable_shapes(prefix)
    present = [n for n in slots if n in names]
    if present and len(present) != len(slots):
        missing = sorted(set(slots) - set(present))
        raise CheckpointMismatchError(
            f"{prefix} has Adam slots for only some variables; missing "
            f"{len(missing)}, e.g. {missing[:3]}."
        )
    values = read_tensors(
        prefix, present + [GLOBAL_STEP] * (GLOBAL_STEP in names)
    )
    for name in present:
        slots[name].assign(values[name])
    parts = ["weights"] + (["Adam slots"] if present else [])
    if GLOBAL_STEP in names:
        step = int(values[GLOBAL_STEP])
        iterations.assign(step)
        parts.append(f"global_step {step}")
    return f"initialized from the original checkpoint {prefix} ({', '.join(parts)})"
