"""Helpers for the pre-training tests: a toy vocab and corpus in the
original data-dir layout, tiny configs, and subprocess runs."""

import os
import subprocess
import sys

import numpy as np
import tensorflow as tf

from electra_tf.config import PretrainingConfig

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
CLS, SEP, MASK = 2, 3, 4
VOCAB_SIZE = 99

# A tiny model: discriminator 32 wide, generator 16, two layers each.
TINY = {
    "vocab_size": VOCAB_SIZE,
    "model_hparam_overrides": {
        "hidden_size": 32,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "intermediate_size": 48,
        "max_position_embeddings": 32,
    },
    "embedding_size": 16,
    "generator_hidden_size": 0.5,
    "max_seq_length": 16,
    "train_batch_size": 8,
    "eval_batch_size": 8,
    "num_warmup_steps": 2,
    "learning_rate": 1e-3,
}


def write_vocab(path, size=VOCAB_SIZE):
    words = SPECIALS + [f"w{i}" for i in range(size - len(SPECIALS))]
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(words) + "\n")
    return path


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


def tiny_config(data_dir, model_name="tiny", **hparams):
    return PretrainingConfig.from_hparams(
        model_name, str(data_dir), dict(TINY, **hparams)
    )


def start_python(code, env=None):
    """Starts `code` in a fresh Python (for device setup before TF starts)
    with this tree on its path; stdout and stderr are piped, as text."""
    full_env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=ROOT)
    full_env.update(env or {})
    return subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=full_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def run_python(code, env=None, timeout=300, check=True):
    """Runs `code` as `start_python` and waits for it."""
    proc = start_python(code, env)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise
    result = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
    if check and result.returncode != 0:
        raise AssertionError(
            f"subprocess failed ({result.returncode}):\n{result.stdout}\n"
            f"{result.stderr[-4000:]}"
        )
    return result
