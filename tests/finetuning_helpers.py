"""Tiny fine-tuning data in the real file formats, and a tiny vocab."""

import json
import os

from electra_tf import config as config_lib
from electra_tf import tokenization
from helpers import SPECIALS, write_vocab

# id = position; chosen so that expected features can be read off by hand.
WORDS = (
    "the cat sat on mat dog ran a is . , ! ? "
    "not play ##s ##ing what who where paris france in 1990 denver broncos "
    "won ( ) - 1895 1943 john smith born was year he she park went to big "
    "red house"
).split()
VOCAB = [*SPECIALS, *WORDS]
ID = {token: i for i, token in enumerate(VOCAB)}


def make_config(data_dir, **hparams):
    """A FinetuningConfig over `data_dir` with the tiny vocab."""
    hparams.setdefault("vocab_file", write_vocab(data_dir, WORDS))
    return config_lib.FinetuningConfig.from_hparams("tiny", str(data_dir), hparams)


def tokenizer_for(config):
    return tokenization.FullTokenizer(config.vocab_file, config.do_lower_case)


def task_dir(data_dir, task):
    path = os.path.join(str(data_dir), "finetuning_data", task)
    os.makedirs(path, exist_ok=True)
    return path


def write_tsv(data_dir, task, split, rows):
    """Rows are lists of columns, or raw strings written as is."""
    path = os.path.join(task_dir(data_dir, task), split + ".tsv")
    with open(path, "w", encoding="utf-8") as f:
        for row in rows:
            f.write((row if isinstance(row, str) else "\t".join(row)) + "\n")
    return path


def write_squad(data_dir, task, split, paragraphs, version="2.0"):
    """`paragraphs`: list of {"context": str, "qas": [...]} in SQuAD form."""
    path = os.path.join(task_dir(data_dir, task), split + ".json")
    data = {"version": version, "data": [{"title": "t", "paragraphs": paragraphs}]}
    with open(path, "w", encoding="utf-8") as f:
        json.dump(data, f)
    return path


def write_mrqa(data_dir, task, split, paragraphs):
    path = os.path.join(task_dir(data_dir, task), split + ".jsonl")
    with open(path, "w", encoding="utf-8") as f:
        f.write(json.dumps({"header": {"dataset": task, "split": split}}) + "\n")
        for paragraph in paragraphs:
            f.write(json.dumps(paragraph) + "\n")
    return path


def write_conll(data_dir, split, sentences, docstart=True):
    """`sentences`: lists of (word, pos, chunk tag)."""
    path = os.path.join(task_dir(data_dir, "chunk"), split + ".txt")
    with open(path, "w", encoding="utf-8") as f:
        if docstart:
            f.write("-DOCSTART- -X- O\n\n")
        for sentence in sentences:
            for word in sentence:
                f.write(" ".join(word) + "\n")
            f.write("\n")
    return path
