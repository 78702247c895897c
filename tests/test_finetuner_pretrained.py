"""`from_pretrained` / `save_pretrained` of the fine-tuning models: exact
round trips, the encoder of a pre-training checkpoint, heads of fine-tuned
and Hugging Face sources, and clear errors for what does not fit."""

import json
import logging
import os

import numpy as np
import pytest
from safetensors import numpy as safetensors_numpy

from electra_tf import checkpoints
from electra_tf.checkpoints import finetuned
from electra_tf.config import FinetuningConfig
from electra_tf.errors import CheckpointError
from electra_tf.models.finetuner import (
    ElectraForMultipleChoice,
    ElectraForQuestionAnswering,
    ElectraForSequenceClassification,
    ElectraForTokenClassification,
    FinetuningModel,
)
from electra_tf.models.pretrainer import ElectraPretrainer
from finetuning_helpers import VOCAB, WORDS
from helpers import (
    encoder_batch,
    randomize_weights,
    tiny_config,
    tiny_model_config,
    write_vocab,
)

CONFIG = tiny_model_config(
    vocab_size=len(VOCAB),
    hidden_size=16,
    num_hidden_layers=1,
    intermediate_size=32,
    embedding_size=None,
)
TAGS = ["O", "B-NP", "I-NP", "B-VP"]


def build(cls, **args):
    defaults = {
        ElectraForSequenceClassification: dict(num_labels=3, task_name="mnli"),
        ElectraForTokenClassification: dict(num_labels=4, labels=TAGS),
        ElectraForQuestionAnswering: dict(beam_size=3),
        ElectraForMultipleChoice: {},
    }
    model = cls(CONFIG, **dict(defaults[cls], **args))
    randomize_weights(model, seed=len(cls.__name__))
    return model


def batch(cls):
    inputs = encoder_batch(vocab=len(VOCAB))
    if cls is ElectraForMultipleChoice:  # [B, N, L] with N = 3
        inputs = {k: np.stack([v, v[::-1], v]) for k, v in inputs.items()}
    return inputs


def assert_same(got, want, cls):
    inputs = batch(cls)
    a, b = got(inputs), want(inputs)
    if not isinstance(a, dict):
        a, b = {"out": a}, {"out": b}
    assert sorted(a) == sorted(b)
    for key in a:
        np.testing.assert_array_equal(np.asarray(a[key]), np.asarray(b[key]))


CLASSES = [
    ElectraForSequenceClassification,
    ElectraForTokenClassification,
    ElectraForQuestionAnswering,
    ElectraForMultipleChoice,
]


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_original_round_trip_is_exact(cls, tmp_path, caplog):
    model = build(cls)
    path = str(tmp_path / "orig")
    model.save_pretrained(path, format="original")
    # Settings that are not weights (the QA beam) are passed again.
    extra = {"beam_size": 3} if cls is ElectraForQuestionAnswering else {}
    with caplog.at_level(logging.INFO):
        again = cls.from_pretrained(
            path, hparams=CONFIG, task_name=model.task_name, **extra
        )
    assert f"Loaded {cls.__name__} from the original checkpoint" in caplog.text
    assert "encoder and heads " + model.task_name in caplog.text
    assert sorted(v.path for v in again.weights) == sorted(
        v.path for v in model.weights
    )
    assert_same(again, model, cls)


def test_token_classification_hf_round_trip_keeps_head_and_labels(tmp_path):
    model = build(ElectraForTokenClassification)
    vocab = write_vocab(tmp_path, WORDS)
    model.save_pretrained(str(tmp_path / "hf"), format="hf", vocab_file=vocab)
    with open(tmp_path / "hf" / "config.json") as f:
        assert json.load(f)["id2label"] == {
            str(i): t for i, t in enumerate(TAGS)
        }
    again = ElectraForTokenClassification.from_pretrained(str(tmp_path / "hf"))
    assert again.labels == tuple(TAGS) and again.num_labels == 4
    assert_same(again, model, ElectraForTokenClassification)
    chunk = ElectraForTokenClassification.from_pretrained(
        str(tmp_path / "hf"), task_name="chunk"
    )
    assert chunk.head.dense.kernel.path == "task_specific/chunk/dense/kernel"
    np.testing.assert_array_equal(
        chunk.head.dense.kernel.numpy(), model.head.dense.kernel.numpy()
    )
    with pytest.raises(CheckpointError, match="with 4 labels"):
        ElectraForTokenClassification.from_pretrained(
            str(tmp_path / "hf"), labels=["O", "X", "Y", "Z"]
        )


def test_hf_save_refuses_heads_without_hf_equivalent(tmp_path):
    model = build(ElectraForSequenceClassification)
    with pytest.raises(CheckpointError, match="no Hugging Face equivalent"):
        model.save_pretrained(str(tmp_path / "hf"), format="hf")
    assert not os.path.exists(tmp_path / "hf")
    with pytest.raises(CheckpointError, match="format 'original'"):
        model.save_pretrained(str(tmp_path / "x"), format="ours")


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pre")
    config = tiny_config(str(folder), vocab_size=len(VOCAB))
    model = ElectraPretrainer(config)
    randomize_weights(model, seed=3)
    model.save_pretrained(str(folder / "ours"), format="ours")
    return str(folder / "ours")


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_pretraining_checkpoint_gives_the_discriminator_encoder(
    cls, pretrained
):
    args = {"num_labels": 2} if cls in CLASSES[:2] else {}
    model = cls.from_pretrained(pretrained, **args)
    want = {
        v.path: v.numpy() for v in checkpoints.load_encoder(pretrained).weights
    }
    got = {v.path: v.numpy() for v in model.encoder.weights}
    assert sorted(got) == sorted(want)
    for name, value in want.items():
        np.testing.assert_array_equal(got[name], value, err_msg=name)
    if args:  # a new head of unknown size
        with pytest.raises(CheckpointError, match="needs num_labels="):
            cls.from_pretrained(pretrained)


@pytest.fixture(scope="module")
def finetuned_dir(tmp_path_factory):
    """A fine-tuned directory as run_finetuning.py writes it: mnli + chunk."""
    folder = tmp_path_factory.mktemp("ft")
    specs = [
        {"name": "mnli", "head_type": "classification", "num_labels": 3},
        {"name": "chunk", "head_type": "tagging", "num_labels": 4},
    ]
    model = FinetuningModel(CONFIG, specs)
    randomize_weights(model, seed=5)
    hparams = dict(
        checkpoints.sizes.hf_overrides(CONFIG),
        task_names=["mnli", "chunk"],
        vocab_file=write_vocab(folder, WORDS),
    )
    config = FinetuningConfig.from_hparams("tiny", str(folder), hparams)
    model_dir = str(folder / "finetuning_models" / "mnli,chunk_model_1")
    finetuned.save_checkpoint(model, model_dir, 7)
    finetuned.write_description(model_dir, config, specs)
    return model, model_dir


def test_finetuned_dir_loads_the_matching_head(finetuned_dir):
    source, path = finetuned_dir
    want = {v.path: v.numpy() for v in source.weights}
    seq = ElectraForSequenceClassification.from_pretrained(path)
    tok = ElectraForTokenClassification.from_pretrained(path)
    whole = FinetuningModel.from_pretrained(path)
    assert (seq.task_name, seq.num_labels) == ("mnli", 3)
    assert (tok.task_name, tok.num_labels) == ("chunk", 4)
    for model in (seq, tok, whole):
        for v in model.weights:
            np.testing.assert_array_equal(v.numpy(), want[v.path])
    with pytest.raises(CheckpointError, match=r"mnli \(classification\)"):
        ElectraForQuestionAnswering.from_pretrained(path)
    with pytest.raises(CheckpointError, match="3 labels"):
        ElectraForSequenceClassification.from_pretrained(path, num_labels=5)


def test_hf_sequence_classification_head_is_named_as_ignored(tmp_path, caplog):
    encoder = build(ElectraForSequenceClassification).encoder
    folder = tmp_path / "hf"
    encoder.save_pretrained(str(folder))
    tensors = safetensors_numpy.load_file(str(folder / "model.safetensors"))
    rng = np.random.default_rng(0)
    for name, shape in (
        ("classifier.dense.weight", (16, 16)),
        ("classifier.dense.bias", (16,)),
        ("classifier.out_proj.weight", (2, 16)),
        ("classifier.out_proj.bias", (2,)),
    ):
        tensors[name] = rng.normal(size=shape).astype("float32")
    safetensors_numpy.save_file(tensors, str(folder / "model.safetensors"))
    with open(folder / "config.json") as f:
        config = json.load(f)
    config["architectures"] = ["ElectraForSequenceClassification"]
    with open(folder / "config.json", "w") as f:
        json.dump(config, f)
    with caplog.at_level(logging.INFO):
        model = ElectraForSequenceClassification.from_pretrained(
            str(folder), num_labels=2
        )
    assert "classifier.dense.weight" in caplog.text
    assert "HF's sequence-classification" in caplog.text
    assert "from the huggingface checkpoint" in caplog.text
    assert "encoder and a new head" in caplog.text
    for v in model.encoder.weights:
        np.testing.assert_array_equal(
            v.numpy(), {w.path: w for w in encoder.weights}[v.path].numpy()
        )


def test_unknown_format_is_a_checkpoint_error(tmp_path):
    (tmp_path / "notes.txt").write_text("not a model")
    with pytest.raises(CheckpointError, match="holds no known checkpoint"):
        ElectraForSequenceClassification.from_pretrained(
            str(tmp_path), num_labels=2
        )


def test_head_of_another_kind_is_a_checkpoint_error(tmp_path):
    path = str(tmp_path / "qa")
    build(ElectraForQuestionAnswering).save_pretrained(path)
    with pytest.raises(CheckpointError, match="other layers"):
        ElectraForSequenceClassification.from_pretrained(
            path, hparams=CONFIG, task_name="squad"
        )


def test_finetuning_model_from_a_pretraining_checkpoint(pretrained):
    with pytest.raises(CheckpointError, match="needs tasks="):
        FinetuningModel.from_pretrained(pretrained)
    tasks = [{"name": "sts", "head_type": "regression", "num_labels": None}]
    model = FinetuningModel.from_pretrained(pretrained, tasks=tasks)
    want = checkpoints.load_encoder(pretrained).weights
    assert [v.path for v in model.encoder.weights] == [v.path for v in want]
    for got, value in zip(model.encoder.weights, want):
        np.testing.assert_array_equal(got.numpy(), value.numpy())
