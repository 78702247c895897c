"""Shared test helpers: the fixtures location and common asserts."""

import os

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))

# Reference data made by running the original code; override with
# ELECTRA_TF_FIXTURES to run the tests from another checkout.
FIXTURES_DIR = os.environ.get(
    "ELECTRA_TF_FIXTURES",
    os.path.normpath(os.path.join(HERE, os.pardir, os.pardir, "shared", "fixtures")),
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


def randomize_weights(model, seed=0, scale=0.05):
    """Sets every weight to random values (LayerNorm gamma near 1), as the
    fixture does, so parity tests are not helped by zero biases."""
    import numpy as np

    rng = np.random.default_rng(seed)
    for variable in model.weights:
        value = rng.normal(0.0, scale, variable.shape)
        if variable.path.endswith("gamma"):
            value = 1.0 + rng.normal(0.0, 0.1, variable.shape)
        variable.assign(value.astype("float32"))


def encoder_batch(seed=0, batch=3, length=9, vocab=99):
    """int32 inputs with padding (rows 1 and 2) and both segment ids."""
    import numpy as np

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


def assert_config_round_trip(layer):
    """get_config -> from_config gives an object with the same config."""
    clone = type(layer).from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()
    return clone


def assert_keras_file_round_trip(model, inputs, tmp_path):
    """A model saved to .keras and loaded gives identical outputs."""
    import keras
    import numpy as np

    path = str(tmp_path / "model.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    expected = keras.tree.flatten(model(inputs))
    actual = keras.tree.flatten(loaded(inputs))
    assert len(expected) == len(actual)
    for want, got in zip(expected, actual):
        np.testing.assert_array_equal(np.asarray(got), np.asarray(want))
    return loaded
