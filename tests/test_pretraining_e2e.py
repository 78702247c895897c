"""`electra_tf.pretraining.runner.run`: eval metrics and results files, continuing
from an original checkpoint, precision modes, bad input, the configs, and
(slow) a tiny model learning on the bundled real text."""

import json
import os
import pickle
import shutil

import numpy as np
import pytest
import tensorflow as tf

import electra_tf.pretraining.runner
from electra_tf.config import HparamError, PretrainingConfig
from electra_tf.checkpoints import load_pretraining_checkpoint
from electra_tf.pretraining import data
from electra_tf.pretraining.default_data import ensure_default_data
from electra_tf.pretraining.eval_metrics import PretrainingMetrics, auc_thresholds
from electra_tf.pretraining.runner import load_original_training_state
from electra_tf.models.pretrainer import ElectraPretrainer
from electra_tf.optimization import create_optimizer
from helpers import ROOT, fixture_path, tiny_config
from pretraining_helpers import LEARNING_HPARAMS, make_data_dir, write_records

CONFIGS = os.path.join(ROOT, "configs")


def quiet(lines):
    return lines.append


# ----- eval metrics -------------------------------------------------------


def naive_auc(labels, scores):
    """tf.metrics.auc by its definition, threshold by threshold."""
    labels, scores = np.ravel(labels).astype(bool), np.ravel(scores)
    tpr, fpr = [], []
    for t in auc_thresholds(200):
        pos = scores > t
        tp, fn = np.sum(pos & labels), np.sum(~pos & labels)
        fp, tn = np.sum(pos & ~labels), np.sum(~pos & ~labels)
        tpr.append((tp + 1e-6) / (tp + fn + 1e-6))
        fpr.append(fp / (fp + tn + 1e-6))
    tpr, fpr = np.array(tpr), np.array(fpr)
    return np.sum((fpr[:-1] - fpr[1:]) * (tpr[:-1] + tpr[1:]) / 2)


def batch_outputs(rng, b=3, n=4, length=6):
    labels = rng.integers(0, 2, (b, length))
    probs = np.clip(0.3 * labels + rng.random((b, length)) * 0.7, 0, 1)
    mask = (np.arange(length) < rng.integers(3, length + 1, (b, 1))).astype(int)
    ids = rng.integers(5, 50, (b, n))
    return {
        "total_loss": rng.random(1) * 10,
        "masked_lm_ids": ids,
        "masked_lm_preds": np.where(rng.random((b, n)) < 0.5, ids, 0),
        "masked_lm_weights": (rng.random((b, n)) < 0.8).astype(np.float32),
        "mlm_loss": rng.random((b, n)) * 5,
        "sampled_tokids": np.where(rng.random((b, n)) < 0.3, ids, 1),
        "disc_loss": rng.random(b),
        "disc_labels": labels,
        "disc_probs": probs,
        "disc_preds": (probs > 0.5).astype(int),
        "input_mask": mask,
    }


def test_metrics_by_hand():
    metrics = PretrainingMetrics(True, 50.0)
    metrics.update(
        {
            "total_loss": np.array([4.0]),
            "masked_lm_ids": np.array([[7, 8, 9]]),
            "masked_lm_preds": np.array([[7, 1, 9]]),
            "masked_lm_weights": np.array([[1.0, 1.0, 0.0]]),
            "mlm_loss": np.array([[1.0, 3.0, 100.0]]),
            "sampled_tokids": np.array([[1, 8, 9]]),
            "disc_loss": np.array([0.5]),
            "disc_labels": np.array([[1, 0, 1, 0]]),
            "disc_probs": np.array([[0.9, 0.8, 0.2, 0.7]]),
            "disc_preds": np.array([[1, 1, 0, 1]]),
            "input_mask": np.array([[1, 1, 1, 0]]),
        }
    )
    r = metrics.result()
    assert r["loss"] == 4.0
    assert r["masked_lm_accuracy"] == 0.5 and r["masked_lm_loss"] == 2.0
    assert r["sampled_masked_lm_accuracy"] == 0.5
    assert r["disc_loss"] == 0.5
    assert r["disc_accuracy"] == pytest.approx(1 / 3)  # padding excluded
    assert r["disc_precision"] == 0.5 and r["disc_recall"] == 0.5
    # padding counts as a negative scored 0: labels [1,0,1,0], scores
    # [.9,.8,.2,0]
    assert r["disc_auc"] == pytest.approx(naive_auc([1, 0, 1, 0], [0.9, 0.8, 0.2, 0]), abs=1e-9)
    assert r["disc_auc"] == pytest.approx(0.75, abs=1e-3)  # 3 of 4 pairs ordered


def test_streaming_auc_equals_definition_and_mlm_only_keys():
    rng = np.random.default_rng(4)
    metrics = PretrainingMetrics(True, 50.0)
    batches = [batch_outputs(rng) for _ in range(3)]
    for b in batches:
        metrics.update(b)
    labels = np.concatenate([(b["disc_labels"] * b["input_mask"]).ravel() for b in batches])
    scores = np.concatenate([(b["disc_probs"] * b["input_mask"]).ravel() for b in batches])
    assert metrics.result()["disc_auc"] == pytest.approx(naive_auc(labels, scores), abs=1e-9)
    separated = PretrainingMetrics(True, 1.0)
    separated.auc.update([1, 1, 0, 0], [0.9, 0.8, 0.1, 0.05])
    assert separated.auc.result() == pytest.approx(1.0, abs=1e-5)
    mlm = PretrainingMetrics(False, 50.0)
    mlm.update(batches[0])
    assert sorted(mlm.result()) == ["loss", "masked_lm_accuracy", "masked_lm_loss"]
    no_disc = PretrainingMetrics(True, 0.0)
    no_disc.update(batches[0])
    assert "disc_auc" not in no_disc.result()


# ----- run(): original checkpoints, eval files, precision -----------------


def original_with_step(tmp_path, step):
    """The original-release fixture copied as a TF1 checkpoint whose
    global_step is `step`, in <data>/models/orig."""
    source = fixture_path("original-electra-tiny")
    reader = tf.train.load_checkpoint(os.path.join(source, "model.ckpt"))
    names = sorted(reader.get_variable_to_shape_map())
    model_dir = tmp_path / "models" / "orig"
    model_dir.mkdir(parents=True)
    tensors = [
        tf.constant(step, tf.int64) if n == "global_step" else reader.get_tensor(n)
        for n in names
    ]
    prefix = str(model_dir / "model.ckpt")
    tf.raw_ops.SaveV2(
        prefix=prefix, tensor_names=names, shape_and_slices=[""] * len(names),
        tensors=tensors,
    )
    tf.compat.v1.train.update_checkpoint_state(str(model_dir), prefix)
    shutil.copy(os.path.join(source, "vocab.txt"), tmp_path / "vocab.txt")
    with open(os.path.join(source, "hparams.json")) as f:
        return reader, json.load(f)["hparams"]


def test_continue_from_original_checkpoint_then_evaluate(tmp_path):
    reader, hparams = original_with_step(tmp_path, 7)
    make_data_dir(str(tmp_path), n_examples=64, length=16)  # rewrites vocab
    shutil.copy(fixture_path("original-electra-tiny", "vocab.txt"), tmp_path / "vocab.txt")
    common = dict(hparams, max_seq_length=16, train_batch_size=4, eval_batch_size=4)
    config = PretrainingConfig.from_hparams(
        "orig", str(tmp_path), dict(common, num_train_steps=9, save_checkpoints_steps=100)
    )
    # the slots and step go into the optimizer
    model = ElectraPretrainer(config)
    optimizer = create_optimizer(1e-3, 9)
    optimizer.build(model.trainable_variables)
    message = load_original_training_state(
        str(tmp_path / "models" / "orig" / "model.ckpt"), model, optimizer
    )
    assert message.endswith("(weights, Adam slots, global_step 7)")
    assert int(optimizer.iterations) == 7
    slots = optimizer.original_slot_names()
    name = "electra/encoder/layer_1/output/dense/kernel/adam_v"
    np.testing.assert_array_equal(slots[name].numpy(), reader.get_tensor(name))
    # the run: 7 -> 9, then eval writes the results files
    lines = []
    electra_tf.pretraining.runner.run(config, log=lines.append)
    assert any("initialized from the original checkpoint" in l for l in lines)
    assert "Training steps 7 -> 9." in lines
    eval_config = PretrainingConfig.from_hparams(
        "orig", str(tmp_path), dict(common, do_train=False, do_eval=True, num_eval_steps=3)
    )
    lines = []
    results = electra_tf.pretraining.runner.run(eval_config, log=lines.append)
    keys = {
        "loss", "masked_lm_accuracy", "masked_lm_loss", "sampled_masked_lm_accuracy",
        "disc_loss", "disc_auc", "disc_accuracy", "disc_precision", "disc_recall",
        "global_step",
    }
    assert set(results) == keys and results["global_step"] == 9
    text = open(eval_config.results_txt).read().splitlines()
    assert text == [f"  {k} = {results[k]}" for k in sorted(results)]
    assert lines[-len(text):] == text
    with open(eval_config.results_pkl, "rb") as f:
        assert pickle.load(f) == results
    assert 0 < results["disc_accuracy"] < 1 and np.isfinite(results["loss"])


@pytest.mark.parametrize(
    "precision, jit",
    [("mixed_bfloat16", False), ("mixed_float16", False), ("float32", True)],
)
def test_precision_and_xla_runs(tmp_path, precision, jit):
    make_data_dir(str(tmp_path), n_examples=32)
    config = tiny_config(
        tmp_path,
        num_train_steps=2,
        save_checkpoints_steps=2,
        mixed_precision=precision,
        jit_compile=jit,
    )
    scalars = electra_tf.pretraining.runner.run(config, log=quiet([]))
    assert np.isfinite(scalars["loss"]) and scalars["loss"] > 0
    assert tf.train.latest_checkpoint(config.model_dir).endswith("ckpt-2")
    import keras

    assert keras.mixed_precision.global_policy().name == "float32"  # restored


# ----- bad input ------------------------------------------------------------


def test_bad_inputs_fail_clearly(tmp_path):
    make_data_dir(str(tmp_path), n_examples=16)
    with pytest.raises(ValueError, match="No pre-training files match"):
        electra_tf.pretraining.runner.run(
            tiny_config(tmp_path, pretrain_tfrecords=str(tmp_path / "none*")), log=quiet([])
        )
    short = tmp_path / "short.tfrecord"
    write_records(str(short), [([2, 5, 3], [1, 1, 1], [0, 0, 0])])
    with pytest.raises(ValueError, match="max_seq_length"):
        electra_tf.pretraining.runner.run(
            tiny_config(tmp_path, pretrain_tfrecords=str(short)), log=quiet([])
        )
    bad_vocab = tmp_path / "bad_vocab.txt"
    bad_vocab.write_text("[PAD]\n[UNK]\n[CLS]\n[SEP]\n")
    with pytest.raises(ValueError, match=r"\[MASK\]"):
        electra_tf.pretraining.runner.run(
            tiny_config(tmp_path, vocab_file=str(bad_vocab)), log=quiet([])
        )
    with pytest.raises(HparamError, match="mixed_precision"):
        electra_tf.pretraining.runner.run(tiny_config(tmp_path, mixed_precision="float16"))
    with pytest.raises(FileNotFoundError, match="No checkpoint"):
        electra_tf.pretraining.runner.run(
            tiny_config(tmp_path, "fresh", do_train=False, do_eval=True), log=quiet([])
        )


def test_debug_mode_restarts_the_model_dir(tmp_path):
    make_data_dir(str(tmp_path), n_examples=16)
    config = tiny_config(tmp_path, debug=True, num_train_steps=1)
    os.makedirs(config.model_dir)
    stale = os.path.join(config.model_dir, "stale.txt")
    open(stale, "w").close()
    lines = []
    electra_tf.pretraining.runner.run(config, log=lines.append)
    assert not os.path.exists(stale) and "started from scratch" in lines
    assert any(f"the existing model directory {config.model_dir}" in l for l in lines)
    assert os.path.exists(os.path.join(config.model_dir, "pretrain_config.json"))
    assert os.path.exists(os.path.join(config.model_dir, "vocab.txt"))


# ----- configs --------------------------------------------------------------


@pytest.mark.parametrize(
    "name, hidden, layers, gen_hidden, batch, length, lr, n",
    [
        ("small", 256, 12, 64, 128, 128, 5e-4, 19),
        ("base", 768, 12, 256, 256, 512, 2e-4, 79),
        ("large", 1024, 24, 256, 2048, 512, 2e-4, 130),
        ("quickstart", 256, 12, 64, 16, 128, 5e-4, 19),
    ],
)
def test_presets_follow_table_6(name, hidden, layers, gen_hidden, batch, length, lr, n):
    config = PretrainingConfig.from_hparams(
        "m", "/tmp/data", os.path.join(CONFIGS, f"pretrain_{name}.json")
    )
    disc, gen = config.disc_config(), config.generator_config()
    assert (disc.hidden_size, disc.num_hidden_layers) == (hidden, layers)
    assert gen.hidden_size == gen_hidden and gen.num_hidden_layers == layers
    assert config.train_batch_size == batch and config.max_seq_length == length
    assert config.learning_rate == lr
    assert config.max_predictions_per_seq == n


def test_debug_preset_is_the_original_debug_model():
    config = PretrainingConfig.from_hparams(
        "m", "/tmp/data", os.path.join(CONFIGS, "pretrain_debug.json")
    )
    disc = config.disc_config()
    assert (disc.hidden_size, disc.num_hidden_layers, disc.num_attention_heads) == (144, 3, 4)
    assert config.generator_config().hidden_size == 36
    assert config.train_batch_size == 8


# ----- slow: learning on real text -------------------------------------------


def discriminator_figures(config, steps):
    """Accuracy, AUC and the all-"original" baseline of the trained model,
    computed from its outputs on the eval batches."""
    model = load_pretraining_checkpoint(config.model_dir)
    iterator = iter(data.input_fn(config, False))
    labels, probs, preds, masks = [], [], [], []
    for step in range(steps):
        out = model.compute_losses(next(iterator), step, training=False)
        labels.append(out["disc_labels"].numpy())
        probs.append(out["disc_probs"].numpy())
        preds.append(out["disc_preds"].numpy())
        masks.append(out["input_mask"].numpy())
    labels, probs, preds, masks = map(np.concatenate, (labels, probs, preds, masks))
    real = masks == 1
    return {
        "accuracy": float(np.mean(preds[real] == labels[real])),
        "baseline": float(np.mean(labels[real] == 0)),
        "auc": naive_auc(labels * masks, probs * masks),
    }


@pytest.mark.slow
def test_tiny_model_learns_on_the_bundled_text(tmp_path):
    """200 steps of a 2-layer, 64-wide model. Sampling at temperature 2
    keeps some fakes easy: at temperature 1 the generator learns the
    unigram statistics within ~50 steps, and such a small discriminator
    then stays at the baseline for hundreds of steps (AUC ~0.57)."""
    data_dir = ensure_default_data(str(tmp_path / "data"), show_progress=False)
    hparams = LEARNING_HPARAMS
    config = PretrainingConfig.from_hparams("tiny", data_dir, hparams)
    electra_tf.pretraining.runner.run(config, log=quiet([]))
    eval_config = PretrainingConfig.from_hparams(
        "tiny", data_dir, dict(hparams, do_train=False, do_eval=True)
    )
    results = electra_tf.pretraining.runner.run(eval_config, log=quiet([]))
    figures = discriminator_figures(eval_config, 8)
    print("figures", figures, "results", results)
    assert figures["auc"] == pytest.approx(results["disc_auc"], abs=1e-6)
    assert figures["accuracy"] == pytest.approx(results["disc_accuracy"], abs=1e-6)
    assert figures["accuracy"] > figures["baseline"] + 0.015
    assert figures["auc"] > 0.75
    assert results["masked_lm_loss"] < 9.0  # log(30522) = 10.3 at the start
    fake = 1 - figures["baseline"]
    prior = -fake * np.log(fake) - (1 - fake) * np.log(1 - fake)
    assert results["disc_loss"] < prior - 0.05  # the best constant guess
