"""GLUE readers, featurisation and the TFRecord cache on tiny TSV files."""

import json
import os

import numpy as np
import pytest
import tensorflow as tf

from electra_tf import errors
from electra_tf.finetuning import glue
from electra_tf.finetuning import preprocessing

from finetuning_helpers import ID, make_config, write_tsv


def _task(tmp_path, name, **hparams):
    config = make_config(tmp_path, task_names=[name], **hparams)
    return preprocessing.get_tasks(config)[0]


def _ids(text):
    return [ID[t] for t in text.split()]


RTE_ROWS = [
    ["index", "sentence1", "sentence2", "label"],
    ["0", "The cat sat.", "A dog ran", "entailment"],
    ["1", "the dog", "the cat", "not_entailment"],
]


def test_rte_pair_features(tmp_path):
    write_tsv(tmp_path, "rte", "train", RTE_ROWS)
    task = _task(tmp_path, "rte", max_seq_length=12)
    examples = task.get_examples("train")
    assert [(e.eid, e.text_a, e.text_b, e.label) for e in examples] == [
        (0, "The cat sat.", "A dog ran", "entailment"),
        (1, "the dog", "the cat", "not_entailment"),
    ]
    assert task.text_pairs  # the export serves it text pairs
    (features,) = task.featurize(examples[0], True)
    assert features == {
        "input_ids": _ids("[CLS] the cat sat . [SEP] a dog ran [SEP]") + [0, 0],
        "input_mask": [1] * 10 + [0, 0],
        "segment_ids": [0] * 6 + [1] * 4 + [0, 0],
        "task_id": 0,
        "rte_eid": 0,
        "rte_label_ids": 0,
    }
    assert task.featurize(examples[1], True)[0]["rte_label_ids"] == 1


def test_truncation_pair_and_single(tmp_path):
    a, b = [1, 2, 3, 4, 5], [1, 2, 3]
    glue._truncate_seq_pair(a, b, 6)
    assert (a, b) == ([1, 2, 3], [1, 2, 3])
    a, b = [1, 2], [1, 2]
    glue._truncate_seq_pair(a, b, 3)  # ties pop from b
    assert (a, b) == ([1, 2], [1])

    write_tsv(tmp_path, "qnli", "dev", [
        ["index", "question", "sentence", "label"],
        ["7", "the cat sat on the mat", "a dog", "entailment"],
    ])
    task = _task(tmp_path, "qnli", max_seq_length=8)
    (features,) = task.featurize(task.get_examples("dev")[0], False)
    assert features["input_ids"] == _ids("[CLS] the cat sat [SEP] a dog [SEP]")
    assert features["segment_ids"] == [0] * 5 + [1] * 3
    assert task.text_pairs

    write_tsv(tmp_path, "sst", "train", [
        ["sentence", "label"],
        ["the cat sat on the mat", "1"],
    ])
    task = _task(tmp_path, "sst", max_seq_length=6)
    (features,) = task.featurize(task.get_examples("train")[0], True)
    assert features["input_ids"] == _ids("[CLS] the cat sat on [SEP]")
    assert features["segment_ids"] == [0] * 6
    assert features["sst_label_ids"] == 1
    assert not task.text_pairs


def test_quotes_are_literal(tmp_path):
    path = write_tsv(tmp_path, "sst", "dev", ['sentence\tlabel', '"the cat\t0'])
    assert glue.read_tsv(path) == [["sentence", "label"], ['"the cat', "0"]]


def test_cola_headers_and_test_dummy_labels(tmp_path):
    write_tsv(tmp_path, "cola", "train", [
        ["gj04", "1", "", "the cat sat ."],
        ["gj04", "0", "*", "cat the sat ."],
    ])
    write_tsv(tmp_path, "cola", "test", [["id", "sentence"], ["0", "the dog ran"]])
    task = _task(tmp_path, "cola")
    train = task.get_examples("train")
    assert [(e.eid, e.text_a, e.label) for e in train] == [
        (0, "the cat sat .", "1"),
        (1, "cat the sat .", "0"),
    ]
    (test,) = task.get_examples("test")
    assert (test.eid, test.text_a, test.label) == (0, "the dog ran", "0")
    assert type(task.get_scorer()).__name__ == "MCCScorer"
    assert not task.text_pairs


def test_mnli_files_columns_and_test_splits(tmp_path):
    header = ["index", "p", "q", "genre", "b1", "b2", "p1", "p2", "s1", "s2", "l1", "gold"]
    row = ["0", "1", "2", "fiction", "(", "(", "(", "(", "the cat", "a dog", "x", "neutral"]
    write_tsv(tmp_path, "mnli", "dev_matched", [header, row])
    write_tsv(tmp_path, "mnli", "test_mismatched", [header[:10], row[:10]])
    write_tsv(tmp_path, "mnli", "diagnostic", [["id", "s1", "s2"], ["0", "a", "b"]])
    task = _task(tmp_path, "mnli")
    (dev,) = task.get_examples("dev")
    assert (dev.text_a, dev.text_b, dev.label) == ("the cat", "a dog", "neutral")
    assert task.featurize(dev, False)[0]["mnli_label_ids"] == 2
    (test,) = task.get_examples("test_mismatched")
    assert (test.text_a, test.label) == ("the cat", "contradiction")
    (diag,) = task.get_examples("diagnostic")
    assert (diag.text_a, diag.text_b) == ("a", "b")
    assert task.get_test_splits() == ["test_matched", "test_mismatched", "diagnostic"]


def test_mrpc_double_unordered_train_only(tmp_path):
    rows = [
        ["Quality", "#1 ID", "#2 ID", "#1 String", "#2 String"],
        ["1", "a", "b", "the cat", "a cat"],
        ["0", "c", "d", "the dog", "a mat"],
    ]
    write_tsv(tmp_path, "mrpc", "train", rows)
    write_tsv(tmp_path, "mrpc", "dev", rows)
    task = _task(tmp_path, "mrpc")
    train = task.get_examples("train")
    assert [(e.eid, e.text_a, e.text_b, e.label) for e in train] == [
        (0, "the cat", "a cat", "1"),
        (1, "the dog", "a mat", "0"),
        (2, "a cat", "the cat", "1"),
        (3, "a mat", "the dog", "0"),
    ]
    assert len(task.get_examples("dev")) == 2
    task = _task(tmp_path, "mrpc", double_unordered=False)
    assert len(task.get_examples("train")) == 2


def test_sts_targets_doubling_and_bad_labels(tmp_path):
    header = ["index", "genre", "file", "year", "o1", "o2", "score", "s1", "s2"]
    write_tsv(tmp_path, "sts", "train", [
        header[:7] + ["s1", "s2", "score"],
        ["0", "g", "f", "y", "1", "2", "the cat", "a cat", "4.0"],
    ])
    write_tsv(tmp_path, "sts", "test", [["index", "s1", "s2"], ["0", "the", "cat"]])
    task = _task(tmp_path, "sts")
    train = task.get_examples("train")
    assert [(e.eid, e.text_a, e.text_b) for e in train] == [
        (0, "the cat", "a cat"),
        (1, "a cat", "the cat"),
    ]
    (features,) = task.featurize(train[0], True)
    assert features["sts_targets"] == pytest.approx(0.8)
    (test,) = task.get_examples("test")
    assert (test.text_a, test.text_b, test.label) == ("the", "cat", 0.0)
    for bad in ("5.5", "-1", "good"):
        train[0].label = bad
        with pytest.raises(ValueError, match="not a number in"):
            task.featurize(train[0], True)


def test_malformed_rows_counted_and_label_errors(tmp_path, caplog):
    write_tsv(tmp_path, "qqp", "train", [
        ["id", "qid1", "qid2", "question1", "question2", "is_duplicate"],
        ["0", "1", "2", "the cat", "a cat", "1"],
        ["1", "3", "4", "broken row"],
        ["2", "5", "6", "the dog", "a dog", "0"],
        "",
    ])
    task = _task(tmp_path, "qqp")
    examples = task.get_examples("train")
    assert [e.eid for e in examples] == [0, 2]
    assert task.malformed_rows["train"] == 2
    assert "skipped 2 malformed row(s)" in caplog.text
    examples[0].label = "2"
    with pytest.raises(ValueError, match=r"label '2' is not one of \['0', '1'\]"):
        task.featurize(examples[0], True)


def test_missing_task_directory_and_file(tmp_path):
    task = _task(tmp_path, "rte")
    with pytest.raises(FileNotFoundError, match="task directory .*finetuning_data/rte"):
        task.get_examples("train")
    write_tsv(tmp_path, "rte", "train", RTE_ROWS)
    with pytest.raises(FileNotFoundError, match="dev.tsv does not exist"):
        task.get_examples("dev")
    config = make_config(tmp_path, task_names=["mnli2"])
    with pytest.raises(ValueError, match="Unknown task 'mnli2'"):
        preprocessing.get_tasks(config)


def test_debug_reads_first_100_lines(tmp_path):
    rows = [["sentence", "label"]] + [["the cat", "1"]] * 150
    write_tsv(tmp_path, "sst", "train", rows)
    assert len(_task(tmp_path, "sst", debug=True).get_examples("train")) == 99


def _read_records(preprocessor, path):
    return list(
        tf.data.TFRecordDataset(path).map(preprocessor.decode_tfrecord).as_numpy_iterator()
    )


def test_tfrecord_cache_multitask_padding_and_keys(tmp_path):
    write_tsv(tmp_path, "rte", "dev", RTE_ROWS)
    write_tsv(tmp_path, "sts", "dev", [
        ["i", "g", "f", "y", "o1", "o2", "s1", "s2", "score"],
        ["0", "g", "f", "y", "1", "2", "the cat", "a cat", "2.5"],
    ])
    config = make_config(
        tmp_path, task_names=["rte", "sts"], max_seq_length=12, eval_batch_size=4
    )
    tasks = preprocessing.get_tasks(config)
    pre = preprocessing.Preprocessor(config, tasks)
    path, steps = pre.prepare_predict(tasks, "dev")
    assert path == os.path.join(config.preprocessed_data_dir, "rte_sts_dev.tfrecord")
    assert steps == 1
    records = _read_records(pre, path)
    assert [int(r["task_id"]) for r in records] == [0, 0, 1, 2]  # 2 = padding
    assert records[0]["input_ids"].dtype == np.int32
    np.testing.assert_array_equal(
        records[0]["input_ids"], _ids("[CLS] the cat sat . [SEP] a dog ran [SEP]") + [0, 0]
    )
    assert records[1]["rte_label_ids"] == 1 and records[1]["sts_targets"] == 0.0
    assert records[2]["sts_targets"] == pytest.approx(0.5)
    assert not records[3]["input_mask"].any()
    with open(path.replace(".tfrecord", ".metadata")) as f:
        assert json.load(f)["n_examples"] == 4

    # Reused while the settings are unchanged: the raw data is not re-read.
    tasks[0].get_examples = tasks[1].get_examples = None
    assert pre.prepare_predict(tasks, "dev") == (path, 1)

    # A changed max_seq_length (or vocab, or case) rebuilds the records.
    config = make_config(
        tmp_path, task_names=["rte", "sts"], max_seq_length=16, eval_batch_size=4
    )
    tasks = preprocessing.get_tasks(config)
    pre = preprocessing.Preprocessor(config, tasks)
    path, _ = pre.prepare_predict(tasks, "dev")
    assert _read_records(pre, path)[0]["input_ids"].shape == (16,)
    config = make_config(
        tmp_path,
        task_names=["rte", "sts"],
        max_seq_length=16,
        eval_batch_size=4,
        do_lower_case=False,
    )
    settings = preprocessing.Preprocessor(config, tasks).cache_settings(tasks, False, "dev")
    assert settings != pre.cache_settings(tasks, False, "dev")


def test_training_records_shuffled_repeated_and_steps(tmp_path):
    write_tsv(tmp_path, "rte", "train", RTE_ROWS + [["2", "the", "cat", "entailment"]])
    config = make_config(
        tmp_path, task_names=["rte"], max_seq_length=12, train_batch_size=2,
        num_train_epochs=3,
    )
    tasks = preprocessing.get_tasks(config)
    pre = preprocessing.Preprocessor(config, tasks)
    path, steps = pre.prepare_train()
    assert steps == 6  # 3 examples padded to 4, 2 batches x 3 epochs
    records = _read_records(pre, path)
    assert sorted(int(r["rte_eid"]) for r in records[:3]) == [0, 1, 2]
    assert int(records[3]["task_id"]) == 1
    batches = list(pre.make_dataset(path, True, seed=1).take(5).as_numpy_iterator())
    assert all(b["input_ids"].shape == (2, 12) for b in batches)


def test_empty_dev_set_is_an_error(tmp_path):
    write_tsv(tmp_path, "rte", "dev", [RTE_ROWS[0]])
    config = make_config(tmp_path, task_names=["rte"])
    tasks = preprocessing.get_tasks(config)
    with pytest.raises(ValueError, match="dev split of rte has no examples"):
        preprocessing.Preprocessor(config, tasks).prepare_predict(tasks, "dev")


def test_cache_is_rebuilt_when_content_changes_with_size_and_mtime_kept(tmp_path):
    rows = RTE_ROWS + [["2", "the cat", "a dog", "entailment"]]
    path = write_tsv(tmp_path, "rte", "dev", rows)
    stat = os.stat(path)
    config = make_config(tmp_path, task_names=["rte"], max_seq_length=12, eval_batch_size=1)
    tasks = preprocessing.get_tasks(config)
    pre = preprocessing.Preprocessor(config, tasks)
    records, _ = pre.prepare_predict(tasks, "dev")
    assert [int(r["rte_label_ids"]) for r in _read_records(pre, records)] == [0, 1, 0]
    # Same size, same mtime, another label: the features must follow.
    with open(path) as f:
        text = f.read()
    edited = text.replace("a dog\tentailment", "a dog\tnot_entailment", 1)
    edited = edited.replace("not_entailment\n", "entailment\n", 1)
    edited = edited.replace("The cat sat.", "The cat sat", 1) + " "
    assert len(edited) == len(text) and edited != text
    with open(path, "w") as f:
        f.write(edited)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert os.stat(path).st_mtime_ns == stat.st_mtime_ns
    assert os.path.getsize(path) == stat.st_size
    records, _ = pre.prepare_predict(tasks, "dev")
    assert [int(r["rte_label_ids"]) for r in _read_records(pre, records)] == [0, 0, 1]


def test_check_inputs_reads_dev_and_test_labels_before_training(tmp_path):
    write_tsv(tmp_path, "rte", "train", RTE_ROWS)
    write_tsv(tmp_path, "rte", "dev", RTE_ROWS + [["2", "a", "b", "entailed"]])
    config = make_config(tmp_path, task_names=["rte"])
    tasks = preprocessing.get_tasks(config)
    assert preprocessing.splits_used(config, tasks[0]) == ["train", "dev"]
    with pytest.raises(errors.DataError, match=(
        r"rte/dev.tsv line 4: label 'entailed' is not one of "
        r"\['entailment', 'not_entailment'\]; fix the label column")):
        preprocessing.check_inputs(config, tasks)
    write_tsv(tmp_path, "rte", "dev", RTE_ROWS)
    preprocessing.check_inputs(config, tasks)
    config = make_config(tmp_path, task_names=["rte"], write_test_outputs=True)
    assert preprocessing.splits_used(config, tasks[0]) == ["train", "dev", "test"]
    with pytest.raises(errors.MissingInputError, match="rte/test.tsv does not exist"):
        preprocessing.check_inputs(config, preprocessing.get_tasks(config))
    write_tsv(tmp_path, "sts", "dev", [
        ["i", "g", "f", "y", "o1", "o2", "s1", "s2", "score"],
        ["0", "g", "f", "y", "1", "2", "the cat", "a cat", "high"],
    ])
    config = make_config(tmp_path, task_names=["sts"], do_train=False, init_checkpoint="x")
    with pytest.raises(errors.DataError, match=(
        r"sts/dev.tsv line 2: score 'high' is not a number in \[0.0, 5.0\]")):
        preprocessing.check_inputs(config, preprocessing.get_tasks(config))
