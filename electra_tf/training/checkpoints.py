"""Training checkpoints: model, optimizer (slots and step), RNG, input position.

Replaces the original's Estimator checkpointing (`save_checkpoints_steps`,
`keep_checkpoint_max`, resume from `model_dir`). A checkpoint only counts
once TensorFlow's `checkpoint` index file names it, and that file is
rewritten atomically after all the checkpoint's files are in place, so a
crash mid-save leaves the previous checkpoint as the latest. Each machine's
input position is saved first, under `input_state/worker_<k>/`, with the
same number.
"""

import os
import shutil
import tempfile

import tensorflow as tf

OBJECT_GRAPH_KEY = "_CHECKPOINTABLE_OBJECT_GRAPH"


def is_object_checkpoint(prefix):
    """True for tf.train.Checkpoint files (ours); False for TF1 name-based."""
    names = tf.train.load_checkpoint(prefix).get_variable_to_shape_map()
    return OBJECT_GRAPH_KEY in names


def rng_state_variables(model):
    """The dropout seed-generator states of a Keras model, in model order.

    Keras does not put them in tf.train.Checkpoints of the model; saving
    them makes a resumed run draw the same dropout masks.
    """
    return {
        str(i): v
        for i, v in enumerate(
            v
            for v in model.variables
            if v.path.endswith("seed_generator_state")
        )
    }


class Checkpointer:
    """Saves and restores the training state of one run.

    Args:
        model_dir: where checkpoints `ckpt-<step>` go.
        max_to_keep: newest checkpoints kept (0 or None keeps all).
        iterator: the (distributed) input iterator, or None.
        chief: whether this machine writes to `model_dir`; the others write
            to a temporary directory that `close()` deletes (multi-worker
            saving needs every machine to take part).
        worker: this machine's index (names its input-state directory).
        **objects: what to save, e.g. model=, optimizer=, rng=.
    """

    def __init__(
        self,
        model_dir,
        max_to_keep,
        iterator=None,
        chief=True,
        worker=0,
        **objects,
    ):
        self.model_dir = model_dir
        self.chief = chief
        self.checkpoint = tf.train.Checkpoint(**objects)
        keep = max_to_keep or None
        self._write_dir = model_dir if chief else tempfile.mkdtemp()
        self.manager = tf.train.CheckpointManager(
            self.checkpoint,
            self._write_dir,
            keep if chief else 1,
            checkpoint_name="ckpt",
        )
        self.input_manager = None
        if iterator is not None:
            input_dir = os.path.join(
                model_dir, "input_state", f"worker_{worker}"
            )
            self.input_manager = tf.train.CheckpointManager(
                tf.train.Checkpoint(iterator=iterator),
                input_dir,
                keep,
                checkpoint_name="ckpt",
            )

    @property
    def latest(self):
        """The newest complete checkpoint of `model_dir` (None if none)."""
        return tf.train.latest_checkpoint(self.model_dir)

    def save(self, step):
        """Writes checkpoint number `step`; returns its path on the chief."""
        if self.input_manager is not None:
            self.input_manager.save(checkpoint_number=step)
        path = self.manager.save(checkpoint_number=step)
        return path if self.chief else None

    def close(self):
        """Deletes a non-chief machine's temporary checkpoints."""
        if not self.chief:
            shutil.rmtree(self._write_dir, ignore_errors=True)

    def restore_or_initialize(self, initialize=None):
        """Restores in a fixed order and says which source it used.

        `initialize(prefix)` handles a checkpoint that is not ours (e.g. an
        original TF1 checkpoint in model_dir, or None) and returns a
        description, or None if it loaded nothing.
        """
        latest = self.latest
        # 1. this run's checkpoint: everything, input position included
        if latest is not None and is_object_checkpoint(latest):
            self.checkpoint.restore(latest).assert_existing_objects_matched()
            self._restore_input(latest)
            return f"resumed from {latest}"
        # 2. an initial checkpoint (weights, maybe optimizer slots and step)
        if initialize is not None:
            message = initialize(latest)
            if message:
                return message
        # 3. from scratch
        return "started from scratch"

    def _restore_input(self, latest):
        if self.input_manager is None:
            return
        number = latest.rsplit("-", 1)[-1]
        prefix = os.path.join(self.input_manager.directory, f"ckpt-{number}")
        if not tf.io.gfile.exists(prefix + ".index"):
            raise FileNotFoundError(
                f"{latest} has no saved input position {prefix} for this "
                "machine, so the run cannot resume without repeating or "
                "skipping examples. Was it written with another number of "
                "machines? Resume with the setup that wrote it."
            )
        self.input_manager.checkpoint.restore(prefix).assert_consumed()
