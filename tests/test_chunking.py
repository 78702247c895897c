"""CoNLL chunking: reader, BIOES labels, label mapping, tagging features."""

import os
import pickle

import numpy as np
import pytest

from electra_tf.finetuning import chunking
from electra_tf.finetuning import preprocessing

from finetuning_helpers import ID, make_config, tokenizer_for, write_conll

TRAIN = [
    [("The", "DT", "B-NP"), ("big", "JJ", "I-NP"), ("cat", "NN", "I-NP"),
     ("plays", "VBZ", "B-VP"), ("on", "IN", "B-PP"), ("the", "DT", "B-NP"),
     ("mat", "NN", "I-NP"), (".", ".", "O")],
    [("He", "PRP", "B-NP"), ("ran", "VBD", "B-VP")],
]
DEV = [[("A", "DT", "B-NP"), ("dog", "NN", "I-NP"), ("ran", "VBD", "B-VP"), ("!", ".", "O")]]
LABELS = ["B-NP", "E-NP", "I-NP", "O", "S-NP", "S-PP", "S-VP"]


def _task(tmp_path, **hparams):
    write_conll(tmp_path, "train", TRAIN)
    write_conll(tmp_path, "dev", DEV, docstart=False)
    config = make_config(tmp_path, task_names=["chunk"], **hparams)
    return preprocessing.get_tasks(config)[0]


def _ids(text):
    return [ID[t] for t in text.split()]


def test_reader_bioes_labels_and_mapping_pickle(tmp_path):
    task = _task(tmp_path)
    examples = task.get_examples("train")
    assert [e.words for e in examples] == [tuple(w for w, _, _ in s) for s in TRAIN]
    mapping = {label: i for i, label in enumerate(LABELS)}
    assert task.get_label_mapping() == mapping
    # B-NP I-NP E-NP | S-VP | S-PP | B-NP E-NP | O
    assert examples[0].labels == [0, 2, 1, 6, 5, 0, 1, 3]
    assert examples[1].labels == [4, 6]
    path = os.path.join(task.config.preprocessed_data_dir, "chunk_label_mapping.pkl")
    assert task.label_mapping_path == path
    with open(path, "rb") as f:
        assert pickle.load(f) == mapping
    # Reused from the pickle; a tag outside it is a clear error.
    write_conll(tmp_path, "dev", [[("dog", "NN", "B-ADJP")]])
    task = preprocessing.get_tasks(task.config)[0]
    with pytest.raises(ValueError, match="tag 'S-ADJP' is not in the label mapping"):
        task.get_examples("dev")
    assert preprocessing.get_tasks(make_config(tmp_path, task_names=["chunk"], debug=True))[
        0
    ].label_mapping_path.endswith("debug_chunk_label_mapping.pkl")


def test_last_sentence_without_blank_line(tmp_path):
    task = _task(tmp_path)
    path = os.path.join(tmp_path, "finetuning_data", "chunk", "dev.txt")
    with open(path, "w") as f:
        f.write("A DT B-NP\ndog NN I-NP\n\nHe PRP B-NP")
    assert [len(e.words) for e in task.get_examples("dev")] == [2, 1]


def test_tokenize_and_align_always_lower_cases(tmp_path):
    config = make_config(tmp_path, do_lower_case=False)
    words = chunking.tokenize_and_align(tokenizer_for(config), ["The", "plays", "Zq", "(1990)"])
    assert words == [
        ["[CLS]"], ["the"], ["play", "##s"], ["[UNK]"], ["(", "1990", ")"], ["[SEP]"]
    ]


def test_features_and_truncation_heuristic(tmp_path):
    task = _task(tmp_path, max_seq_length=24)
    sentence = task.get_examples("train")[0]
    (features,) = task.featurize(sentence, True)
    ids = _ids("[CLS] the big cat play ##s on the mat . [SEP]")
    assert features == {
        "input_ids": ids + [0] * 13,
        "input_mask": [1] * 11 + [0] * 13,
        "segment_ids": [1] * 11 + [0] * 13,
        "task_id": 0,
        "chunk_eid": 0,
        "chunk_labels": [0, 2, 1, 6, 5, 0, 1, 3] + [0] * 16,
        "chunk_labels_mask": [1.0] * 8 + [0.0] * 16,
        "chunk_labeled_positions": [1, 2, 3, 4, 6, 7, 8, 9] + [0] * 16,
    }
    # 10 words with the specials: a word is added only while
    # 10 + len(ids) + 1 <= 16, so "on" (at 6 ids) is cut.
    task = _task(tmp_path, max_seq_length=16)
    (features,) = task.featurize(sentence, True)
    assert features["input_ids"] == _ids("[CLS] the big cat play ##s [SEP]") + [0] * 9
    assert features["chunk_labeled_positions"] == [1, 2, 3, 4] + [0] * 12
    assert features["chunk_labels_mask"] == [1.0] * 4 + [0.0] * 12
    assert features["chunk_labels"] == [0, 2, 1, 6, 5, 0, 1, 3] + [0] * 8


def test_scorer_uses_label_mapping(tmp_path):
    task = _task(tmp_path)
    scorer = task.get_scorer()
    # gold NP(0-2) VP(3) PP(4) NP(5-6); predicted NP(0-2) VP(3) NP(4-6)
    scorer.update({
        "labels": np.array([0, 2, 1, 6, 5, 0, 1, 3]),
        "predictions": np.array([0, 2, 1, 6, 0, 2, 1, 3]),
        "labels_mask": np.ones(8, np.float32),
        "loss": 4.0,
    })
    results = dict(scorer.get_results())
    assert results["precision"] == pytest.approx(200 / 3)
    assert results["recall"] == 50.0
    assert results["f1"] == pytest.approx(2 * (200 / 3) * 50 / (200 / 3 + 50))
    assert results["loss"] == 0.5
