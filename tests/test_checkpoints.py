"""Training checkpoints keyed by original names: restore by name whatever the
creation order, strict shapes, corrupt and half-written files, the NaN
record, and the refusal of position-keyed (0.1) checkpoints."""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from electra_tf import checkpoints
from electra_tf.checkpoints import (
    CheckpointCorruptError,
    CheckpointMismatchError,
    original,
    ours,
)
from electra_tf.optimization import create_optimizer
from helpers import tiny_config
from pretraining_helpers import make_data_dir


def attention_like(order):
    """query/key/value Dense layers of equal shapes, created in `order`."""
    inputs = keras.Input((4,))
    layers = {name: keras.layers.Dense(4, name=name) for name in order}
    outputs = [layers[name](inputs) for name in order]
    return keras.Model(inputs, outputs)


def with_optimizer(model):
    optimizer = create_optimizer(0.1, 10)
    optimizer.build(model.trainable_variables)
    return optimizer


def test_restore_is_by_name_whatever_the_creation_order(tmp_path):
    source = attention_like(["query", "key", "value"])
    for i, v in enumerate(source.weights):
        v.assign(np.full(v.shape, i + 1.0, "float32"))
    optimizer = with_optimizer(source)
    for name, slot in optimizer.original_slot_names().items():
        slot.assign(np.full(slot.shape, float(len(name)), "float32"))
    optimizer.iterations.assign(7)
    prefix = ours.Checkpointer(str(tmp_path), 2, source, optimizer).save(7)
    assert prefix == str(tmp_path / "model.ckpt-7")
    names = dict(tf.train.list_variables(prefix))
    assert names["query/kernel"] == [4, 4] and names["global_step"] == []
    assert "query/kernel/adam_m" in names and "value/bias/adam_v" in names

    target = attention_like(["value", "key", "query"])
    assert [v.path for v in target.weights][0].startswith("value")
    target_opt = with_optimizer(target)
    message = ours.Checkpointer(str(tmp_path), 2, target, target_opt).restore_or_initialize()
    assert message == f"resumed from {prefix}"
    want = {v.path: v.numpy() for v in source.weights}
    for v in target.weights:
        np.testing.assert_array_equal(v.numpy(), want[v.path], err_msg=v.path)
    for name, slot in target_opt.original_slot_names().items():
        np.testing.assert_array_equal(slot.numpy(), np.full(slot.shape, float(len(name))))
    assert int(target_opt.iterations) == 7


def test_wrong_shapes_on_resume_name_every_variable(tmp_path):
    ours.Checkpointer(str(tmp_path), 1, attention_like(["query", "key", "value"])).save(1)
    inputs = keras.Input((4,))
    other = keras.Model(inputs, [keras.layers.Dense(5, name=n)(inputs) for n in ("query", "key", "extra")])
    with pytest.raises(CheckpointMismatchError) as error:
        ours.Checkpointer(str(tmp_path), 1, other).restore_or_initialize()
    message = str(error.value)
    assert "query/kernel: checkpoint [4, 4] vs model [4, 5]" in message
    assert "missing from the checkpoint (2):\n  extra/bias\n  extra/kernel" in message
    assert "the model does not have (2):\n  value/bias\n  value/kernel" in message


def test_index_naming_a_missing_checkpoint_is_reported(tmp_path):
    model = attention_like(["query", "key", "value"])
    ours.Checkpointer(str(tmp_path), 2, model).save(1)
    for name in os.listdir(tmp_path):
        if name.startswith("model.ckpt-1."):
            os.remove(tmp_path / name)
    with pytest.raises(CheckpointCorruptError, match=r"names '.*model.ckpt-1', but '.*model.ckpt-1.index' does not exist"):
        ours.Checkpointer(str(tmp_path), 2, model).restore_or_initialize()
    with pytest.raises(CheckpointCorruptError, match="does not exist"):
        checkpoints.load_pretrainer(str(tmp_path))


def test_truncated_data_file_falls_back_to_the_previous_checkpoint(tmp_path, caplog):
    model = attention_like(["query", "key", "value"])
    checkpointer = ours.Checkpointer(str(tmp_path), 3, model)
    checkpointer.save(1)
    saved = {v.path: v.numpy() for v in model.weights}
    for v in model.weights:
        v.assign(v + 1.0)
    checkpointer.save(2)
    data = tmp_path / "model.ckpt-2.data-00000-of-00001"
    data.write_bytes(data.read_bytes()[:20])
    fresh = attention_like(["query", "key", "value"])
    message = ours.Checkpointer(str(tmp_path), 3, fresh).restore_or_initialize()
    assert message == f"resumed from {tmp_path / 'model.ckpt-1'}"
    assert f"Cannot read '{data}'" in caplog.text and "Falling back" in caplog.text
    for v in fresh.weights:
        np.testing.assert_array_equal(v.numpy(), saved[v.path])


def test_last_finite_skips_checkpoints_with_non_finite_weights(tmp_path):
    model = attention_like(["query", "key", "value"])
    checkpointer = ours.Checkpointer(str(tmp_path), 5, model)
    checkpointer.save(2)
    model.weights[0].assign(np.full(model.weights[0].shape, np.inf, "float32"))
    checkpointer.save(4)
    assert checkpointer.last_finite(10) == str(tmp_path / "model.ckpt-2")
    assert checkpointer.last_finite(2) is None


def test_nan_names_the_checkpoint_before_the_one_that_diverged(tmp_path):
    from test_loop import loss_fn_for, make_model, train
    from electra_tf.training import loop

    model = make_model()

    def loss_fn(batch, step):  # the 5th step (global_step 4) diverges
        loss = loss_fn_for(model)(batch, step)["loss"]
        return {"loss": tf.where(step >= 4, np.nan, loss)}

    with pytest.raises(loop.NonFiniteLossError) as error:
        train(tmp_path, 6, model=model, loss_fn=loss_fn, save_every=2)
    message = str(error.value)
    # model.ckpt-4's weights gave the NaN of step 5: name model.ckpt-2
    assert "within steps 5-5" in message
    assert f"finite is {tmp_path / 'model.ckpt-2'}" in message
    assert f"up to {tmp_path / 'model.ckpt-4'}" in message
    assert "lower learning_rate" in message


def test_position_keyed_checkpoints_of_0_1_are_refused(tmp_path):
    config = tiny_config(make_data_dir(str(tmp_path)), "old")
    from electra_tf.models.pretrainer import ElectraPretrainer

    model = ElectraPretrainer(config)
    optimizer = with_optimizer(model)
    checkpoints.save_pretraining_config(config, config.model_dir)
    tf.train.CheckpointManager(
        tf.train.Checkpoint(model=model, optimizer=optimizer),
        config.model_dir, 1, checkpoint_name="ckpt",
    ).save(3)
    fix = "python -m electra_tf.convert --from"
    with pytest.raises(CheckpointMismatchError, match=fix):
        ours.Checkpointer(config.model_dir, 1, model, optimizer).restore_or_initialize()
    with pytest.raises(CheckpointMismatchError, match="0.1 checkpoint"):
        checkpoints.load_pretrainer(config.model_dir)


def test_pretraining_checkpoint_describes_itself_and_reloads(tmp_path):
    config = tiny_config(make_data_dir(str(tmp_path)), "tiny")
    from electra_tf.models.pretrainer import ElectraPretrainer

    model = ElectraPretrainer(config)
    optimizer = with_optimizer(model)
    optimizer.iterations.assign(5)
    checkpoints.save_pretraining_config(config, config.model_dir)
    ours.Checkpointer(config.model_dir, 1, model, optimizer).save(5)
    description = checkpoints.describe(config.model_dir)
    assert description.format == "ours"
    assert description.kinds == ("discriminator", "encoder", "generator")
    assert description.config == config
    assert description.vocab_file == config.vocab_file
    assert original.checkpoint_step(description.prefix) == 5
    loaded = checkpoints.load_pretrainer(config.model_dir)
    for a, b in zip(loaded.weights, model.weights):
        assert a.path == b.path
        np.testing.assert_array_equal(a, b)
    encoder = checkpoints.load_encoder(config.model_dir)
    want = {v.path: v for v in model.discriminator.weights}
    for v in encoder.weights:
        np.testing.assert_array_equal(v, want[v.path])


def test_unknown_folder_lists_what_was_looked_for(tmp_path):
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(checkpoints.CheckpointError) as error:
        checkpoints.describe(str(tmp_path))
    for looked_for in ("'checkpoint' index", "pretrain_config.json", "Hugging Face"):
        assert looked_for in str(error.value)


def test_finetuning_init_refuses_surplus_encoder_variables(tmp_path):
    from helpers import fixture_path
    from electra_tf.checkpoints import finetuned
    from electra_tf.config import ModelConfig
    from electra_tf.models.finetuner import FinetuningModel

    one_layer = ModelConfig(
        vocab_size=99, hidden_size=64, num_hidden_layers=1, num_attention_heads=2,
        intermediate_size=96, max_position_embeddings=32, embedding_size=32,
    )
    model = FinetuningModel(one_layer, [{"name": "rte", "head_type": "classification", "num_labels": 2}])
    with pytest.raises(CheckpointMismatchError) as error:
        finetuned.init_from_checkpoint(model, fixture_path("original-electra-tiny"))
    message = str(error.value)
    assert "the model does not have (16):\n  electra/encoder/layer_1/" in message
    assert "generator/" not in message and "adam" not in message


def test_finetuned_directory_describes_itself_and_reloads(tmp_path):
    from electra_tf.checkpoints import finetuned
    from finetuning_helpers import make_config, write_tsv

    for split in ("train", "dev"):
        write_tsv(tmp_path, "rte", split, [["index", "sentence1", "sentence2", "label"]])
    config = make_config(
        tmp_path, task_names=["rte"], vocab_size=58,
        model_hparam_overrides={"hidden_size": 16, "num_hidden_layers": 1,
                                "num_attention_heads": 2, "intermediate_size": 32},
    )
    specs = [{"name": "rte", "head_type": "classification", "num_labels": 2}]
    from electra_tf.models.finetuner import FinetuningModel

    model = FinetuningModel(config.disc_config(), specs)
    folder = config.trial_model_dir(1)
    finetuned.write_description(folder, config, specs)
    finetuned.save_checkpoint(model, folder, 9)
    description = checkpoints.describe(folder)
    assert (description.format, description.kinds) == ("finetuned", ("encoder", "task:rte"))
    assert description.vocab_file == os.path.join(folder, "vocab.txt")
    loaded, loaded_config, tasks = checkpoints.load_finetuned(folder)
    assert [t.name for t in tasks] == ["rte"] and loaded_config.task_names == ["rte"]
    want = {v.path: v.numpy() for v in model.weights}
    for v in loaded.weights:
        np.testing.assert_array_equal(v.numpy(), want[v.path], err_msg=v.path)
    encoder = checkpoints.load_encoder(folder)
    assert encoder.config == config.disc_config()
