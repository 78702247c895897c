"""Strategies: MirroredStrategy over 2 logical CPUs equals the default
strategy; per-replica clipping; MultiWorkerMirroredStrategy with 2 local
worker processes trains, checkpoints and resumes. Each case runs in a fresh
Python because logical devices and collectives are set up at TF start."""

import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from electra_tf.checkpoints import load_pretraining_checkpoint
from pretraining_helpers import HERE, ROOT, make_data_dir, run_python

TWO_CPUS = """
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(
    cpu, [tf.config.LogicalDeviceConfiguration()] * 2
)
"""

MIRRORED_EQUALS_DEFAULT = TWO_CPUS + """
import sys
import numpy as np
import keras
sys.path.insert(0, {tests!r})
from pretraining_helpers import random_examples, tiny_config
from electra_tf.models.pretrainer import ElectraPretrainer
from electra_tf.optimization import create_optimizer
from electra_tf.tokenization import special_ids
from electra_tf.training import loop
from electra_tf.training.distribution import DistributedInput

# full rows: every replica's local batch has the same number of tokens
rows = random_examples(8, 16, seed=5, min_tokens=13)
data = {{k: np.array(v, np.int32) for k, v in
        zip(("input_ids", "input_mask", "segment_ids"), zip(*rows))}}
data["input_mask"][:] = 1
config = tiny_config({data_dir!r},
    model_hparam_overrides=dict(hidden_size=32, num_hidden_layers=2,
        num_attention_heads=2, intermediate_size=48, max_position_embeddings=32,
        hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0))
initial = None
results = {{}}
for name in ("default", "mirrored"):
    strategy = (tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
                if name == "mirrored" else tf.distribute.get_strategy())
    with strategy.scope():
        model = ElectraPretrainer(config, special_ids(config.vocab_file))
        optimizer = create_optimizer(1e-3, 10, weight_decay_rate=0.01)
        optimizer.build(model.trainable_variables)
    if initial is None:
        initial = [v.numpy() for v in model.weights]
    for v, value in zip(model.weights, initial):
        v.assign(value)
    optimizer.iterations.assign(3)  # a step with a non-zero learning rate
    iterator = DistributedInput(strategy, lambda context: tf.data.Dataset
        .from_tensor_slices(data).repeat()
        .batch(context.get_per_replica_batch_size(8)))

    def loss_fn(batch, step):
        return {{"loss": model.compute_losses(batch, step)["total_loss"]}}

    run = loop.make_train_function(strategy, model, optimizer, loss_fn,
                                   clip_norm={clip_norm})
    out = run(iterator, 1)
    results[name] = ([v.numpy() for v in model.weights], float(out["loss"]),
                     float(out["grad_norm"]))
    print(name, strategy.num_replicas_in_sync, results[name][1:])
(wd, ld, nd), (wm, lm, nm) = results["default"], results["mirrored"]
assert abs(ld - lm) < 1e-5, (ld, lm)
diff = max(float(np.max(np.abs(a - b))) for a, b in zip(wd, wm))
moved = max(float(np.max(np.abs(a - b))) for a, b in zip(wd, initial))
print("max weight difference", diff, "largest update", moved)
assert diff < 1e-5 and moved > 1e-4
"""

PER_REPLICA_CLIP = TWO_CPUS + """
import numpy as np
import keras
from electra_tf.optimization import create_optimizer
from electra_tf.training import loop

x = np.random.default_rng(0).normal(size=(3, 8, 2)).astype(np.float32)
y = np.random.default_rng(1).normal(size=(3, 8)).astype(np.float32) * 3
strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
with strategy.scope():
    kernel = keras.Variable(np.ones((2,), np.float32), name="kernel")
    model = type("M", (), {{"trainable_variables": [kernel]}})()
    optimizer = create_optimizer(0.1, 100)

def loss_fn(batch, step):
    pred = tf.linalg.matvec(batch["x"], kernel)
    return {{"loss": tf.reduce_mean((pred - batch["y"]) ** 2)}}

dataset = tf.data.Dataset.from_tensor_slices({{"x": x, "y": y}})
iterator = iter(strategy.experimental_distribute_dataset(dataset))
run = loop.make_train_function(strategy, model, optimizer, loss_fn)
for _ in range(3):
    run(iterator, 1)

def numpy_run(per_replica):
    k, m, v = np.ones(2), np.zeros(2), np.zeros(2)
    for step in range(3):
        def grad(xs, ys):
            return 2 * xs.T @ (xs @ k - ys) / len(ys)
        def clip(g):
            return g / max(np.linalg.norm(g), 1.0)
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
"""


@pytest.mark.slow
def test_mirrored_two_cpus_equals_default_without_clipping(tmp_path):
    """Same global batch and masks: the replicas' averaged gradients equal
    the whole batch's (clipping off, so only the averaging is compared)."""
    make_data_dir(str(tmp_path), n_examples=8)
    out = run_python(
        MIRRORED_EQUALS_DEFAULT.format(
            tests=HERE, data_dir=str(tmp_path), clip_norm=1e9
        )
    )
    assert "mirrored 2" in out.stdout and "max weight difference" in out.stdout


def test_mirrored_clips_each_replica_then_averages():
    out = run_python(PER_REPLICA_CLIP.format())
    assert out.returncode == 0


def _free_ports(n):
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


WORKER = """
import sys
sys.path.insert(0, {tests!r})
from pretraining_helpers import tiny_config
import electra_tf.pretraining.runner
config = tiny_config({data_dir!r}, "multi", num_train_steps={steps},
                     save_checkpoints_steps=2, train_batch_size=8,
                     distribution_strategy="multi_worker")
electra_tf.pretraining.runner.run(config)
"""


def _run_workers(data_dir, steps):
    ports = _free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    procs = []
    for index in range(2):
        tf_config = {"cluster": cluster, "task": {"type": "worker", "index": index}}
        env = dict(
            os.environ,
            TF_CONFIG=json.dumps(tf_config),
            TF_CPP_MIN_LOG_LEVEL="2",
            PYTHONPATH=ROOT,
        )
        code = WORKER.format(tests=HERE, data_dir=data_dir, steps=steps)
        procs.append(
            subprocess.Popen(
                [sys.executable, "-c", code],
                cwd=ROOT,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    outputs = []
    for proc in procs:
        try:
            out, err = proc.communicate(timeout=240)
        except subprocess.TimeoutExpired:
            for p in procs:
                p.kill()
            raise
        assert proc.returncode == 0, err[-4000:]
        outputs.append(out)
    return outputs


@pytest.mark.slow
def test_multi_worker_two_processes_train_checkpoint_and_resume(tmp_path):
    data_dir = make_data_dir(str(tmp_path), n_examples=128, n_files=4)
    chief, other = _run_workers(data_dir, 4)
    assert "started from scratch" in chief and "step 4/4" in chief
    assert other == ""  # only the chief prints
    model_dir = os.path.join(data_dir, "models", "multi")
    assert tf.train.latest_checkpoint(model_dir).endswith("ckpt-4")
    for worker in (0, 1):
        state = os.path.join(model_dir, "input_state", f"worker_{worker}")
        assert tf.train.latest_checkpoint(state).endswith("ckpt-4")
    before = load_pretraining_checkpoint(os.path.join(model_dir, "model.ckpt-4"))
    chief, _ = _run_workers(data_dir, 6)
    assert "resumed from" in chief and "ckpt-4" in chief
    assert "Training steps 4 -> 6." in chief and "step 6/6" in chief
    after = load_pretraining_checkpoint(model_dir)
    kernel = "electra/encoder/layer_0/attention/self/query/kernel"
    values = [
        {v.path: v.numpy() for v in m.weights}[kernel] for m in (before, after)
    ]
    assert not np.array_equal(*values)
