"""The shared test harness: fixtures location, the toy vocab, the tiny
configs, random weights and batches, the serialization and gradient-coverage
asserts, and the runner of the scripts under tests/scripts/."""

import json
import os
import subprocess
import sys
import tempfile

import keras
import numpy as np
import pytest
import tensorflow as tf

from electra_tf.config import ModelConfig, PretrainingConfig

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SCRIPTS = os.path.join(HERE, "scripts")

# Reference data made by running the original code; override with
# ELECTRA_TF_FIXTURES to run the tests from another checkout.
FIXTURES_DIR = os.environ.get(
    "ELECTRA_TF_FIXTURES",
    os.path.normpath(os.path.join(ROOT, os.pardir, "shared", "fixtures")),
)


def fixture_path(*parts):
    """Path under the fixtures folder; skips the test, saying why, if absent."""
    path = os.path.join(FIXTURES_DIR, *parts)
    if not os.path.exists(path):
        pytest.skip(
            f"fixture {path} not found; set ELECTRA_TF_FIXTURES to the "
            "shared/fixtures folder"
        )
    return path


# -- The toy vocab: the specials at ids 0-4, then words w0, w1, ... ---------

SPECIALS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
CLS, SEP, MASK = 2, 3, 4
VOCAB_SIZE = 99


def write_vocab(path, words=VOCAB_SIZE):
    """Writes the specials then `words`: a list of tokens, or a total vocab
    size filled with w0, w1, ... (word wK has id 5 + K). `path` may be a
    folder, which gets a vocab.txt. Returns the file's path."""
    path = str(path)
    if os.path.isdir(path):
        path = os.path.join(path, "vocab.txt")
    if isinstance(words, int):
        words = [f"w{k}" for k in range(words - len(SPECIALS))]
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join([*SPECIALS, *words]) + "\n")
    return path


# -- The tiny model: discriminator 32 wide, generator 16, two layers each ---

TINY = {
    "vocab_size": VOCAB_SIZE,
    "model_hparam_overrides": {
        "hidden_size": 32,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "intermediate_size": 48,
        "max_position_embeddings": 32,
    },
    "embedding_size": 16,
    "generator_hidden_size": 0.5,
    "max_seq_length": 16,
    "train_batch_size": 8,
    "eval_batch_size": 8,
    "num_warmup_steps": 2,
    "learning_rate": 1e-3,
}
_TOP_LEVEL_MODEL_KEYS = ("vocab_size", "embedding_size")


def tiny_model_config(**fields):
    """The tiny discriminator's ModelConfig with `fields` changed."""
    values = {k: TINY[k] for k in _TOP_LEVEL_MODEL_KEYS}
    values.update(TINY["model_hparam_overrides"], **fields)
    return ModelConfig(**values)


def tiny_config(data_dir="/tmp/electra", model_name="tiny", **hparams):
    """A PretrainingConfig of the tiny model over `data_dir`. ModelConfig
    fields among `hparams` change `model_hparam_overrides` one by one; a
    `model_hparam_overrides` argument replaces them all."""
    overrides = dict(
        hparams.pop("model_hparam_overrides", TINY["model_hparam_overrides"])
    )
    values = dict(TINY, model_hparam_overrides=overrides)
    for key, value in hparams.items():
        model_field = key in ModelConfig.__dataclass_fields__
        if model_field and key not in _TOP_LEVEL_MODEL_KEYS:
            overrides[key] = value
        else:
            values[key] = value
    return PretrainingConfig.from_hparams(model_name, str(data_dir), values)


# -- Weights and batches ----------------------------------------------------


def randomize_weights(model, seed=0, scale=0.05):
    """Sets every weight to random values (LayerNorm gamma near 1), as the
    fixture does, so parity tests are not helped by zero biases."""
    rng = np.random.default_rng(seed)
    for variable in model.weights:
        value = rng.normal(0.0, scale, variable.shape)
        if variable.path.endswith("gamma"):
            value = 1.0 + rng.normal(0.0, 0.1, variable.shape)
        variable.assign(value.astype("float32"))


def encoder_batch(seed=0, batch=3, length=9, vocab=VOCAB_SIZE):
    """int32 inputs with padding (rows 1 and 2) and both segment ids."""
    rng = np.random.default_rng(seed)
    input_ids = rng.integers(5, vocab, (batch, length)).astype("int32")
    lengths = [length, length - 3, 4][:batch]
    input_mask = np.zeros((batch, length), "int32")
    segment_ids = np.zeros((batch, length), "int32")
    for row, n in enumerate(lengths):
        input_mask[row, :n] = 1
        segment_ids[row, n // 2 : n] = 1
    input_ids = input_ids * input_mask
    return {
        "input_ids": input_ids,
        "input_mask": input_mask,
        "segment_ids": segment_ids,
    }


# -- Asserts ----------------------------------------------------------------


def _call(layer, inputs):
    """A list or tuple is passed as positional arguments, a dict as one."""
    if isinstance(inputs, (list, tuple)):
        return layer(*inputs)
    return layer(inputs)


def _assert_same_outputs(got, want):
    got, want = keras.tree.flatten(got), keras.tree.flatten(want)
    assert len(got) == len(want)
    for a, b in zip(got, want):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def _as_model(layer, inputs):
    """A functional Model around a plain layer, so that it saves to .keras."""
    if isinstance(layer, keras.Model):
        return layer
    symbolic = [
        keras.Input(shape=a.shape[1:], batch_size=a.shape[0], dtype=a.dtype)
        for a in inputs
    ]
    return keras.Model(symbolic, layer(*symbolic))


def assert_layer_round_trip(layer, inputs):
    """get_config -> from_config gives the same config and, with the same
    weights, identical outputs; saving to .keras and loading gives the same
    variable paths and identical outputs. `inputs`: a list of positional
    arrays, or one dict. Returns the loaded model."""
    want = _call(layer, inputs)
    config = layer.get_config()
    clone = type(layer).from_config(config)
    assert json.dumps(clone.get_config(), sort_keys=True) == json.dumps(
        config, sort_keys=True
    )
    _call(clone, inputs)  # builds the clone's variables
    clone.set_weights(layer.get_weights())
    _assert_same_outputs(_call(clone, inputs), want)
    model = _as_model(layer, inputs)
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "model.keras")
        model.save(path)
        loaded = keras.saving.load_model(path)
    assert [v.path for v in loaded.weights] == [v.path for v in model.weights]
    got = _call(loaded, inputs) if model is layer else loaded(list(inputs))
    _assert_same_outputs(got, want)
    return loaded


def assert_gradient_coverage(model, loss_fn, inputs, untrained=(), atol=0.0):
    """Every trainable variable of `model` gets a nonzero gradient from
    `loss_fn(model, inputs)`, except those whose path starts with one of
    `untrained`: their gradient must be absent or within `atol` of zero."""
    with tf.GradientTape() as tape:
        loss = loss_fn(model, inputs)
    variables = model.trainable_variables
    grads = tape.gradient(loss, variables)
    dead, leaking = [], []
    for variable, grad in zip(variables, grads):
        size = 0.0 if grad is None else np.abs(tf.convert_to_tensor(grad)).max()
        if variable.path.startswith(tuple(untrained)):
            if size > atol:
                leaking.append(variable.path)
        elif size == 0.0:
            dead.append(variable.path)
    assert not dead, f"no gradient reaches {dead}"
    assert not leaking, f"a gradient reaches {leaking}"


# -- Scripts under tests/scripts, run in a fresh Python ----------------------


def start_script(name, *args, env=None, cwd=ROOT):
    """Starts `python tests/scripts/<name> args...` with this checkout
    first on the path; returns the Popen (text pipes)."""
    full_env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=ROOT)
    full_env.update(env or {})
    return subprocess.Popen(
        [sys.executable, os.path.join(SCRIPTS, name), *map(str, args)],
        cwd=cwd,
        env=full_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish_script(proc, timeout=300):
    """Waits for a started script; asserts it succeeded; returns stdout."""
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    assert (
        proc.returncode == 0
    ), f"script failed ({proc.returncode}):\n{out}\n{err[-4000:]}"
    return out


def run_script(name, *args, env=None, timeout=300):
    """Runs a script under tests/scripts to success; returns its stdout."""
    return finish_script(start_script(name, *args, env=env), timeout)
