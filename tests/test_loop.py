"""The generic training loop and checkpoints on a model whose updates can be
computed by hand: clipping, schedule, Adam, cadence, resume, NaN guard,
progress lines and TensorBoard scalars."""

import doctest
import gc
import glob
import os
import weakref

import keras
import numpy as np
import pytest
import tensorflow as tf

from electra_tf.layers.activations import gelu
from electra_tf.optimization import create_optimizer
from electra_tf.checkpoints import CheckpointError, ours
from electra_tf.training import distribution, loop, metrics_writer

# Batches near the initial weights (small gradients) alternate with far
# ones (gradients clipped).
X = np.random.default_rng(0).normal(size=(12, 4, 3)).astype(np.float32)
NOISE = np.random.default_rng(1).normal(size=(12, 4)) * np.tile([0.02, 1.0], 6)[:, None]
Y = (X.sum(-1) + NOISE).astype(np.float32)


def make_model():
    inputs = keras.Input((3,))
    outputs = keras.layers.Dense(1, name="dense", kernel_initializer="ones")(inputs)
    return keras.Model(inputs, outputs)


def loss_fn_for(model, scale=5.0):
    def loss_fn(batch, step):
        pred = model(batch["x"])[:, 0]
        return {"loss": scale * tf.reduce_mean((pred - batch["y"]) ** 2)}

    return loss_fn


def dataset():
    return tf.data.Dataset.from_tensor_slices({"x": X, "y": Y})


def train(model_dir, steps, model=None, optimizer=None, save_every=2, keep=3,
          loss_fn=None, lines=None, **kwargs):
    strategy = tf.distribute.get_strategy()
    model = model or make_model()
    optimizer = optimizer or create_optimizer(
        0.1, 6, weight_decay_rate=0.01, warmup_steps=2
    )
    optimizer.build(model.trainable_variables)
    iterator = iter(dataset())
    ckpt = ours.Checkpointer(
        str(model_dir), keep, model, optimizer, iterator=iterator
    )
    message = ckpt.restore_or_initialize()
    lines = [] if lines is None else lines
    loop.train(
        strategy, model, optimizer, loss_fn or loss_fn_for(model), iterator,
        ckpt, steps, save_every, 4, log=lines.append, **kwargs
    )
    return model, optimizer, message


def numpy_training(steps, lr=0.1, total=6, warmup=2, decay=0.01, scale=5.0):
    """Loss scale*mean((x·k + b - y)^2): gradients, clip at 1.0, the
    schedule and Adam without bias correction, by hand."""
    k, b = np.ones(3), np.zeros(1)
    m = [np.zeros(3), np.zeros(1)]
    v = [np.zeros(3), np.zeros(1)]
    norms = []
    for step in range(steps):
        x, y = X[step].astype(np.float64), Y[step].astype(np.float64)
        err = x @ k + b[0] - y
        grads = [scale * 2 * x.T @ err / 4, np.array([scale * 2 * err.mean()])]
        norm = np.sqrt(sum((g**2).sum() for g in grads))
        norms.append(norm)
        grads = [g / max(norm, 1.0) for g in grads]
        rate = lr * (1 - min(step, total) / total) * min(1.0, step / warmup)
        params = [k, b]
        for i, g in enumerate(grads):
            m[i] = 0.9 * m[i] + 0.1 * g
            v[i] = 0.999 * v[i] + 0.001 * g * g
            update = m[i] / (np.sqrt(v[i]) + 1e-6)
            if i == 0:  # the kernel decays, the bias does not
                update = update + decay * params[i]
            params[i] = params[i] - rate * update
        k, b = params
    return k, b, norms


def test_updates_equal_hand_computation(tmp_path):
    model, optimizer, message = train(tmp_path, 5)
    k, b, norms = numpy_training(5)
    assert message == "started from scratch"
    assert min(norms) < 1.0 < max(norms)  # both clipped and unclipped steps
    np.testing.assert_allclose(model.get_layer("dense").kernel.numpy()[:, 0], k, rtol=1e-5)
    np.testing.assert_allclose(model.get_layer("dense").bias.numpy(), b, rtol=1e-5, atol=1e-7)
    assert int(optimizer.iterations) == 5


def test_loss_scale_optimizer_and_xla_give_the_same_updates(tmp_path):
    want = numpy_training(4)[0]
    scaled = keras.optimizers.LossScaleOptimizer(
        create_optimizer(0.1, 6, weight_decay_rate=0.01, warmup_steps=2)
    )
    model, _, _ = train(tmp_path / "lso", 4, optimizer=scaled)
    np.testing.assert_allclose(model.get_layer("dense").kernel.numpy()[:, 0], want, rtol=1e-5)
    model, _, _ = train(tmp_path / "xla", 4, jit_compile=True)
    np.testing.assert_allclose(model.get_layer("dense").kernel.numpy()[:, 0], want, rtol=1e-5)


def test_checkpoint_cadence_and_keep(tmp_path):
    train(tmp_path, 5, save_every=2, keep=2)
    state = tf.train.get_checkpoint_state(str(tmp_path))
    names = [os.path.basename(p) for p in state.all_model_checkpoint_paths]
    assert names == ["model.ckpt-4", "model.ckpt-5"]
    assert sorted(os.listdir(tmp_path)) == [
        "checkpoint", "input_state",
        "model.ckpt-4.data-00000-of-00001", "model.ckpt-4.index",
        "model.ckpt-5.data-00000-of-00001", "model.ckpt-5.index",
    ]
    inputs = glob.glob(str(tmp_path / "input_state" / "worker_0" / "ckpt-*.index"))
    assert sorted(os.path.basename(p) for p in inputs) == ["ckpt-4.index", "ckpt-5.index"]


def test_resume_equals_uninterrupted_run(tmp_path):
    straight, _, _ = train(tmp_path / "straight", 6)
    train(tmp_path / "split", 3)
    resumed, optimizer, message = train(tmp_path / "split", 6)
    assert message == f"resumed from {tmp_path / 'split' / 'model.ckpt-3'}"
    for a, b in zip(resumed.weights, straight.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert int(optimizer.iterations) == 6
    lines = []
    train(tmp_path / "split", 6, lines=lines)
    assert lines == ["Step 6 >= num_train_steps 6: nothing to do."]


def test_half_written_checkpoint_is_ignored_and_removed(tmp_path):
    train(tmp_path, 4)
    # a crash while writing model.ckpt-6: its files exist, the index file
    # is not updated yet
    for name in ("model.ckpt-6.index", "model.ckpt-6.data-00000-of-00001",
                 "model.ckpt-6.data-00000-of-00001.tempstate123"):
        (tmp_path / name).write_bytes(b"partial")
    (tmp_path / "ckpt-6_temp").mkdir()
    model, optimizer, message = train(tmp_path, 4)
    assert message.endswith("model.ckpt-4") and int(optimizer.iterations) == 4
    assert not [n for n in os.listdir(tmp_path) if "6" in n]
    os.remove(tmp_path / "input_state" / "worker_0" / "ckpt-4.index")
    with pytest.raises(CheckpointError, match="input position"):
        train(tmp_path, 5)


def test_initialize_runs_only_without_our_checkpoint(tmp_path):
    model = make_model()
    ckpt = ours.Checkpointer(str(tmp_path), 1, model)
    calls = []
    assert ckpt.restore_or_initialize(lambda p: calls.append(p) or "init") == "init"
    assert calls == [None]
    ckpt.save(1)
    assert ckpt.restore_or_initialize(lambda p: calls.append(p)).startswith("resumed")
    assert calls == [None]


def test_non_finite_loss_stops_naming_step_and_checkpoint(tmp_path):
    model = make_model()

    def loss_fn(batch, step):
        loss = loss_fn_for(model)(batch, step)["loss"]
        return {"loss": tf.where(step >= 3, np.nan, loss)}

    with pytest.raises(loop.NonFiniteLossError) as error:
        train(tmp_path, 6, model=model, loss_fn=loss_fn)
    message = str(error.value)
    assert "within steps 4-4" in message
    # model.ckpt-2's weights gave step 3 a finite loss; nothing newer exists
    assert f"last checkpoint whose loss was finite is {tmp_path / 'model.ckpt-2'}" in message
    assert "lower learning_rate" in message


def test_progress_lines_and_tensorboard_scalars(tmp_path):
    model = make_model()

    def loss_fn(batch, step):
        # a scalar that is not a loss: logged and written all the same
        epoch = tf.cast(step + 1, tf.float32) / 4
        return dict(loss_fn_for(model)(batch, step), epoch=epoch)

    lines = []
    train(tmp_path, 5, model=model, loss_fn=loss_fn, lines=lines,
          log_every_seconds=0.0, summary_dir=str(tmp_path))
    assert lines[0] == "Training steps 0 -> 5."
    progress = [l for l in lines if l.startswith("step ")]
    # every step but the first (tracing) call
    assert [l.split()[1] for l in progress] == ["2/5", "3/5", "4/5", "5/5"]
    assert "(60.0%)" in progress[1] and "examples/s" in progress[1]
    assert "ETA" in progress[1]
    # step 3's loss, by hand: the weights after steps 1-2, batch 2
    k, b, _ = numpy_training(2)
    loss = 5.0 * np.mean((X[2] @ k + b[0] - Y[2]) ** 2)
    assert f"| loss {loss:.4f} epoch 0.7500 | " in progress[1]
    lr_step2 = 0.1 * (1 - 2 / 6)  # the rate used by step 3 (global_step 2)
    assert f"lr {lr_step2:.3e}" in progress[1]
    assert lines[-1].startswith("Done: steps 0 -> 5") and "ckpt-5" in lines[-1]
    assert "epoch 1.2500; checkpoint" in lines[-1]
    values = {}
    for path in glob.glob(str(tmp_path / "events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(path):
            for value in event.summary.value:
                number = tf.make_ndarray(value.tensor)
                values.setdefault(value.tag, {})[event.step] = float(number)
    assert set(values) == {
        "loss", "epoch", "learning_rate", "grad_norm", "examples_per_second"
    }
    assert values["learning_rate"][3] == pytest.approx(lr_step2)
    assert values["epoch"] == {2: 0.5, 3: 0.75, 4: 1.0, 5: 1.25}
    assert values["loss"][3] == pytest.approx(loss, rel=1e-5)
    few = []
    train(tmp_path / "quiet", 5, lines=few, log_every_seconds=1e9)
    assert [l.split()[1] for l in few if l.startswith("step ")] == ["5/5"]


def test_global_batch_must_split_evenly_and_strategy_names():
    class ThreeReplicas:
        num_replicas_in_sync = 3

    with pytest.raises(ValueError, match="train_batch_size 8 is not divisible by the 3"):
        distribution.check_global_batch(8, ThreeReplicas())
    distribution.check_global_batch(9, ThreeReplicas())
    assert distribution.resolve_strategy_name("auto") == "default"
    assert distribution.resolve_strategy_name("auto", use_tpu=True) == "tpu"
    with pytest.raises(ValueError, match="Unknown distribution_strategy 'gpu'"):
        distribution.resolve_strategy_name("gpu")


def test_a_traced_train_step_does_not_keep_its_input_iterator_alive():
    """The train function takes DistributedInput's iterator as an input, not
    a capture: TF never frees a graph that used tf.custom_gradient (GELU),
    and an iterator it captured would live until interpreter exit."""
    strategy = tf.distribute.get_strategy()
    model = make_model()
    optimizer = create_optimizer(0.1, 6, warmup_steps=2)
    inputs = distribution.DistributedInput(
        strategy, lambda context: dataset().prefetch(1)
    )
    handle = weakref.ref(inputs.iterator._iterator_resource)

    def loss_fn(batch, step):
        pred = gelu(model(batch["x"]))[:, 0]
        return {"loss": tf.reduce_mean((pred - batch["y"]) ** 2)}

    run = loop.make_train_function(strategy, model, optimizer, loss_fn)
    run(inputs, 1)
    run(inputs, 2)
    assert int(optimizer.iterations) == 3
    del inputs, run
    gc.collect()
    assert handle() is None


def test_rng_state_variables_are_the_dropout_seeds():
    inputs = keras.Input((3,))
    x = keras.layers.Dropout(0.5)(keras.layers.Dense(2)(inputs))
    model = keras.Model(inputs, keras.layers.Dropout(0.5)(x))
    states = ours.rng_state_variables(model)
    assert sorted(states) == ["electra_tf/rng/0", "electra_tf/rng/1"]
    assert all(v.path.endswith("seed_generator_state") for v in states.values())


def test_docstring_examples_run():
    finder, runner = doctest.DocTestFinder(), doctest.DocTestRunner()
    for module in (loop, metrics_writer):
        for test in finder.find(module, globs=vars(module)):
            runner.run(test)
    assert runner.failures == 0 and runner.tries >= 7
