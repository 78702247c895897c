"""The run scripts on bad hparams and bad task data (issue 8, items 6, 7,
10, 11): exit 2, one stderr line naming the key or file, no traceback, and
no file of the data directory changed, added or deleted."""

import json
import os

import pytest

import finetuning_helpers as ft
import pretraining_helpers as pt
from bad_input import assert_clear_failure, run_cli
from helpers import SCRIPTS, TINY, VOCAB_SIZE, write_vocab

PRETRAIN = ["run_pretraining.py", "--model-name", "m"]
FINETUNE = ["run_finetuning.py", "--model-name", "m"]


@pytest.fixture(scope="module")
def pretraining_dir(tmp_path_factory):
    return pt.make_data_dir(tmp_path_factory.mktemp("pre"), n_examples=16)


def _pretrain(data_dir, hparams, expect):
    text = hparams if isinstance(hparams, str) else json.dumps(
        dict(TINY, **hparams)
    )
    args = PRETRAIN + ["--data-dir", data_dir, "--hparams", text]
    return assert_clear_failure(args, expect, keep=[data_dir])


@pytest.mark.parametrize(
    "hparams, expect",
    [
        ({"learning_rate": -1}, ["learning_rate = -1", "> 0"]),
        ({"learning_rate": "1e-3"}, ["learning_rate = '1e-3'", "is a str"]),
        ({"train_batch_size": "big"}, ["train_batch_size = 'big'", "integer"]),
        ({"num_train_steps": "20"}, ["num_train_steps = '20'", "integer"]),
        ({"disc_weight": -1.0}, ["disc_weight = -1.0", ">= 0"]),
        ({"save_checkpoints_steps": 0}, ["save_checkpoints_steps = 0", ">= 1"]),
        ({"mask_prob": 1.5}, ["mask_prob = 1.5", "(0, 1)"]),
        ({"debug": "false"}, ["debug = 'false'", "true or false"]),
        ({"vocab_size": 50}, ["vocab_size = 50", "99 tokens", "vocab.txt"]),
        ({"learning_rat": 1e-3}, ["learning_rat", "did you mean 'learning_rate'"]),
    ],
)
def test_pretraining_bad_hparams(pretraining_dir, hparams, expect):
    _pretrain(pretraining_dir, hparams, expect)


def test_pretraining_missing_hparams_file(pretraining_dir, tmp_path):
    missing = str(tmp_path / "hparams")  # no .json suffix: still a path
    _pretrain(pretraining_dir, missing, [missing, "does not exist"])


def _finetuning_dir(tmp_path, task="rte"):
    data_dir = str(tmp_path)
    write_vocab(data_dir, ft.WORDS)
    ft.write_tsv(data_dir, "rte", "train", [
        ["index", "sentence1", "sentence2", "label"],
        ["0", "the cat sat", "a dog ran", "entailment"],
        ["1", "the dog", "the cat", "not_entailment"],
    ])
    return data_dir


def _finetune(data_dir, expect, **hparams):
    defaults = dict(
        task_names=["rte"],
        vocab_file=os.path.join(data_dir, "vocab.txt"),
        train_batch_size=2,
    )
    hparams = dict(defaults, **hparams)
    args = FINETUNE + ["--data-dir", data_dir, "--hparams", json.dumps(hparams)]
    return assert_clear_failure(args, expect, keep=[data_dir])


def test_finetuning_bad_hparam(tmp_path):
    data_dir = _finetuning_dir(tmp_path)
    _finetune(data_dir, ["num_train_epochs = '3'", "is a str"], num_train_epochs="3")
    _finetune(data_dir, ["unknown task 'rtee'"], task_names=["rtee"])


def test_finetuning_glue_dev_label_found_before_training(tmp_path):
    data_dir = _finetuning_dir(tmp_path)
    ft.write_tsv(data_dir, "rte", "dev", [
        ["index", "sentence1", "sentence2", "label"],
        ["0", "the cat", "a dog", "entailment"],
        ["1", "the cat", "a dog", "contradiction"],
    ])
    _finetune(data_dir, ["rte/dev.tsv line 3", "'contradiction'", "label column"])


def test_finetuning_missing_dev_file(tmp_path):
    data_dir = _finetuning_dir(tmp_path)
    _finetune(data_dir, ["rte/dev.tsv does not exist"])
    vocab = os.path.join(data_dir, "no_vocab.txt")
    _finetune(data_dir, [vocab, "does not exist"], vocab_file=vocab)


@pytest.mark.parametrize(
    "text, expect",
    [
        ('{"data": [{"paragraphs": [', ["squad/dev.json is not valid JSON", "line 1"]),
        ('{"data": [{"paragraphs": [{"context": "c"}]}]}',
         ["squad/dev.json: data[0].paragraphs[0]", "'qas' is missing"]),
    ],
)
def test_finetuning_bad_squad_dev_found_before_training(tmp_path, text, expect):
    data_dir = _finetuning_dir(tmp_path)
    context = "the cat sat on the mat"
    ft.write_squad(data_dir, "squad", "train", [{"context": context, "qas": [
        {"id": "q", "question": "what sat?", "is_impossible": False,
         "answers": [{"text": "cat", "answer_start": 4}]},
    ]}])
    with open(os.path.join(data_dir, "finetuning_data", "squad", "dev.json"), "w") as f:
        f.write(text)
    _finetune(data_dir, expect, task_names=["squad"], max_seq_length=32)


def test_unexpected_errors_keep_their_traceback_with_tensorflow_quiet():
    result = run_cli([os.path.join(SCRIPTS, "unexpected_error.py")])
    assert result.returncode == 1
    assert "to stdout" in result.stdout and "to stdout" not in result.stderr
    assert result.stderr.startswith("Traceback (most recent call last):")
    assert result.stderr.rstrip().endswith("RuntimeError: a bug")


def _shard(data_dir, i=1):
    folder = os.path.join(data_dir, "pretrain_tfrecords")
    return os.path.join(folder, f"pretrain_data.tfrecord-{i}-of-2")


def test_pretraining_truncated_shard_is_named(tmp_path):
    data_dir = pt.make_data_dir(tmp_path / "data", n_examples=16)
    shard = _shard(data_dir)
    with open(shard, "rb") as f:
        good = f.read()
    with open(shard, "wb") as f:
        f.write(good[: len(good) // 2 + 7])  # cut inside a record
    _pretrain(data_dir, {}, [shard, "at byte", "rebuild"])


def test_pretraining_ids_beyond_the_vocab_are_named(tmp_path):
    data_dir = pt.make_data_dir(tmp_path / "data", n_examples=16)
    rows = pt.random_examples(8, 16, seed=3)
    rows[0][0][1] = VOCAB_SIZE + 5  # an id the vocab does not have
    pt.write_records(_shard(data_dir), rows)
    _pretrain(data_dir, {}, [_shard(data_dir), f"{VOCAB_SIZE + 5}"])
