"""Fine-tuning checkpoints: where the weights come from, and how they are saved.

Port of the checkpoint handling of run_finetuning.py `model_fn_builder`
(spec 1.2): every checkpoint variable whose name is a variable of the
fine-tuning model is loaded; `task_specific/<task>/` heads are loaded when
the checkpoint has them (a fine-tuned model) and freshly initialised
otherwise. Sources: the original's TF1 checkpoints (pre-trained or
fine-tuned), this package's pre-training checkpoints, and this package's
fine-tuned checkpoints, which are written in the original's by-name layout
(`model.ckpt-<step>` plus a `checkpoint` file) so that each loader reads both.
"""

import logging
import os
import re

import tensorflow as tf

from electra_tf.conversion import loading
from electra_tf.conversion import tf1_checkpoint
from electra_tf.training.checkpoints import is_object_checkpoint

logger = logging.getLogger(__name__)

EVERYTHING = re.compile(".*")


def save_checkpoint(model, model_dir, step):
    """Writes `<model_dir>/model.ckpt-<step>` by name, plus `global_step`."""
    tf.io.gfile.makedirs(model_dir)
    table = tf1_checkpoint.variables_by_name(model)
    names = sorted(table)
    prefix = os.path.join(model_dir, f"model.ckpt-{step}")
    tf.raw_ops.SaveV2(
        prefix=prefix,
        tensor_names=names + ["global_step"],
        shape_and_slices=[""] * (len(names) + 1),
        tensors=[table[n].value for n in names] + [tf.constant(step, tf.int64)],
    )
    # The same `checkpoint` state file as TF1 Savers write (relative path).
    with tf.io.gfile.GFile(os.path.join(model_dir, "checkpoint"), "w") as f:
        f.write(
            f'model_checkpoint_path: "model.ckpt-{step}"\n'
            f'all_model_checkpoint_paths: "model.ckpt-{step}"\n'
        )
    return prefix


class ByNameCheckpointer:
    """The checkpointer `training.loop.train` calls, writing by-name
    checkpoints (`save_checkpoint`); only the chief machine writes."""

    def __init__(self, model, model_dir, chief=True):
        self.model = model
        self.model_dir = model_dir
        self.chief = chief
        self.latest = None

    def save(self, step):
        if self.chief:
            self.latest = save_checkpoint(self.model, self.model_dir, step)


def _head_variables(table):
    """{task name: [variable names]} of the model's `task_specific/` heads."""
    heads = {}
    for name in table:
        match = re.match(r"task_specific/([^/]+)/", name)
        if match:
            heads.setdefault(match.group(1), []).append(name)
    return heads


def init_from_checkpoint(model, path, require_heads=False):
    """Loads `model` (a FinetuningModel or single-task model) from `path`.

    Args:
        model: the model; its encoder is `model.encoder`.
        path: a checkpoint directory or prefix: an original TF1 checkpoint
            (pre-trained or fine-tuned), an electra-tf pre-training
            checkpoint (with `pretrain_config.json`), or an electra-tf
            fine-tuned checkpoint.
        require_heads: raise unless every task head is in the checkpoint
            (evaluation without training needs a fine-tuned checkpoint).
    Returns:
        The names of the task heads that were loaded.
    Raises:
        CheckpointMismatchError if encoder weights are missing or of another
        shape, or a head is only partly present.
    """
    prefix = tf1_checkpoint.resolve_checkpoint(path)
    table = tf1_checkpoint.variables_by_name(model)
    heads = _head_variables(table)
    if is_object_checkpoint(prefix):
        if require_heads:
            raise tf1_checkpoint.CheckpointMismatchError(
                f"'{prefix}' is a pre-training checkpoint; evaluating without "
                "training needs a fine-tuned one (init_checkpoint = a "
                "finetuning_models/<tasks>_model_<trial> directory)."
            )
        _copy_pretrained_encoder(model, path)
        logger.info(
            "Initialised the encoder from pre-training checkpoint %s", prefix
        )
        return []
    names = set(tf.train.load_checkpoint(prefix).get_variable_to_shape_map())
    wanted = {
        n: v for n, v in table.items() if not n.startswith("task_specific/")
    }
    loaded_heads = []
    for task_name, head_names in sorted(heads.items()):
        present = [n for n in head_names if n in names]
        if present and len(present) != len(head_names):
            missing = sorted(set(head_names) - set(present))
            raise tf1_checkpoint.CheckpointMismatchError(
                f"Checkpoint '{prefix}' has only part of the task_specific/"
                f"{task_name} head; missing: {', '.join(missing)}. Were the QA "
                "settings (joint_prediction, answerable_classifier, "
                "answerable_uses_start_logits) the same?"
            )
        if present:
            wanted.update({n: table[n] for n in head_names})
            loaded_heads.append(task_name)
        elif require_heads:
            raise tf1_checkpoint.CheckpointMismatchError(
                f"Checkpoint '{prefix}' has no task_specific/{task_name} head: "
                "evaluating without training needs a checkpoint fine-tuned "
                "on that task."
            )
    tf1_checkpoint.restore_by_name(wanted, prefix, allow_unused=EVERYTHING)
    logger.info(
        "Loaded %s (task heads: %s)", prefix, ", ".join(loaded_heads) or "none"
    )
    return loaded_heads


def _copy_pretrained_encoder(model, path):
    """Copies the discriminator (`electra/...`) of our pre-training model."""
    pretrainer = loading.load_pretraining_checkpoint(path)
    source = tf1_checkpoint.variables_by_name(pretrainer)
    target = tf1_checkpoint.variables_by_name(model.encoder)
    missing = sorted(n for n in target if n not in source)
    wrong = sorted(
        f"{n}: checkpoint {list(source[n].shape)} vs model {list(v.shape)}"
        for n, v in target.items()
        if n in source and list(source[n].shape) != list(v.shape)
    )
    if missing or wrong:
        raise tf1_checkpoint.CheckpointMismatchError(
            f"The pre-trained model at '{path}' does not fit the fine-tuning "
            f"encoder; missing: {missing[:10]}; shapes: {wrong[:10]}. Use the "
            "pre-training model_size / model_hparam_overrides / "
            "embedding_size / vocab_size."
        )
    for name, variable in target.items():
        variable.assign(source[name])
