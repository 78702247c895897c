"""A pre-training run killed with SIGKILL and re-run ends with the same
weights, Adam slots and step as an uninterrupted run (dropout on, so the
RNG state and the input position must both be restored)."""

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf

from pretraining_helpers import HERE, ROOT, make_data_dir

STEPS = 160

RUN = """
import sys
sys.path.insert(0, {tests!r})
from pretraining_helpers import tiny_config
import electra_tf.pretraining.runner
config = tiny_config({data_dir!r}, {name!r}, num_train_steps={steps},
                     save_checkpoints_steps=10, keep_checkpoint_max=2)
electra_tf.pretraining.runner.run(config)
"""


def _start(data_dir, name):
    code = RUN.format(tests=HERE, data_dir=data_dir, name=name, steps=STEPS)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=ROOT)
    return subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _finish(proc):
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err[-4000:]
    return out


def _state(model_dir):
    reader = tf.train.load_checkpoint(tf.train.latest_checkpoint(model_dir))
    names = reader.get_variable_to_shape_map()
    return {n: reader.get_tensor(n) for n in names}


@pytest.mark.slow
def test_sigkill_then_rerun_equals_uninterrupted(tmp_path):
    data_dir = make_data_dir(str(tmp_path), n_examples=256, n_files=3)
    straight = _start(data_dir, "straight")
    killed = _start(data_dir, "killed")
    model_dir = os.path.join(data_dir, "models", "killed")
    deadline = time.time() + 240
    while time.time() < deadline and killed.poll() is None:
        latest = tf.train.latest_checkpoint(model_dir)
        if latest and int(latest.rsplit("-", 1)[1]) >= 20:
            os.kill(killed.pid, signal.SIGKILL)
            break
        time.sleep(0.02)
    killed.wait(timeout=60)
    assert killed.returncode == -signal.SIGKILL, "the run ended before the kill"
    at_kill = tf.train.latest_checkpoint(model_dir)
    assert int(at_kill.rsplit("-", 1)[1]) < STEPS
    out = _finish(_start(data_dir, "killed"))
    assert f"resumed from {model_dir}/model.ckpt-" in out and f"step {STEPS}/{STEPS}" in out
    _finish(straight)
    a = _state(os.path.join(data_dir, "models", "straight"))
    b = _state(model_dir)
    assert sorted(a) == sorted(b) and len(a) > 100
    for name in a:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)
    assert int(a["global_step"]) == STEPS
    assert len([n for n in a if n.endswith("/adam_m")]) > 30
