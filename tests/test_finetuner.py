"""Fine-tuning heads and models: names, NumPy parity, losses, gradients,
serialization, and initialisation from every kind of checkpoint."""

import os

import numpy as np
import pytest
import tensorflow as tf

from electra_tf.config import FinetuningConfig, ModelConfig
from electra_tf.checkpoints import CheckpointMismatchError, ours
from electra_tf.checkpoints import finetuned as checkpoints
from electra_tf.checkpoints import save_pretraining_config
from electra_tf.finetuning import preprocessing
from electra_tf.models import finetuner
from electra_tf.models.pretrainer import ElectraPretrainer

import numpy_reference as ref
from helpers import (
    assert_gradient_coverage,
    assert_layer_round_trip,
    fixture_path,
    tiny_config,
    tiny_model_config,
)

B, L, H = 5, 8, 16
MODEL = dict(
    vocab_size=30,
    hidden_size=H,
    intermediate_size=32,
    max_position_embeddings=16,
    embedding_size=8,
)
CFG = tiny_model_config(**MODEL)
TASKS = [
    {"name": "rte", "head_type": "classification", "num_labels": 2},
    {"name": "sts", "head_type": "regression", "num_labels": None},
    {"name": "squad", "head_type": "span", "num_labels": None},
    {"name": "chunk", "head_type": "tagging", "num_labels": 3},
]


def _features(seed=0):
    rng = np.random.default_rng(seed)
    mask = np.ones((B, L), "int32")
    mask[:, 6:] = 0
    segments = np.zeros((B, L), "int32")
    segments[:, 3:6] = 1
    return {
        "input_ids": rng.integers(5, 30, (B, L)).astype("int32") * mask,
        "input_mask": mask,
        "segment_ids": segments,
        "task_id": np.array([0, 1, 2, 3, 4], "int32"),  # 4 = padding
        "rte_eid": np.arange(B, dtype="int32"),
        "rte_label_ids": np.array([1, 0, 1, 0, 1], "int32"),
        "sts_eid": np.arange(B, dtype="int32"),
        "sts_targets": np.array([0.2, 0.6, 0.0, 1.0, 0.4], "float32"),
        "squad_eid": np.arange(B, dtype="int32"),
        "squad_start_positions": np.array([3, 4, 4, 0, 0], "int32"),
        "squad_end_positions": np.array([4, 5, 5, 0, 0], "int32"),
        "squad_is_impossible": np.array([0, 0, 0, 1, 0], "int32"),
        "chunk_eid": np.arange(B, dtype="int32"),
        "chunk_labels": rng.integers(0, 3, (B, L)).astype("int32"),
        "chunk_labels_mask": (np.arange(L) < 4).astype("float32")[None].repeat(B, 0),
        "chunk_labeled_positions": np.array([1, 2, 4, 5, 0, 0, 0, 0], "int32")[None].repeat(B, 0),
    }


def _np(x):
    return np.asarray(x, np.float64)


def _dense(x, layer):
    return _np(x) @ _np(layer.kernel) + _np(layer.bias)


def _top_k(x, k):
    index = np.argsort(-x, axis=-1, kind="stable")[..., :k]
    return np.take_along_axis(x, index, -1), index


def test_head_variables_have_the_original_names():
    model = finetuner.FinetuningModel(CFG, TASKS, beam_size=4)
    shapes = {v.path: tuple(v.shape) for v in model.weights if "task_specific" in v.path}
    assert shapes == {
        "task_specific/rte/dense/kernel": (H, 2),
        "task_specific/rte/dense/bias": (2,),
        "task_specific/sts/dense/kernel": (H, 1),
        "task_specific/sts/dense/bias": (1,),
        "task_specific/squad/dense/kernel": (H, 1),
        "task_specific/squad/dense/bias": (1,),
        "task_specific/squad/qa_hidden/kernel": (2 * H, 512),
        "task_specific/squad/qa_hidden/bias": (512,),
        "task_specific/squad/dense_1/kernel": (512, 1),
        "task_specific/squad/dense_1/bias": (1,),
        "task_specific/squad/dense_2/kernel": (2 * H, 512),
        "task_specific/squad/dense_2/bias": (512,),
        "task_specific/squad/dense_3/kernel": (512, 1),
        "task_specific/squad/dense_3/bias": (1,),
        "task_specific/chunk/dense/kernel": (H, 3),
        "task_specific/chunk/dense/bias": (3,),
    }
    assert all(v.path.startswith("electra/") for v in model.encoder.weights)

    def span_names(**qa):
        model = finetuner.ElectraForQuestionAnswering(CFG, **qa)
        return {v.path.split("/")[2]: tuple(v.shape) for v in model.head.weights}

    assert span_names(joint_prediction=False) == {
        "dense": (1,), "dense_1": (1,), "dense_2": (512,), "dense_3": (1,)
    }
    assert span_names(answerable_uses_start_logits=False) == {
        "dense": (1,), "qa_hidden": (512,), "dense_1": (1,), "dense_2": (1,)
    }
    assert span_names(answerable_classifier=False, joint_prediction=False) == {
        "dense": (1,), "dense_1": (1,)
    }


def _span_reference(head, h, mask, segments, k, start_positions=None):
    bias = 1000.0 * (mask * segments + np.eye(L)[0] - 1.0)  # [B, L]
    start = _dense(h, head.dense)[..., 0] + bias
    top_lp, top_index = _top_k(ref.log_softmax(start), k)

    def end_logits(start_vec, hb):  # [H], [L, H] -> [L]
        x = np.concatenate([np.repeat(start_vec[None], L, 0), hb], -1)
        return _dense(ref.gelu(_dense(x, head.qa_hidden)), head.end_dense)[:, 0]

    start_p = np.exp(ref.log_softmax(start))
    cls = np.concatenate([h[:, 0], np.einsum("bl,blh->bh", start_p, h)], -1)
    answerable = _dense(ref.gelu(_dense(cls, head.answerable_hidden)), head.answerable_dense)
    out = {"start_logits": start, "start_top_log_probs": top_lp,
           "start_top_index": top_index, "answerable_logit": answerable[:, 0]}
    if start_positions is not None:
        out["end_logits"] = np.stack(
            [end_logits(h[b, start_positions[b]], h[b]) for b in range(B)]
        ) + bias
        return out
    beams = np.stack([
        np.stack([end_logits(h[b, top_index[b, j]], h[b]) for j in range(k)])
        for b in range(B)
    ]) + bias[:, None]
    out["end_top_log_probs"], out["end_top_index"] = _top_k(ref.log_softmax(beams), k)
    return out


def test_span_head_matches_numpy():
    k = 3
    head = finetuner.ElectraForQuestionAnswering(CFG, beam_size=k).head
    f = _features()
    h = np.random.default_rng(1).normal(size=(B, L, H)).astype("float32")
    mask, seg = f["input_mask"].astype(float), f["segment_ids"].astype(float)
    got = head(h, f["input_mask"], f["segment_ids"])
    want = _span_reference(head, _np(h), mask, seg, k)
    for key in ("start_logits", "start_top_log_probs", "answerable_logit", "end_top_log_probs"):
        np.testing.assert_allclose(got[key], want[key], atol=2e-4, err_msg=key)
    for key in ("start_top_index", "end_top_index"):
        np.testing.assert_array_equal(got[key], want[key], err_msg=key)
    assert not np.any(got["end_logits"])
    # Training: end logits from the gold start's vector.
    starts = f["squad_start_positions"]
    got = head(h, f["input_mask"], f["segment_ids"], starts, training=True)
    want = _span_reference(head, _np(h), mask, seg, k, starts)
    np.testing.assert_allclose(got["end_logits"], want["end_logits"], atol=2e-4)
    # Allowed positions: [CLS] and segment-1 tokens (incl. the last [SEP]).
    start_logits = np.asarray(got["start_logits"])
    assert np.all(start_logits[:, [1, 2, 6, 7]] < -900)
    assert np.all(start_logits[:, [0, 3, 4, 5]] > -900)


def test_losses_match_numpy_and_are_summed_over_the_batch():
    model = finetuner.FinetuningModel(CFG, TASKS, beam_size=4)
    f = _features()
    out = model(f, training=False)
    rte = -ref.log_softmax(_np(out["rte"]["logits"]))[np.arange(B), f["rte_label_ids"]]
    sts = (_np(out["sts"]["predictions"]) - f["sts_targets"]) ** 2
    sq = out["squad"]
    ce = lambda logits, pos: -ref.log_softmax(_np(logits))[np.arange(B), pos]
    a, y = _np(sq["answerable_logit"]), f["squad_is_impossible"]
    squad = (ce(sq["start_logits"], f["squad_start_positions"])
             + ce(sq["end_logits"], f["squad_end_positions"])) / 2
    squad = squad + 0.5 * ref.sigmoid_cross_entropy(a, y)
    chunk_ce = -np.take_along_axis(
        ref.log_softmax(_np(out["chunk"]["logits"])), f["chunk_labels"][..., None], -1
    )[..., 0]
    chunk = (chunk_ce * f["chunk_labels_mask"]).sum(-1)
    for name, want in (("rte", rte), ("sts", sts), ("squad", squad), ("chunk", chunk)):
        np.testing.assert_allclose(out[name]["loss"], want, rtol=1e-5, atol=1e-5)
    # Each example's own task loss, summed; the padding record adds nothing.
    total = rte[0] + sts[1] + squad[2] + chunk[3]
    assert float(out["loss"]) == pytest.approx(total, rel=1e-5)
    np.testing.assert_array_equal(out["rte"]["predictions"], np.argmax(out["rte"]["logits"], -1))


def test_an_unknown_head_type_names_the_known_kinds():
    tasks = [{"name": "ner", "head_type": "crf", "num_labels": 3}]
    with pytest.raises(ValueError, match="'ner' has head_type 'crf'; use one of "
                       "classification, regression, span, tagging"):
        finetuner.FinetuningModel(CFG, tasks)


# Biases of the start and end logit layers add the same value at every
# position of a softmax over positions, so their gradient is 0 (also in the
# original).
SOFTMAX_INVARIANT = ("task_specific/squad/dense/bias", "task_specific/squad/dense_1/bias")


def test_every_trainable_variable_gets_a_gradient():
    model = finetuner.FinetuningModel(CFG, TASKS, beam_size=4)
    assert_gradient_coverage(
        model, lambda m, f: m(f, training=True)["loss"], _features(),
        untrained=SOFTMAX_INVARIANT, atol=1e-5,
    )


def _inputs(seed=0):
    f = _features(seed)
    return {k: f[k] for k in ("input_ids", "input_mask", "segment_ids")}


SINGLE = [
    (finetuner.ElectraForSequenceClassification, {"num_labels": 3, "task_name": "mnli"}),
    (finetuner.ElectraForTokenClassification, {"num_labels": 4}),
    (finetuner.ElectraForQuestionAnswering, {"beam_size": 2}),
]


@pytest.mark.parametrize("cls, kwargs", SINGLE, ids=[c.__name__ for c, _ in SINGLE])
def test_single_task_models_round_trip(cls, kwargs):
    assert_layer_round_trip(cls(CFG, **kwargs), _inputs())


def test_finetuning_model_round_trip():
    model = finetuner.FinetuningModel(CFG, TASKS, beam_size=3)
    assert_layer_round_trip(model, _features())


def test_multiple_choice_scores_each_choice():
    model = finetuner.ElectraForMultipleChoice(CFG)
    rng = np.random.default_rng(0)
    n = 3
    inputs = {
        "input_ids": rng.integers(5, 30, (2, n, L)).astype("int32"),
        "input_mask": np.ones((2, n, L), "int32"),
        "segment_ids": np.zeros((2, n, L), "int32"),
    }
    logits = model(inputs)
    assert logits.shape == (2, n)
    for c in range(n):
        pooled = model.encoder({k: v[:, c] for k, v in inputs.items()})["pooled_output"]
        np.testing.assert_allclose(logits[:, c], _dense(pooled, model.head.dense)[:, 0], atol=1e-5)
    assert_layer_round_trip(model, inputs)


def test_token_classification_defaults_to_every_position():
    model = finetuner.ElectraForTokenClassification(CFG, num_labels=4)
    inputs = _inputs()
    sequence = model.encoder(inputs)["sequence_output"]
    np.testing.assert_allclose(model(inputs), _dense(sequence, model.head.dense), atol=1e-5)


# ----------------------------------------------------------------------------
# Initialisation from checkpoints.

FIXTURE_CFG = ModelConfig(
    vocab_size=99, hidden_size=64, num_hidden_layers=2, num_attention_heads=2,
    intermediate_size=96, max_position_embeddings=32, embedding_size=32,
)


def _save_by_name(prefix, tensors):
    names = sorted(tensors)
    tf.raw_ops.SaveV2(
        prefix=prefix, tensor_names=names, shape_and_slices=[""] * len(names),
        tensors=[tf.constant(tensors[n]) for n in names],
    )
    return prefix


def test_init_from_the_original_pretraining_checkpoint():
    path = fixture_path("original-electra-tiny")
    model = finetuner.FinetuningModel(FIXTURE_CFG, TASKS[:1])
    head_before = model.rte_head.dense.kernel.numpy().copy()
    assert checkpoints.init_from_checkpoint(model, path) == []
    reader = tf.train.load_checkpoint(path)
    for v in model.encoder.weights:
        np.testing.assert_array_equal(v.numpy(), reader.get_tensor(v.path), err_msg=v.path)
    np.testing.assert_array_equal(model.rte_head.dense.kernel.numpy(), head_before)
    ref = np.load(os.path.join(path, "reference.npz"))
    out = model.encoder({k: ref[k] for k in ("input_ids", "input_mask", "segment_ids")})
    np.testing.assert_allclose(out["sequence_output"], ref["disc_sequence_output"], atol=1e-4)
    with pytest.raises(CheckpointMismatchError, match="no task_specific/rte"):
        checkpoints.init_from_checkpoint(model, path, require_heads=True)


def test_init_from_an_original_finetuned_checkpoint(tmp_path):
    reader = tf.train.load_checkpoint(fixture_path("original-electra-tiny"))
    tensors = {n: reader.get_tensor(n) for n in reader.get_variable_to_shape_map()}
    rng = np.random.default_rng(0)
    kernel = rng.normal(size=(64, 2)).astype("float32")
    tensors.update({
        "task_specific/rte/dense/kernel": kernel,
        "task_specific/rte/dense/kernel/adam_m": kernel,
        "task_specific/rte/dense/bias": np.array([0.5, -0.5], "float32"),
    })
    prefix = _save_by_name(str(tmp_path / "model.ckpt-100"), tensors)
    model = finetuner.ElectraForSequenceClassification(FIXTURE_CFG, 2, task_name="rte")
    assert checkpoints.init_from_checkpoint(model, prefix, require_heads=True) == ["rte"]
    np.testing.assert_array_equal(model.head.dense.kernel.numpy(), kernel)
    np.testing.assert_array_equal(model.head.dense.bias.numpy(), [0.5, -0.5])
    # A model with an extra task cannot be evaluated from it ...
    multi = finetuner.FinetuningModel(FIXTURE_CFG, TASKS[:2])
    with pytest.raises(ValueError, match="no task_specific/sts head"):
        checkpoints.init_from_checkpoint(multi, prefix, require_heads=True)
    # ... nor one whose head is only partly there, or of another shape.
    del tensors["task_specific/rte/dense/bias"]
    partial = _save_by_name(str(tmp_path / "partial.ckpt"), tensors)
    with pytest.raises(ValueError, match="only part of the task_specific/rte head"):
        checkpoints.init_from_checkpoint(model, partial)
    three = finetuner.ElectraForSequenceClassification(FIXTURE_CFG, 3, task_name="rte")
    with pytest.raises(ValueError, match="shapes differ"):
        checkpoints.init_from_checkpoint(three, prefix)


def test_our_finetuned_checkpoint_round_trip(tmp_path):
    model = finetuner.FinetuningModel(CFG, TASKS, beam_size=3)
    prefix = checkpoints.save_checkpoint(model, str(tmp_path), 7)
    assert prefix == str(tmp_path / "model.ckpt-7")
    assert tf.train.latest_checkpoint(str(tmp_path)) == prefix
    assert tf.train.load_checkpoint(prefix).get_tensor("global_step") == 7
    fresh = finetuner.FinetuningModel(CFG, TASKS, beam_size=3)
    loaded = checkpoints.init_from_checkpoint(fresh, str(tmp_path), require_heads=True)
    assert loaded == ["chunk", "rte", "squad", "sts"]
    np.testing.assert_allclose(fresh(_features())["loss"], model(_features())["loss"], rtol=1e-6)


def test_init_from_our_pretraining_checkpoint(tmp_path):
    config = tiny_config(tmp_path, "pt", **MODEL)
    pretrainer = ElectraPretrainer(config)
    model_dir = config.model_dir
    save_pretraining_config(config, model_dir)
    ours.Checkpointer(model_dir, 1, pretrainer).save(3)
    model = finetuner.FinetuningModel(config.disc_config(), TASKS[:1])
    assert checkpoints.init_from_checkpoint(model, model_dir) == []
    source = {v.path: v.numpy() for v in pretrainer.discriminator.weights}
    for v in model.encoder.weights:
        np.testing.assert_array_equal(v.numpy(), source[v.path], err_msg=v.path)
    with pytest.raises(CheckpointMismatchError, match="no task_specific/rte"):
        checkpoints.init_from_checkpoint(model, model_dir, require_heads=True)


@pytest.mark.parametrize("name", ["glue", "squad", "chunk"])
def test_shipped_finetuning_configs_load(tmp_path, name):
    path = os.path.join(os.path.dirname(__file__), os.pardir, "configs", f"finetune_{name}.json")
    config = FinetuningConfig.from_hparams("m", str(tmp_path), path)
    assert all(t in preprocessing.TASKS for t in config.task_names)
    # The paper's ELECTRA-Small fine-tuning recipe (Appendix, Table 7).
    assert (config.learning_rate, config.weight_decay_rate) == (3e-4, 0.0)
    assert config.layerwise_lr_decay == 0.8 and config.embedding_size == 128


def test_from_finetuning_config_takes_encoder_and_qa_settings(tmp_path):
    hparams = {
        "task_names": ["squad"],
        "vocab_size": 30,
        "model_hparam_overrides": {
            k: v for k, v in MODEL.items() if k != "embedding_size"
        },
        "embedding_size": 8,
        "beam_size": 3,
        "joint_prediction": False,
        "answerable_weight": 0.25,
    }
    config = FinetuningConfig.from_hparams("m", str(tmp_path), hparams)
    model = finetuner.FinetuningModel.from_finetuning_config(config, TASKS[2:3])
    assert model.config == config.disc_config()
    assert model.encoder.config.hidden_size == H
    assert model.settings == {
        "beam_size": 3,
        "joint_prediction": False,
        "answerable_classifier": True,
        "answerable_uses_start_logits": True,
        "answerable_weight": 0.25,
    }
