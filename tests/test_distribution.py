"""Strategies: MirroredStrategy over 2 logical CPUs equals the default
strategy; per-replica clipping; MultiWorkerMirroredStrategy with 2 local
worker processes trains, checkpoints and resumes. Each case runs in a fresh
Python because logical devices and collectives are set up at TF start."""

import json
import os
import socket

import numpy as np
import pytest
import tensorflow as tf

from electra_tf.checkpoints import load_pretraining_checkpoint
from helpers import finish_script, run_script, start_script
from pretraining_helpers import make_data_dir


@pytest.mark.slow
def test_mirrored_two_cpus_equals_default_without_clipping(tmp_path):
    """Same global batch and masks: the replicas' averaged gradients equal
    the whole batch's (clipping off, so only the averaging is compared)."""
    make_data_dir(str(tmp_path), n_examples=8)
    out = run_script("mirrored_equals_default.py", tmp_path, 1e9)
    assert "mirrored 2" in out and "max weight difference" in out


def test_mirrored_clips_each_replica_then_averages():
    run_script("per_replica_clip.py")


def _free_ports(n):
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def _run_workers(data_dir, steps):
    ports = _free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    hparams = dict(
        num_train_steps=steps,
        save_checkpoints_steps=2,
        train_batch_size=8,
        distribution_strategy="multi_worker",
    )
    procs = [
        start_script(
            "pretrain_tiny.py", data_dir, "multi", json.dumps(hparams),
            env={"TF_CONFIG": json.dumps(
                {"cluster": cluster, "task": {"type": "worker", "index": i}}
            )},
        )
        for i in range(2)
    ]
    try:
        return [finish_script(proc, timeout=240) for proc in procs]
    finally:
        for proc in procs:
            proc.kill()


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
