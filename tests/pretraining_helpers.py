"""Helpers for the pre-training tests: random examples, TFRecords, and a
toy data dir in the original layout."""

import os

import numpy as np
import tensorflow as tf

from helpers import CLS, SEP, SPECIALS, VOCAB_SIZE, write_vocab

# A 2-layer, 64-wide model that learns in 200 steps on the bundled corpus.
LEARNING_HPARAMS = {
    "model_size": "small",
    "model_hparam_overrides": {
        "hidden_size": 64,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "intermediate_size": 128,
    },
    "embedding_size": 32,
    "generator_hidden_size": 0.5,
    "train_batch_size": 16,
    "eval_batch_size": 16,
    "num_train_steps": 200,
    "num_warmup_steps": 20,
    "learning_rate": 2e-3,
    "temperature": 2.0,
    "save_checkpoints_steps": 200,
    "num_eval_steps": 8,
}


def random_examples(n, length, seed=0, min_tokens=3):
    """Rows of [CLS] tokens [SEP] (sometimes two segments), zero-padded."""
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(n):
        size = int(rng.integers(min_tokens, length - 2))
        tokens = list(rng.integers(len(SPECIALS), VOCAB_SIZE, size))
        ids = [CLS] + tokens + [SEP]
        segments = [0] * len(ids)
        if size > 4 and rng.random() < 0.5:
            cut = int(rng.integers(2, size))
            ids = [CLS] + tokens[:cut] + [SEP] + tokens[cut:] + [SEP]
            segments = [0] * (cut + 2) + [1] * (size - cut + 1)
        pad = length - len(ids)
        rows.append(
            (ids + [0] * pad, [1] * len(ids) + [0] * pad, segments + [0] * pad)
        )
    return rows


def write_records(path, rows):
    with tf.io.TFRecordWriter(path) as writer:
        for ids, mask, segments in rows:
            feature = {
                name: tf.train.Feature(int64_list=tf.train.Int64List(value=v))
                for name, v in zip(
                    ("input_ids", "input_mask", "segment_ids"),
                    (ids, mask, segments),
                )
            }
            example = tf.train.Example(
                features=tf.train.Features(feature=feature)
            )
            writer.write(example.SerializeToString())


def make_data_dir(path, n_examples=256, length=16, n_files=2, seed=0):
    """`<path>/vocab.txt` and `<path>/pretrain_tfrecords/pretrain_data.tfrecord-*`."""
    os.makedirs(os.path.join(path, "pretrain_tfrecords"), exist_ok=True)
    write_vocab(os.path.join(path, "vocab.txt"))
    rows = random_examples(n_examples, length, seed)
    for i in range(n_files):
        name = f"pretrain_data.tfrecord-{i}-of-{n_files}"
        write_records(
            os.path.join(path, "pretrain_tfrecords", name), rows[i::n_files]
        )
    return str(path)
