"""One training loop for every tf.distribute strategy.

Replaces the original's TPUEstimator training (`estimator.train(input_fn,
max_steps=num_train_steps)` with `create_optimizer`'s clipping and its
ETAHook). Each replica computes the loss of its local batch (the original's
weighted means), clips its own gradients by global norm 1.0 (the original
clips before CrossShardOptimizer combines the shards), and the replicas'
gradients are averaged: each is scaled by 1 / replicas and the optimizer
sums them. The global batch is thus the same whatever the replica count.
"""

import math
import time

import keras
import tensorflow as tf
from tensorflow.core.framework import summary_pb2

from electra_tf.errors import InputError
from electra_tf.optimization import clip_by_global_norm

# TensorBoard's scalar plugin; tf.summary.write needs no tensorboard package.
_SCALAR = summary_pb2.SummaryMetadata(
    plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="scalars")
)


class NonFiniteLossError(InputError, FloatingPointError):
    """The loss became NaN or infinite; the message names the last
    checkpoint whose loss was finite and the fix (the CLIs print it as one
    line)."""


def make_replica_step(
    model, optimizer, loss_fn, clip_norm=1.0, jit_compile=False
):
    """Returns `step(batch)`: one optimizer step on one replica's batch, to
    run under `strategy.run` (or as a Keras `train_step`).

    `loss_fn(batch, step)` returns a dict of scalars whose "loss" is
    minimized. The step unscales the gradients, clips them by global norm,
    skips the step on every replica when one overflowed (float16 loss
    scaling) and applies them scaled by 1 / replicas. It returns
    `loss_fn`'s dict plus `grad_norm` and `learning_rate`.
    """
    variables = model.trainable_variables
    loss_scaled = isinstance(optimizer, keras.optimizers.LossScaleOptimizer)

    # No autograph: nothing here branches on tensors, and converting the
    # model's code costs seconds per trace.
    @tf.function(jit_compile=jit_compile, autograph=False)
    def forward_backward(batch, step):
        with tf.GradientTape() as tape:
            scalars = loss_fn(batch, step)
            loss = scalars["loss"]
            if loss_scaled:
                loss = optimizer.scale_loss(loss)
        return scalars, tape.gradient(loss, variables)

    def replica_step(batch):
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        step = tf.convert_to_tensor(optimizer.iterations)
        scalars, grads = forward_backward(batch, step)
        scale = optimizer.dynamic_scale if loss_scaled else 1.0
        if loss_scaled:
            grads = [None if g is None else g / scale for g in grads]
        grads, norm = clip_by_global_norm(grads, clip_norm)
        if loss_scaled and replicas > 1:
            # All replicas must agree to skip an overflowing step.
            finite = tf.cast(tf.math.is_finite(norm), tf.float32)
            context = tf.distribute.get_replica_context()
            finite = context.all_reduce(tf.distribute.ReduceOp.MIN, finite)
            scale = scale / finite  # inf when any replica overflowed
        scalars = dict(scalars, grad_norm=norm)
        scalars["learning_rate"] = tf.cast(optimizer.learning_rate, tf.float32)
        optimizer.apply(
            [None if g is None else g * (scale / replicas) for g in grads],
            variables,
        )
        return scalars

    return replica_step


def make_train_function(
    strategy, model, optimizer, loss_fn, clip_norm=1.0, jit_compile=False
):
    """Returns `run(iterator, num_steps)`: num_steps optimizer steps in one
    tf.function call; it returns the last step's scalars averaged over the
    replicas (`loss_fn`'s dict plus `grad_norm` and `learning_rate`).

    `loss_fn(batch, step)` runs per replica and returns a dict of scalars
    whose "loss" is minimized.
    """
    if not optimizer.built:  # slots must exist before tracing
        with strategy.scope():
            optimizer.build(model.trainable_variables)
    replica_step = make_replica_step(
        model, optimizer, loss_fn, clip_norm, jit_compile
    )

    def one_step(iterator):
        per_replica = strategy.run(replica_step, args=(next(iterator),))
        return {
            k: strategy.reduce(tf.distribute.ReduceOp.MEAN, v, axis=None)
            for k, v in per_replica.items()
        }

    run_one = tf.function(one_step, autograph=False)

    @tf.function
    def run_many(iterator, num_steps):
        scalars = one_step(iterator)
        for _ in tf.range(num_steps - 1):
            scalars = one_step(iterator)
        return scalars

    def run(iterator, num_steps):
        if num_steps == 1:  # traced once; the loop version traces twice
            return run_one(iterator)
        return run_many(iterator, tf.constant(num_steps))

    return run


def _duration(seconds):
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m{seconds:02d}s" if minutes else f"{seconds}s"


def _format_scalars(scalars):
    return " ".join(
        f"{k} {v:.4f}" for k, v in scalars.items() if k.endswith("loss")
    )


def train(
    strategy,
    model,
    optimizer,
    loss_fn,
    iterator,
    checkpointer,
    num_train_steps,
    save_checkpoints_steps,
    global_batch_size,
    steps_per_call=1,
    jit_compile=False,
    summary_dir=None,
    log_every_seconds=5.0,
    clip_norm=1.0,
    log=print,
):
    """Trains until the optimizer's step reaches `num_train_steps`.

    The step (`optimizer.iterations`, the original's global_step) comes from
    the restored checkpoint, so re-running resumes. A checkpoint is written
    every `save_checkpoints_steps` steps and at the end; calls of
    `steps_per_call` steps never cross one. Progress is printed at most
    every `log_every_seconds` (and written as TensorBoard scalars to
    `summary_dir`). Returns the last step's scalars as floats.
    `checkpointer` has `save(step)`, `latest` and `last_finite(step)` (the
    newest checkpoint older than `step` whose weights were finite).
    Raises NonFiniteLossError naming the step and the last good checkpoint.
    """
    run = make_train_function(
        strategy, model, optimizer, loss_fn, clip_norm, jit_compile
    )
    writer = None
    if summary_dir:
        writer = tf.summary.create_file_writer(summary_dir)
    step = start_step = int(optimizer.iterations.numpy())
    if step >= num_train_steps:
        log(f"Step {step} >= num_train_steps {num_train_steps}: nothing to do.")
        return {}
    log(f"Training steps {step} -> {num_train_steps}.")
    start = last_time = time.time()
    last_step, last_saved, scalars = step, step, {}
    while step < num_train_steps:
        boundary = (step // save_checkpoints_steps + 1) * save_checkpoints_steps
        count = min(step + steps_per_call, num_train_steps, boundary) - step
        scalars = {k: float(v) for k, v in run(iterator, count).items()}
        previous, step = step, int(optimizer.iterations.numpy())
        if not all(math.isfinite(v) for k, v in scalars.items() if "loss" in k):
            raise NonFiniteLossError(
                _non_finite_message(scalars, previous, count, checkpointer)
            )
        done = step >= num_train_steps
        if (step % save_checkpoints_steps == 0 or done) and step != last_saved:
            checkpointer.save(step)
            last_saved = step
        now = time.time()
        if previous == start_step and not done:
            # The first call includes tracing: leave it out of the rates.
            last_time, last_step = now, step
        elif now - last_time >= log_every_seconds or done:
            rate = (step - last_step) / max(now - last_time, 1e-9)
            _log_progress(
                log,
                writer,
                step,
                num_train_steps,
                scalars,
                rate,
                global_batch_size,
                now - start,
            )
            last_time, last_step = now, step
    elapsed = time.time() - start
    log(
        f"Done: steps {start_step} -> {step} in {_duration(elapsed)} "
        f"({(step - start_step) * global_batch_size / elapsed:.1f} "
        f"examples/s); {_format_scalars(scalars)}; checkpoint "
        f"{checkpointer.latest}"
    )
    return scalars


def _non_finite_message(scalars, previous, count, checkpointer):
    """Names the newest checkpoint whose weights still gave a finite loss:
    the one saved at step `previous` gave the non-finite loss itself (its
    weights make step previous + 1's loss), so it is not it."""
    good = checkpointer.last_finite(previous)
    latest = checkpointer.latest
    if good is None:
        where = (
            "No checkpoint saved before it had a finite loss; restart "
            "from scratch with a lower learning_rate or check the data."
        )
    else:
        newer = (
            ""
            if good == latest
            else (
                f" (first make it the latest: delete the newer checkpoints "
                f"after it, up to {latest})"
            )
        )
        where = (
            f"The last checkpoint whose loss was finite is {good}; resume "
            f"from it{newer} with a lower learning_rate, or check the data."
        )
    return (
        f"Non-finite loss ({_format_scalars(scalars)}) within steps "
        f"{previous + 1}-{previous + count}. {where}"
    )


def _log_progress(
    log, writer, step, total, scalars, steps_rate, batch, elapsed
):
    """One progress line and, with a writer, TensorBoard scalars."""
    eta = _duration((total - step) / steps_rate) if steps_rate > 0 else "?"
    log(
        f"step {step}/{total} ({100.0 * step / total:.1f}%) | "
        f"{_format_scalars(scalars)} | lr {scalars['learning_rate']:.3e} "
        f"grad_norm {scalars['grad_norm']:.3f} | "
        f"{steps_rate * batch:.1f} examples/s | elapsed {_duration(elapsed)} "
        f"ETA {eta}"
    )
    if writer is None:
        return
    values = dict(scalars, examples_per_second=steps_rate * batch)
    with writer.as_default(step=step):
        for name, value in values.items():
            value = tf.constant(value, tf.float32)
            tf.summary.write(name, value, metadata=_SCALAR)
    writer.flush()
