"""Fine-tuning checkpoints: where the weights come from, and how they are saved.

Port of the checkpoint handling of run_finetuning.py `model_fn_builder`:
the encoder (`electra/...`) is loaded from the checkpoint; the
`task_specific/<task>/` heads are loaded when the checkpoint has them (a
fine-tuned model) and freshly initialised otherwise. Sources are read by
name: the original's TF1 checkpoints (pre-trained or fine-tuned) and this
package's pre-training and fine-tuned checkpoints, which use the same
layout. A fine-tuned directory also holds `finetune_config.json` and
`vocab.txt`, so it describes itself.
"""

import json
import logging
import os
import re

import tensorflow as tf

from electra_tf.checkpoints import huggingface, original

logger = logging.getLogger(__name__)

CONFIG_NAME = "finetune_config.json"
HEADS_NAME = "finetune_heads.json"

# What a fine-tuning model may leave unused: all but the encoder.
NOT_ENCODER = re.compile(r"^(?!electra/)")


def save_checkpoint(model, model_dir, step):
    """Writes `<model_dir>/model.ckpt-<step>` by name, plus `global_step`."""
    table = original.variables_by_name(model)
    tensors = {n: tf.convert_to_tensor(v) for n, v in table.items()}
    tensors[original.GLOBAL_STEP] = tf.constant(step, tf.int64)
    return original.write_checkpoint(model_dir, step, tensors, max_to_keep=1)


def write_description(model_dir, config, head_specs):
    """`finetune_config.json`, the heads and `vocab.txt` beside the weights."""
    tf.io.gfile.makedirs(model_dir)
    config.to_json(os.path.join(model_dir, CONFIG_NAME))
    with tf.io.gfile.GFile(os.path.join(model_dir, HEADS_NAME), "w") as f:
        json.dump(head_specs, f, indent=2)
    if config.vocab_file and tf.io.gfile.exists(config.vocab_file):
        tf.io.gfile.copy(
            config.vocab_file, os.path.join(model_dir, "vocab.txt"), True
        )


def read_head_specs(model_dir):
    with tf.io.gfile.GFile(os.path.join(model_dir, HEADS_NAME)) as f:
        return json.load(f)


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

    def last_finite(self, before_step):
        """Fine-tuning keeps one checkpoint; it counts if it is older."""
        if self.latest and original.step_of(self.latest) < before_step:
            return self.latest
        return None


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
        path: a checkpoint directory or prefix (original TF1, or this
            package's pre-training or fine-tuned checkpoints).
        require_heads: raise unless every task head is in the checkpoint
            (evaluation without training needs a fine-tuned checkpoint).
    Returns:
        The names of the task heads that were loaded.
    Raises:
        CheckpointMismatchError if encoder weights are missing, surplus or
        of another shape, or a head is only partly present.
    """
    table = original.variables_by_name(model)
    heads = _head_variables(table)
    if os.path.isdir(path) and huggingface.is_hf_folder(path):
        if require_heads:
            raise original.CheckpointMismatchError(
                f"{path} is a Hugging Face folder: evaluating without "
                "training needs a checkpoint fine-tuned by electra-tf."
            )
        return _init_from_hf(table, path)
    prefix = original.resolve_checkpoint(path)
    names = original.variable_shapes(prefix)
    if original.OBJECT_GRAPH_KEY in names:
        raise original.old_format_error(prefix)
    wanted = {
        n: v for n, v in table.items() if not n.startswith("task_specific/")
    }
    loaded_heads = []
    for task_name, head_names in sorted(heads.items()):
        present = [n for n in head_names if n in names]
        if present and len(present) != len(head_names):
            missing = sorted(set(head_names) - set(present))
            raise original.CheckpointMismatchError(
                f"Checkpoint '{prefix}' has only part of the task_specific/"
                f"{task_name} head; missing: {', '.join(missing)}. Were the QA "
                "settings (joint_prediction, answerable_classifier, "
                "answerable_uses_start_logits) the same?"
            )
        if present:
            wanted.update({n: table[n] for n in head_names})
            loaded_heads.append(task_name)
        elif require_heads:
            raise original.CheckpointMismatchError(
                f"Checkpoint '{prefix}' has no task_specific/{task_name} head: "
                "evaluating without training needs a checkpoint fine-tuned "
                "on that task."
            )
    # Surplus encoder variables (say a layer more) are an error; the
    # generator, other heads and training state may be left unused.
    original.restore_by_name(wanted, prefix, allow_unused=NOT_ENCODER)
    if loaded_heads:
        logger.info(
            "Loaded %s (task heads: %s)", prefix, ", ".join(loaded_heads)
        )
    else:
        logger.info(
            "Initialised the encoder from pre-training checkpoint %s", prefix
        )
    return loaded_heads


def _init_from_hf(table, path):
    """The encoder from an HF ELECTRA or BERT folder; task heads start new
    (HF heads differ from the original's, `huggingface.read` says which)."""
    weights = huggingface.read(path).weights
    wanted = {n: v for n, v in table.items() if n.startswith("electra/")}
    shapes = {n: list(a.shape) for n, a in weights.items()}
    original.check_names(wanted, shapes, path, allow_unused=NOT_ENCODER)
    for name, variable in wanted.items():
        variable.assign(weights[name])
    logger.info("Loaded the encoder of the Hugging Face folder %s", path)
    return []
