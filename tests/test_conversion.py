"""Original TF1 checkpoints: exact parity on the fixture, strict name table."""

import json
import os
import re

import numpy as np
import pytest
import tensorflow as tf

from electra_tf.config import PretrainingConfig
from electra_tf.checkpoints import (
    CheckpointError,
    CheckpointMismatchError,
    load_discriminator_checkpoint,
    load_pretraining_checkpoint,
    restore_by_name,
    variables_by_name,
)
from electra_tf.models.pretrainer import ElectraPretrainer
from helpers import fixture_path

INPUTS = ["input_ids", "input_mask", "segment_ids", "gen_input_ids", "masked_lm_positions"]
OUTPUTS = [
    "disc_embedding_output",
    "disc_sequence_output",
    "disc_logits",
    "gen_sequence_output",
    "gen_logits",
]


def _fixture():
    folder = fixture_path("original-electra-tiny")
    with open(os.path.join(folder, "hparams.json")) as f:
        meta = json.load(f)
    return folder, meta


def _write_tf1_checkpoint(tensors, prefix):
    """Writes a name-based (TF1-layout) checkpoint of `{name: array}`."""
    names = sorted(tensors)
    tf.raw_ops.SaveV2(
        prefix=prefix,
        tensor_names=names,
        shape_and_slices=[""] * len(names),
        tensors=[tf.constant(tensors[n]) for n in names],
    )
    return prefix


def _fixture_tensors(folder):
    reader = tf.train.load_checkpoint(os.path.join(folder, "model.ckpt"))
    return {n: reader.get_tensor(n) for n in reader.get_variable_to_shape_map()}


def test_original_checkpoint_reproduces_reference_outputs():
    folder, meta = _fixture()
    model = load_pretraining_checkpoint(folder, meta["hparams"])
    reference = np.load(os.path.join(folder, "reference.npz"))
    outputs = model.inference(**{k: reference[k] for k in INPUTS})
    assert sorted(outputs) == sorted(OUTPUTS)
    for key in OUTPUTS:
        got = np.asarray(outputs[key])
        assert got.shape == reference[key].shape, key
        assert np.abs(got - reference[key]).max() < 1e-4, key


def test_name_table_is_total_both_ways():
    """Every model weight has a checkpoint name and every checkpoint
    variable except optimizer state is a model weight, shapes equal."""
    folder, meta = _fixture()
    model = ElectraPretrainer(PretrainingConfig.from_hparams("m", "/tmp", meta["hparams"]))
    table = variables_by_name(model)
    listed = {name: shape for name, shape in meta["variables"]}
    weights = {
        n: s for n, s in listed.items()
        if not n.endswith(("/adam_m", "/adam_v")) and n != "global_step"
    }
    assert sorted(table) == sorted(weights)
    for name, variable in table.items():
        assert list(variable.shape) == weights[name], name
    # Shared embeddings are one set of variables for both networks.
    assert model.generator.embeddings is model.discriminator.embeddings


def test_checkpoint_directory_and_prefix_both_load():
    folder, meta = _fixture()
    a = load_pretraining_checkpoint(folder, meta["hparams"])
    b = load_pretraining_checkpoint(os.path.join(folder, "model.ckpt"), meta["hparams"])
    for x, y in zip(a.weights, b.weights):
        np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize(
    "change, message",
    [
        ("drop", "missing from the checkpoint (1):\n  electra/encoder/layer_1/output/dense/bias"),
        ("extra", "the model does not have (1):\n  electra/encoder/layer_7/output/dense/bias"),
        ("shape", "electra/embeddings_project/bias: checkpoint [65] vs model [64]"),
    ],
)
def test_mismatched_checkpoints_fail_naming_the_variable(tmp_path, change, message):
    folder, meta = _fixture()
    tensors = _fixture_tensors(folder)
    if change == "drop":
        del tensors["electra/encoder/layer_1/output/dense/bias"]
    elif change == "extra":
        tensors["electra/encoder/layer_7/output/dense/bias"] = np.zeros(64, "float32")
    else:
        tensors["electra/embeddings_project/bias"] = np.zeros(65, "float32")
    prefix = _write_tf1_checkpoint(tensors, str(tmp_path / "model.ckpt"))
    with pytest.raises(CheckpointMismatchError) as error:
        load_pretraining_checkpoint(prefix, meta["hparams"])
    assert message in str(error.value)


def test_wrong_hparams_name_the_shapes_and_the_fix():
    folder, meta = _fixture()
    hparams = dict(meta["hparams"], generator_hidden_size=0.75)
    with pytest.raises(CheckpointMismatchError, match="generator_hidden_size") as error:
        load_pretraining_checkpoint(folder, hparams)
    assert "generator/embeddings_project/bias: checkpoint [16] vs model [48]" in str(error.value)


def test_optimizer_slots_and_global_step_are_ignored_not_required(tmp_path):
    folder, meta = _fixture()
    tensors = {
        n: t for n, t in _fixture_tensors(folder).items()
        if not n.endswith(("adam_m", "adam_v")) and n != "global_step"
    }
    prefix = _write_tf1_checkpoint(tensors, str(tmp_path / "model.ckpt"))
    model = load_pretraining_checkpoint(prefix, meta["hparams"])
    np.testing.assert_array_equal(
        model.discriminator.embeddings.word_embeddings,
        tensors["electra/embeddings/word_embeddings"],
    )


def test_discriminator_only_checkpoint_loads_into_the_encoder(tmp_path):
    folder, meta = _fixture()
    tensors = {
        n: t for n, t in _fixture_tensors(folder).items()
        if n.startswith(("electra/", "discriminator_predictions/"))
    }
    prefix = _write_tf1_checkpoint(tensors, str(tmp_path / "model.ckpt"))
    full = load_pretraining_checkpoint(folder, meta["hparams"])
    fresh = ElectraPretrainer(PretrainingConfig.from_hparams("m", "/tmp", meta["hparams"]))
    names = dict(variables_by_name(fresh.discriminator))
    names.update(variables_by_name(fresh.discriminator_predictions))
    assert restore_by_name(names, prefix) == sorted(
        n for n in tensors if not n.endswith(("/adam_m", "/adam_v"))
    )
    reference = np.load(os.path.join(folder, "reference.npz"))
    inputs = {k: reference[k] for k in ("input_ids", "input_mask", "segment_ids")}
    np.testing.assert_array_equal(
        fresh.discriminator_outputs(inputs)["logits"],
        full.discriminator_outputs(inputs)["logits"],
    )
    # Loading the discriminator part from the full checkpoint needs the
    # generator to be declared unused.
    with pytest.raises(CheckpointMismatchError, match="generator/encoder"):
        restore_by_name(names, folder)
    restore_by_name(names, folder, allow_unused=re.compile(r"^generator"))


def test_missing_hparams_and_missing_checkpoint_are_explained(tmp_path):
    folder, _ = _fixture()
    with pytest.raises(CheckpointError, match="Pass the original pre-training hparams"):
        load_pretraining_checkpoint(folder)
    with pytest.raises(CheckpointError, match="holds no known checkpoint"):
        load_pretraining_checkpoint(str(tmp_path), {})


def test_discriminator_encoder_loads_from_full_and_discriminator_only(tmp_path):
    folder, meta = _fixture()
    reference = np.load(os.path.join(folder, "reference.npz"))
    inputs = {k: reference[k] for k in ("input_ids", "input_mask", "segment_ids")}
    tensors = {
        n: t for n, t in _fixture_tensors(folder).items() if n.startswith("electra/")
    }
    only = _write_tf1_checkpoint(tensors, str(tmp_path / "model.ckpt"))
    for path in (folder, only):
        encoder = load_discriminator_checkpoint(path, meta["hparams"])
        np.testing.assert_allclose(
            encoder(inputs)["sequence_output"], reference["disc_sequence_output"], atol=1e-4
        )
    del tensors["electra/encoder/layer_0/output/LayerNorm/beta"]
    broken = _write_tf1_checkpoint(tensors, str(tmp_path / "broken.ckpt"))
    with pytest.raises(CheckpointMismatchError, match="layer_0/output/LayerNorm/beta"):
        load_discriminator_checkpoint(broken, meta["hparams"])
