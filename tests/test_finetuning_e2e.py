"""End to end: tiny datasets in the real formats, fine-tuned from a checkpoint.

Each task family learns a rule a tiny model picks up in a few dozen steps,
so the dev metric must end well above chance; the results, QA and
test-prediction files must have the original's layout. The model is the
original-format checkpoint `original-electra-tiny` (vocab `tok0`..`tok93`)
or one written by this package's pre-training run.
"""

import json
import os
import pickle
import re
import subprocess
import sys

import numpy as np
import pytest

from electra_tf.config import FinetuningConfig
import electra_tf.finetuning
import electra_tf.pretraining.runner

import pretraining_helpers
from helpers import fixture_path

pytestmark = pytest.mark.slow

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir)
MODEL = {
    "model_size": "small",
    "vocab_size": 99,
    "embedding_size": 32,
    "model_hparam_overrides": {
        "hidden_size": 64,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "intermediate_size": 96,
        "max_position_embeddings": 32,
    },
}
TRAIN = {
    "max_seq_length": 32,
    "train_batch_size": 16,
    "eval_batch_size": 16,
    "learning_rate": 3e-3,
    "num_train_epochs": 8,
}


def _words(rng, lo, hi, n):
    return " ".join(f"tok{i}" for i in rng.integers(lo, hi, n))


def _data_dir(tmp_path):
    """`<data>/models/tiny` holding the fixture's checkpoint and vocab."""
    fixture = fixture_path("original-electra-tiny")
    model_dir = tmp_path / "data" / "models" / "tiny"
    model_dir.mkdir(parents=True)
    for name in os.listdir(fixture):
        if name.startswith(("model.ckpt", "checkpoint", "vocab")):
            os.symlink(os.path.join(fixture, name), model_dir / name)
    return tmp_path / "data"


def _task_dir(data_dir, task):
    path = data_dir / "finetuning_data" / task
    path.mkdir(parents=True, exist_ok=True)
    return path


def _write_lines(path, lines):
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")


def _sst(data_dir, rng):
    d = _task_dir(data_dir, "sst")
    for split, n in (("train", 64), ("dev", 32)):
        rows = ["sentence\tlabel"]
        for i in range(n):
            label = i % 2
            rows.append(_words(rng, 5, 30, 5) if label else _words(rng, 50, 75, 5))
            rows[-1] += f"\t{label}"
        _write_lines(d / f"{split}.tsv", rows)
    _write_lines(d / "test.tsv", ["index\tsentence"] + [f"{i}\t{_words(rng, 5, 75, 5)}" for i in range(5)])


def _rte(data_dir, rng):
    d = _task_dir(data_dir, "rte")
    for split, n in (("train", 64), ("dev", 32)):
        rows = ["index\tsentence1\tsentence2\tlabel"]
        for i in range(n):
            yes = i % 2
            b = _words(rng, 5, 30, 4) if yes else _words(rng, 50, 75, 4)
            label = "entailment" if yes else "not_entailment"
            rows.append(f"{i}\t{_words(rng, 5, 75, 4)}\t{b}\t{label}")
        _write_lines(d / f"{split}.tsv", rows)


def _sts(data_dir, rng):
    d = _task_dir(data_dir, "sts")
    header = "index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2\tscore"
    for split, n in (("train", 64), ("dev", 32)):
        rows = [header]
        for i in range(n):
            k = i % 5
            words = [f"tok{w}" for w in rng.integers(5, 30, k)]
            words += [f"tok{w}" for w in rng.integers(50, 75, 4 - k)] if k < 4 else []
            text_a = " ".join(rng.permutation(words)) if words else "tok60"
            score = 5.0 * k / 4
            rows.append(f"{i}\tg\tf\ty\t{i}\ts\ts\t{text_a}\t{_words(rng, 30, 50, 3)}\t{score}")
        _write_lines(d / f"{split}.tsv", rows)


def _qa_paragraph(rng, qid, answerable=True):
    """Context of tokens 5..59 with (if answerable) one answer token 80..92."""
    words = [f"tok{w}" for w in rng.integers(5, 60, 8)]
    answer = None
    if answerable:
        answer = f"tok{rng.integers(80, 93)}"
        words.insert(int(rng.integers(0, 9)), answer)
    context = " ".join(words)
    question = _words(rng, 60, 80, 2)
    return context, question, answer, (context.index(answer) if answer else None)


def _squad(data_dir, rng, task, v2):
    d = _task_dir(data_dir, task)
    for split, n in (("train", 64), ("dev", 32), ("test", 4)):
        paragraphs = []
        for i in range(n):
            answerable = not v2 or i % 2 == 0
            context, question, answer, start = _qa_paragraph(rng, i, answerable)
            qa = {"id": f"{split}{i}", "question": question,
                  "answers": [{"text": answer, "answer_start": start}] if answer else []}
            if v2:
                qa["is_impossible"] = not answerable
            paragraphs.append({"context": context, "qas": [qa]})
        data = {"version": "v2.0" if v2 else "1.1",
                "data": [{"title": "t", "paragraphs": paragraphs}]}
        (d / f"{split}.json").write_text(json.dumps(data), encoding="utf-8")


def _mrqa(data_dir, rng, task):
    d = _task_dir(data_dir, task)
    for split, n in (("train", 64), ("dev", 32)):
        lines = [json.dumps({"header": {"dataset": task, "split": split}})]
        for i in range(n):
            context, question, answer, start = _qa_paragraph(rng, i)
            span = [start, start + len(answer) - 1]
            qa = {"qid": f"{split}{i}", "question": question, "answers": [answer],
                  "detected_answers": [{"text": answer, "char_spans": [span]}]}
            lines.append(json.dumps({"context": context, "qas": [qa]}))
        _write_lines(d / f"{split}.jsonl", lines)


def _chunk(data_dir, rng):
    d = _task_dir(data_dir, "chunk")
    for split, n in (("train", 64), ("dev", 32)):
        lines = ["-DOCSTART- -X- O", ""]
        for _ in range(n):
            for w in rng.integers(5, 80, 6):
                tag = "B-NP" if w < 30 else "B-VP" if w < 55 else "O"
                lines.append(f"tok{w} NN {tag}")
            lines.append("")
        _write_lines(d / f"{split}.txt", lines)


def _run(data_dir, tasks, **hparams):
    hparams = dict(MODEL, **TRAIN, task_names=tasks, **hparams)
    config = FinetuningConfig.from_hparams("tiny", str(data_dir), hparams)
    return config, electra_tf.finetuning.run(config)


def _results_lines(config):
    with open(config.results_txt) as f:
        return f.read().splitlines()


def _assert_results_layout(config, results, n_trials=1):
    with open(config.results_pkl, "rb") as f:
        assert pickle.load(f) == results
    assert len(results) == n_trials
    lines = _results_lines(config)
    assert len(lines) == n_trials * len(config.task_names)
    for line, (task, metrics) in zip(
        lines, [item for trial in results for item in trial.items()]
    ):
        assert line == f"{task}: " + " - ".join(f"{k}: {v:.2f}" for k, v in metrics.items())
        assert re.fullmatch(r"\w+: (\w+: -?\d+\.\d\d( - )?)+", line)


def test_single_sentence_classification_two_trials_and_test_outputs(tmp_path):
    data_dir = _data_dir(tmp_path)
    _sst(data_dir, np.random.default_rng(0))
    config, results = _run(data_dir, ["sst"], num_trials=2, write_test_outputs=True)
    _assert_results_layout(config, results, n_trials=2)
    assert all(r["sst"]["accuracy"] >= 90.0 for r in results)  # chance: 50
    with open(config.results_txt.replace("_results.txt", "_trials.json")) as f:
        trials = json.load(f)
    assert [t["seed"] for t in trials["trials"]] == [0, 1]
    assert trials["median"]["sst"]["accuracy"] == np.median([r["sst"]["accuracy"] for r in results])
    for trial in (1, 2):
        with open(config.test_predictions("sst", "test", trial), "rb") as f:
            logits = pickle.load(f)
        assert sorted(logits) == [0, 1, 2, 3, 4] and logits[0].shape == (2,)
        assert os.path.exists(os.path.join(config.trial_model_dir(trial), "checkpoint"))


def test_pair_classification_from_our_finetuned_checkpoint(tmp_path):
    data_dir = _data_dir(tmp_path)
    _rte(data_dir, np.random.default_rng(1))
    config, results = _run(data_dir, ["rte"])
    _assert_results_layout(config, results)
    assert results[0]["rte"]["accuracy"] >= 80.0  # chance: 50
    # Evaluation only, from the fine-tuned model directory: same score.
    _, again = _run(
        data_dir, ["rte"], do_train=False, init_checkpoint=config.trial_model_dir(1)
    )
    assert again[0]["rte"]["accuracy"] == results[0]["rte"]["accuracy"]


def test_regression(tmp_path):
    data_dir = _data_dir(tmp_path)
    _sts(data_dir, np.random.default_rng(2))
    config, results = _run(data_dir, ["sts"])
    _assert_results_layout(config, results)
    assert list(results[0]["sts"]) == ["pearson", "spearman", "mse", "loss"]
    assert results[0]["sts"]["pearson"] >= 70.0  # chance: 0


def _qa_files(config, task):
    directory = os.path.dirname(config.qa_preds_file(task))
    return sorted(os.listdir(directory))


def test_squad_v1(tmp_path):
    data_dir = _data_dir(tmp_path)
    _squad(data_dir, np.random.default_rng(3), "squadv1", v2=False)
    config, results = _run(data_dir, ["squadv1"])
    _assert_results_layout(config, results)
    assert list(results[0]["squadv1"]) == ["exact_match", "f1"]
    assert results[0]["squadv1"]["exact_match"] >= 60.0  # chance: ~1 in 9
    assert _qa_files(config, "squadv1") == [
        "squadv1_eval.json", "squadv1_nbest.json", "squadv1_preds.json"
    ]


def test_squad_v2_with_test_outputs(tmp_path):
    data_dir = _data_dir(tmp_path)
    _squad(data_dir, np.random.default_rng(4), "squad", v2=True)
    config, results = _run(data_dir, ["squad"], write_test_outputs=True)
    _assert_results_layout(config, results)
    scores = results[0]["squad"]
    assert list(scores) == sorted(scores) and scores["total"] == 32
    assert scores["HasAns_total"] == 16 and scores["NoAns_total"] == 16
    assert scores["best_f1"] >= 75.0  # chance: 50 (always "no answer")
    assert scores["HasAns_exact"] >= 50.0
    assert _qa_files(config, "squad") == [
        "squad_eval.json", "squad_nbest.json", "squad_null_odds.json", "squad_preds.json"
    ]
    with open(config.qa_eval_file("squad")) as f:
        assert json.load(f) == pytest.approx(scores)
    with open(config.test_predictions("squad", "test", 1)) as f:  # JSON, as the original
        answers = json.load(f)
    assert sorted(answers) == ["test0", "test1", "test2", "test3"]


def test_mrqa(tmp_path):
    data_dir = _data_dir(tmp_path)
    _mrqa(data_dir, np.random.default_rng(5), "newsqa")
    config, results = _run(data_dir, ["newsqa"])
    _assert_results_layout(config, results)
    assert results[0]["newsqa"]["exact_match"] >= 60.0
    with open(config.qa_preds_file("newsqa")) as f:
        assert len(json.load(f)) == 32


def test_chunking(tmp_path):
    data_dir = _data_dir(tmp_path)
    _chunk(data_dir, np.random.default_rng(6))
    config, results = _run(data_dir, ["chunk"])
    _assert_results_layout(config, results)
    assert list(results[0]["chunk"]) == ["precision", "recall", "f1", "loss"]
    assert results[0]["chunk"]["f1"] >= 80.0


def test_cli_multitask_from_our_pretraining_run(tmp_path):
    """run_finetuning.py on RTE + STS from a checkpoint of our pre-training."""
    data_dir = tmp_path / "data"
    pretraining_helpers.make_data_dir(data_dir)
    # The fixture's words (tok0..) for the same ids; pre-training copies
    # the vocab into the model directory, where fine-tuning reads it.
    with open(fixture_path("original-electra-tiny", "vocab.txt")) as f:
        (data_dir / "vocab.txt").write_text(f.read())
    config = pretraining_helpers.tiny_config(
        data_dir, "ours", num_train_steps=4, save_checkpoints_steps=4
    )
    electra_tf.pretraining.runner.run(config, log=lambda *args: None)
    _rte(data_dir, np.random.default_rng(7))
    _sts(data_dir, np.random.default_rng(8))
    model = {k: pretraining_helpers.TINY[k] for k in (
        "vocab_size", "model_hparam_overrides", "embedding_size")}
    hparams = dict(model, **TRAIN, model_size="small", task_names=["rte", "sts"])
    proc = subprocess.run(
        [sys.executable, os.path.join(ROOT, "run_finetuning.py"), "--data-dir",
         str(data_dir), "--model-name", "ours", "--hparams", json.dumps(hparams)],
        cwd=ROOT, capture_output=True, text=True,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Initialised the encoder from pre-training checkpoint" in proc.stdout
    # 64 rte + 2 x 64 sts records (double_unordered) / 16 x 8 epochs
    assert "step 96/96" in proc.stdout
    results_dir = data_dir / "models" / "ours" / "results"
    with open(results_dir / "rte,sts_results.pkl", "rb") as f:
        (results,) = pickle.load(f)
    lines = (results_dir / "rte,sts_results.txt").read_text().splitlines()
    assert [line.split(":")[0] for line in lines] == ["rte", "sts"]
    assert results["rte"]["accuracy"] >= 80.0
    assert results["sts"]["pearson"] >= 70.0
    records = data_dir / "models" / "ours" / "finetuning_tfrecords" / "rte,sts_tfrecords"
    assert sorted(os.listdir(records)) == [
        "rte_dev.metadata", "rte_dev.tfrecord", "rte_sts_train.metadata",
        "rte_sts_train.tfrecord", "sts_dev.metadata", "sts_dev.tfrecord",
    ]
