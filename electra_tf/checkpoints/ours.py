"""Training checkpoints: the original TF1 layout plus a few extra keys.

Replaces the original's Estimator checkpointing (`save_checkpoints_steps`,
`keep_checkpoint_max`, resume from `model_dir`) and writes what it wrote:
`model.ckpt-<step>` with every weight under its original name, the Adam
slots as `<name>/adam_m`, `<name>/adam_v`, and `global_step`. Nothing is
keyed by position, so a model whose layers are created in another order
restores exactly, and the original code reads our checkpoints. Extra keys,
all under `electra_tf/`: the format version, the dropout seed states, the
float16 loss-scale state and whether the weights were finite when saved.
Each machine's input position is saved first, under
`input_state/worker_<k>/`, with the same number. A checkpoint only counts
once the `checkpoint` index names it, and that file is replaced atomically
after the checkpoint's files are complete.
"""

import logging
import os
import re

import tensorflow as tf

from electra_tf.checkpoints import original

logger = logging.getLogger(__name__)

PRETRAIN_CONFIG = "pretrain_config.json"
FORMAT_KEY = "electra_tf/format_version"
FORMAT_VERSION = 2
FINITE_KEY = "electra_tf/weights_finite"
RNG_PREFIX = "electra_tf/rng/"
LOSS_SCALE_PREFIX = "electra_tf/loss_scale/"


def save_pretraining_config(config, model_dir):
    """Writes `pretrain_config.json` so the checkpoints describe themselves."""
    os.makedirs(model_dir, exist_ok=True)
    config.to_json(os.path.join(model_dir, PRETRAIN_CONFIG))


def is_ours(prefix):
    """True for a checkpoint written by `Checkpointer`."""
    return FORMAT_KEY in original.variable_shapes(prefix)


def rng_state_variables(model):
    """The dropout seed-generator states of a Keras model, in model order.

    Keras names them by a global counter (`seed_generator_<n>`), so their
    order in the model is their only stable key; they are not weights.
    """
    return {
        f"{RNG_PREFIX}{i}": v
        for i, v in enumerate(
            v
            for v in model.variables
            if v.path.endswith("seed_generator_state")
        )
    }


def training_variables(model, optimizer=None):
    """{checkpoint name: variable} of everything a resume needs."""
    table = dict(original.variables_by_name(model))
    table.update(rng_state_variables(model))
    if optimizer is not None:
        inner = getattr(optimizer, "inner_optimizer", optimizer)
        table.update(inner.original_slot_names())
        table[original.GLOBAL_STEP] = inner.iterations
        if inner is not optimizer:  # LossScaleOptimizer
            table[LOSS_SCALE_PREFIX + "dynamic_scale"] = optimizer.dynamic_scale
            table[LOSS_SCALE_PREFIX + "step_counter"] = optimizer.step_counter
    return table


def _all_finite(values):
    return bool(
        all(
            tf.reduce_all(tf.math.is_finite(v))
            for v in values
            if v.dtype.is_floating
        )
    )


class Checkpointer:
    """Saves and restores the training state of one run.

    Args:
        model_dir: where checkpoints `model.ckpt-<step>` go.
        max_to_keep: newest checkpoints kept (0 or None keeps all).
        model: the Keras model (weights by `.path`, dropout seeds).
        optimizer: its optimizer (Adam slots, step, loss scale), or None.
        iterator: the (distributed) input iterator, or None.
        chief: whether this machine writes to `model_dir` (the others only
            save their input position).
        worker: this machine's index (names its input-state directory).
        original_dir: if set, each checkpoint is also written there without
            the `electra_tf/` keys (`write_original_checkpoint`).
    """

    def __init__(
        self,
        model_dir,
        max_to_keep,
        model,
        optimizer=None,
        iterator=None,
        chief=True,
        worker=0,
        original_dir=None,
    ):
        self.model_dir = model_dir
        self.chief = chief
        self.max_to_keep = max_to_keep or None
        self.original_dir = original_dir
        self.variables = training_variables(model, optimizer)
        self.input_manager = None
        if iterator is not None:
            input_dir = os.path.join(
                model_dir, "input_state", f"worker_{worker}"
            )
            self.input_manager = tf.train.CheckpointManager(
                tf.train.Checkpoint(iterator=iterator),
                input_dir,
                self.max_to_keep,
                checkpoint_name="ckpt",
            )

    @property
    def latest(self):
        """The newest checkpoint the index of `model_dir` names (or None)."""
        indexed = original.indexed_checkpoints(self.model_dir)
        return indexed[-1] if indexed else None

    def save(self, step):
        """Writes checkpoint number `step`; returns its path on the chief."""
        if self.input_manager is not None:
            self.input_manager.save(checkpoint_number=step)
        if not self.chief:
            return None
        tensors = {
            n: tf.convert_to_tensor(v) for n, v in self.variables.items()
        }
        tensors[FORMAT_KEY] = tf.constant(FORMAT_VERSION, tf.int64)
        finite = _all_finite(tensors.values())
        tensors[FINITE_KEY] = tf.constant(finite)
        if self.original_dir:
            original.write_checkpoint(
                self.original_dir,
                step,
                {
                    n: t
                    for n, t in tensors.items()
                    if not n.startswith("electra_tf/")
                },
                self.max_to_keep,
            )
        return original.write_checkpoint(
            self.model_dir, step, tensors, self.max_to_keep
        )

    def last_finite(self, before_step):
        """The newest kept checkpoint older than `before_step` whose weights
        were all finite when saved (None if there is none)."""
        for prefix in reversed(original.indexed_checkpoints(self.model_dir)):
            if original.step_of(prefix) >= before_step:
                continue
            try:
                if bool(
                    original.read_tensors(prefix, [FINITE_KEY])[FINITE_KEY]
                ):
                    return prefix
            except original.CheckpointError:
                continue
        return None

    def close(self):
        """Nothing to release (kept for the loop's callers)."""

    def restore_or_initialize(self, initialize=None):
        """Restores in a fixed order and says which source it used.

        `initialize(prefix)` handles a checkpoint that is not ours (e.g. an
        original TF1 checkpoint in model_dir, or None) and returns a
        description, or None if it loaded nothing.
        """
        indexed = original.indexed_checkpoints(self.model_dir)
        if indexed and not tf.io.gfile.exists(indexed[-1] + ".index"):
            raise original.CheckpointCorruptError(
                f"The index {self.model_dir}/checkpoint names "
                f"'{indexed[-1]}', but '{indexed[-1]}.index' does not exist. "
                "Restore its files, or move the model directory aside to "
                "start afresh."
            )
        if self.chief and indexed:
            newer_than = None
            if is_ours(indexed[-1]):
                newer_than = original.step_of(indexed[-1])
            original.remove_partial_checkpoints(self.model_dir, newer_than)
        # 1. this run's checkpoint: everything, input position included;
        #    a corrupt newest one falls back to the one before it
        for i, prefix in enumerate(reversed(indexed)):
            shapes = original.variable_shapes(prefix)
            if original.OBJECT_GRAPH_KEY in shapes:
                raise original.old_format_error(prefix)
            if FORMAT_KEY not in shapes:
                break
            try:
                self._restore(prefix, shapes)
            except original.CheckpointCorruptError as e:
                logger.warning(
                    "%s Falling back to the checkpoint before it.", e
                )
                continue
            self._restore_input(prefix)
            return f"resumed from {prefix}"
        else:
            if indexed:
                raise original.CheckpointCorruptError(
                    f"No checkpoint named by {self.model_dir}/checkpoint is "
                    "readable; move the model directory aside to start afresh."
                )
        # 2. an initial checkpoint (weights, maybe optimizer slots and step)
        if initialize is not None:
            message = initialize(indexed[-1] if indexed else None)
            if message:
                return message
        # 3. from scratch
        return "started from scratch"

    def _restore(self, prefix, shapes):
        original.check_names(
            self.variables,
            shapes,
            prefix,
            ignore=re.compile(f"^({FORMAT_KEY}|{FINITE_KEY})$"),
            fix="Resume with the hparams the run was started with (its "
            "pretrain_config.json), or use another model_dir.",
        )
        values = original.read_tensors(prefix, sorted(self.variables))
        for name, variable in self.variables.items():
            variable.assign(values[name])

    def _restore_input(self, latest):
        if self.input_manager is None:
            return
        number = latest.rsplit("-", 1)[-1]
        prefix = os.path.join(self.input_manager.directory, f"ckpt-{number}")
        if not tf.io.gfile.exists(prefix + ".index"):
            raise original.CheckpointCorruptError(
                f"{latest} has no saved input position {prefix} for this "
                "machine, so the run cannot resume without repeating or "
                "skipping examples. Was it written with another number of "
                "machines? Resume with the setup that wrote it."
            )
        self.input_manager.checkpoint.restore(prefix).assert_consumed()


def read_v0_1(model_dir):
    """(model, optimizer, step) of an electra-tf 0.1 checkpoint directory.

    0.1 saved `tf.train.Checkpoint(model, optimizer, rng)`, which keys the
    weights by their position in the optimizer. This restores them into the
    model its `pretrain_config.json` describes, built by this version, whose
    variables are created in 0.1's order; TensorFlow checks every shape.
    """
    import keras

    from electra_tf.config import PretrainingConfig
    from electra_tf.models.pretrainer import ElectraPretrainer
    from electra_tf.optimization import create_optimizer

    saved = os.path.join(model_dir, PRETRAIN_CONFIG)
    if not os.path.exists(saved):
        raise original.CheckpointError(
            f"{model_dir} has no pretrain_config.json, which a 0.1 checkpoint "
            "needs to be read; copy it there from the run that wrote it."
        )
    config = PretrainingConfig.from_json(saved)
    model = ElectraPretrainer(config)
    optimizer = create_optimizer(config.learning_rate, config.num_train_steps)
    if config.mixed_precision == "mixed_float16":
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
    optimizer.build(model.trainable_variables)
    rng = {str(i): v for i, v in enumerate(rng_state_variables(model).values())}
    prefix = tf.train.latest_checkpoint(model_dir)
    try:
        status = tf.train.Checkpoint(
            model=model, optimizer=optimizer, rng=rng
        ).restore(prefix)
        status.assert_existing_objects_matched()
    except (AssertionError, ValueError) as e:
        raise original.CheckpointMismatchError(
            f"{prefix} does not fit the model of {saved}: {e}"
        ) from e
    return model, optimizer, int(optimizer.iterations.numpy())
