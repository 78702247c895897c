"""MirroredStrategy over two logical CPUs clips each replica's gradients
by global norm 1.0, then averages: three Adam steps of a linear model
against NumPy, and differing from clipping the averaged gradient."""

from logical_cpus import use_logical_cpus

use_logical_cpus(2)

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from electra_tf.optimization import create_optimizer  # noqa: E402
from electra_tf.training import loop  # noqa: E402

x = np.random.default_rng(0).normal(size=(3, 8, 2)).astype(np.float32)
y = np.random.default_rng(1).normal(size=(3, 8)).astype(np.float32) * 3
strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
with strategy.scope():
    kernel = keras.Variable(np.ones((2,), np.float32), name="kernel")
    model = type("M", (), {"trainable_variables": [kernel]})()
    optimizer = create_optimizer(0.1, 100)


def loss_fn(batch, step):
    pred = tf.linalg.matvec(batch["x"], kernel)
    return {"loss": tf.reduce_mean((pred - batch["y"]) ** 2)}


dataset = tf.data.Dataset.from_tensor_slices({"x": x, "y": y})
iterator = iter(strategy.experimental_distribute_dataset(dataset))
run = loop.make_train_function(strategy, model, optimizer, loss_fn)
for _ in range(3):
    run(iterator, 1)


def numpy_run(per_replica):
    k, m, v = np.ones(2), np.zeros(2), np.zeros(2)

    def grad(xs, ys):
        return 2 * xs.T @ (xs @ k - ys) / len(ys)

    def clip(g):
        return g / max(np.linalg.norm(g), 1.0)

    for step in range(3):
        xs, ys = x[step].astype(float), y[step].astype(float)
        if per_replica:
            g = (clip(grad(xs[:4], ys[:4])) + clip(grad(xs[4:], ys[4:]))) / 2
        else:
            g = clip(grad(xs, ys))
        m = 0.9 * m + 0.1 * g
        v = 0.999 * v + 0.001 * g * g
        k = k - 0.1 * (1 - step / 100) * m / (np.sqrt(v) + 1e-6)
    return k


want, global_clip = numpy_run(True), numpy_run(False)
print(kernel.numpy(), want, global_clip)
np.testing.assert_allclose(kernel.numpy(), want, rtol=1e-5)
assert np.max(np.abs(want - global_clip)) > 1e-3
