"""Conversion between formats: the original layout out (names and shapes
exactly those of the original code's checkpoint), exact round trips, the
convert CLI, and 0.1 checkpoints converted by their own config."""

import dataclasses
import json
import os

import numpy as np
import pytest
import tensorflow as tf

import electra_tf
import electra_tf.pretraining.runner
from electra_tf import checkpoints
from electra_tf.checkpoints import ours
from electra_tf.convert import convert
from electra_tf.models.pretrainer import ElectraPretrainer
from electra_tf.optimization import create_optimizer
from helpers import fixture_path
from pretraining_helpers import make_data_dir, run_python, tiny_config


def fixture_hparams():
    with open(fixture_path("original-electra-tiny", "hparams.json")) as f:
        return json.load(f)


def listing(prefix):
    return sorted([n, list(s)] for n, s in tf.train.list_variables(prefix))


def tensors(prefix, keep=lambda n: True):
    reader = tf.train.load_checkpoint(prefix)
    return {
        n: reader.get_tensor(n)
        for n in reader.get_variable_to_shape_map()
        if keep(n)
    }


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A 3-step pre-training run with the fixture's config, also writing
    the original layout during training."""
    tmp_path = tmp_path_factory.mktemp("run")
    data_dir = make_data_dir(str(tmp_path), n_examples=32)
    hparams = dict(
        fixture_hparams()["hparams"],
        max_seq_length=16,
        train_batch_size=4,
        num_train_steps=3,
        save_checkpoints_steps=3,
        num_warmup_steps=1,
        learning_rate=1e-3,
        write_original_checkpoint=True,
    )
    config = electra_tf.PretrainingConfig.from_hparams("fx", data_dir, hparams)
    electra_tf.pretraining.runner.run(config, log=lambda line: None)
    return config


def test_original_layout_lists_exactly_the_original_variables(trained, tmp_path):
    want = sorted([n, list(s)] for n, s in fixture_hparams()["variables"])
    assert len(want) == 247 and ["global_step", []] in want
    during = os.path.join(trained.model_dir, "original")
    assert listing(tf.train.latest_checkpoint(during)) == want
    assert tf.train.latest_checkpoint(during).endswith("model.ckpt-3")
    lines = []
    out = str(tmp_path / "orig")
    convert(trained.model_dir, "original", out, log=lines.append)
    assert lines[0].startswith(f"Found format 'ours' at {trained.model_dir}")
    assert listing(tf.train.latest_checkpoint(out)) == want
    # and our own checkpoint is that layout plus electra_tf/ keys only
    ours_names = listing(tf.train.latest_checkpoint(trained.model_dir))
    assert [x for x in ours_names if not x[0].startswith("electra_tf/")] == want


def test_ours_to_original_to_ours_is_exact(trained, tmp_path):
    out = str(tmp_path / "orig")
    convert(trained.model_dir, "original", out)
    back = str(tmp_path / "back")
    hparams = json.dumps(fixture_hparams()["hparams"])
    convert(out, "ours", back, hparams=hparams)
    a = tensors(tf.train.latest_checkpoint(trained.model_dir))
    b = tensors(tf.train.latest_checkpoint(back))
    names = [n for n in a if not n.startswith("electra_tf/")]
    assert len(names) == 247 and int(b["global_step"]) == 3
    for name in names:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)
    assert checkpoints.describe(back).format == "ours"
    assert os.path.exists(os.path.join(back, "vocab.txt"))


def test_ours_to_hf_to_ours_is_exact(trained, tmp_path):
    out = str(tmp_path / "hf")
    written = convert(trained.model_dir, "hf", out)
    assert written == [out + "-discriminator", out + "-generator"]
    for folder, arch in zip(written, ("ElectraForPreTraining", "ElectraForMaskedLM")):
        with open(os.path.join(folder, "config.json")) as f:
            assert json.load(f)["architectures"] == [arch]
    description = checkpoints.describe(written[0])
    assert description.format == "huggingface"
    assert description.kinds == ("discriminator", "encoder")
    source = checkpoints.load_pretrainer(trained.model_dir)
    for path in (written[0], str(tmp_path / "ours")):
        if path != written[0]:
            convert(written[0], "ours", path)
        loaded = checkpoints.load_pretrainer(path)
        want = {v.path: v.numpy() for v in source.weights}
        assert sorted(v.path for v in loaded.weights) == sorted(want)
        for v in loaded.weights:
            np.testing.assert_array_equal(v.numpy(), want[v.path], err_msg=v.path)
    encoder = electra_tf.Encoder.from_pretrained(written[0])
    want = {v.path: v.numpy() for v in source.discriminator.weights}
    for v in encoder.weights:
        np.testing.assert_array_equal(v.numpy(), want[v.path])


def test_from_pretrained_and_save_pretrained(trained, tmp_path):
    encoder = electra_tf.Encoder.from_pretrained(trained.model_dir)
    pretrainer = electra_tf.ElectraPretrainer.from_pretrained(trained.model_dir)
    assert encoder.config == trained.disc_config()
    want = {v.path: v.numpy() for v in pretrainer.discriminator.weights}
    for v in encoder.weights:
        np.testing.assert_array_equal(v.numpy(), want[v.path])
    pretrainer.save_pretrained(str(tmp_path / "orig"), format="original")
    pretrainer.save_pretrained(str(tmp_path / "hf"), format="hf")
    hparams = fixture_hparams()["hparams"]
    again = electra_tf.ElectraPretrainer.from_pretrained(str(tmp_path / "orig"), hparams)
    from_hf = electra_tf.ElectraPretrainer.from_pretrained(str(tmp_path / "hf-discriminator"))
    for model in (again, from_hf):
        got = {v.path: v.numpy() for v in model.weights}
        for v in pretrainer.weights:
            np.testing.assert_array_equal(got[v.path], v.numpy(), err_msg=v.path)
    encoder.save_pretrained(str(tmp_path / "enc"), format="hf")
    assert checkpoints.describe(str(tmp_path / "enc")).kinds == ("encoder",)


def test_v0_1_checkpoint_converts_by_its_own_config(tmp_path):
    config = tiny_config(make_data_dir(str(tmp_path)), "old")
    model = ElectraPretrainer(config)
    optimizer = create_optimizer(config.learning_rate, config.num_train_steps)
    optimizer.build(model.trainable_variables)
    optimizer.iterations.assign(4)
    rng = {str(i): v for i, v in enumerate(ours.rng_state_variables(model).values())}
    checkpoints.save_pretraining_config(config, config.model_dir)
    tf.train.CheckpointManager(
        tf.train.Checkpoint(model=model, optimizer=optimizer, rng=rng),
        config.model_dir, 1, checkpoint_name="ckpt",
    ).save(4)
    out = str(tmp_path / "new")
    lines = []
    convert(config.model_dir, "ours", out, log=lines.append)
    assert "0.1" in lines[0]
    loaded = checkpoints.load_pretrainer(out)
    for a, b in zip(loaded.weights, model.weights):
        assert a.path == b.path
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert int(tensors(tf.train.latest_checkpoint(out))["global_step"]) == 4


def test_convert_cli_prints_the_format(trained, tmp_path):
    result = run_python(
        "import sys; from electra_tf.convert import main; "
        f"main(['--from', {trained.model_dir!r}, '--to', 'original', "
        f"'--output', {str(tmp_path / 'o')!r}])"
    )
    assert f"Found format 'ours' at {trained.model_dir}" in result.stdout
    assert os.path.exists(tmp_path / "o" / "model.ckpt-3.index")


def test_pretraining_starts_from_an_hf_encoder_folder(tmp_path):
    from electra_tf.checkpoints import huggingface
    from electra_tf.config import ModelConfig
    from electra_tf.models.encoder import Encoder

    data_dir = make_data_dir(str(tmp_path), n_examples=32)
    bert = ModelConfig(
        vocab_size=99, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
        intermediate_size=40, max_position_embeddings=32,
    )
    encoder = Encoder(bert, name="electra")
    weights = {v.path: v.numpy() for v in encoder.weights}
    folder = str(tmp_path / "bert")
    huggingface.write(folder, "encoder", bert, weights)
    config = tiny_config(
        data_dir, "from_bert", model_hparam_overrides={}, embedding_size=None,
        init_checkpoint=folder, num_train_steps=1, save_checkpoints_steps=1,
        learning_rate=1e-7,
    )
    lines = []
    electra_tf.pretraining.runner.run(config, log=lines.append)
    assert f"initialized the discriminator encoder from the huggingface checkpoint {folder}" in lines
    loaded = checkpoints.load_pretrainer(config.model_dir)
    assert loaded.config.disc_config() == dataclasses.replace(bert, embedding_size=32)
    got = {v.path: v.numpy() for v in loaded.discriminator.weights}
    for name, value in weights.items():
        np.testing.assert_allclose(got[name], value, atol=1e-5, err_msg=name)
    bad = tiny_config(data_dir, "bad", init_checkpoint=folder)
    with pytest.raises(checkpoints.CheckpointMismatchError, match="num_hidden_layers: hparams 2 vs config.json 1"):
        electra_tf.pretraining.runner.run(bad, log=lambda line: None)
