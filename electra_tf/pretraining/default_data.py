"""Default pre-training data that needs no download (an addition of this
port; the original requires the user to build data first).

`ensure_default_data()` builds, once, a data dir in the original layout
(`<data_dir>/vocab.txt`,
`<data_dir>/pretrain_tfrecords/pretrain_data.tfrecord-*`) from the bundled
State of the Union corpus and BERT uncased vocab (electra_tf/resources) at
max_seq_length 128, and reuses it afterwards.
"""

import hashlib
import json
import os
import shutil
import sys
import tempfile

import tensorflow as tf

from electra_tf import tokenization
from electra_tf.pretraining import build_dataset

# The builder's settings, also recorded in INFO_FILE.
SETTINGS = {"max_seq_length": 128, "num_out_files": 8, "seed": 0}
INFO_FILE = "DEFAULT_DATA.json"  # written last; its presence = complete


def default_cache_dir():
    """`$ELECTRA_TF_CACHE/default_data`, else
    `~/.cache/electra_tf/default_data`."""
    root = os.environ.get("ELECTRA_TF_CACHE") or os.path.join(
        os.path.expanduser("~"), ".cache", "electra_tf"
    )
    return os.path.join(root, "default_data")


def bundled_corpus_files():
    """The bundled corpus files (one address per file), sorted."""
    corpus_dir = os.path.join(
        os.path.dirname(tokenization.default_vocab_file()), "corpus"
    )
    return sorted(
        os.path.join(corpus_dir, name)
        for name in os.listdir(corpus_dir)
        if name.endswith(".txt")
    )


def ensure_default_data(cache_dir=None, max_files=None, show_progress=True):
    """Returns a data dir holding vocab.txt and pretrain_tfrecords/.

    Args:
      cache_dir: the data dir to use (default `default_cache_dir()`).
      max_files: use only the first N corpus files (for quick tests).
      show_progress: print the builder's progress line and summary.

    Safe against concurrent callers and kills: the records are built in a
    temporary directory next to the target and renamed into place with a
    completion marker; an existing build with the same settings is reused.
    """
    data_dir = cache_dir or default_cache_dir()
    vocab_file = tokenization.default_vocab_file()
    files = bundled_corpus_files()[:max_files]
    info = {
        "corpus": [os.path.basename(f) for f in files],
        "vocab_md5": _md5(vocab_file),
        **SETTINGS,
    }
    records_dir = os.path.join(data_dir, "pretrain_tfrecords")
    if _is_complete(data_dir, info):
        return data_dir

    os.makedirs(data_dir, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".build-", dir=data_dir)
    try:
        if show_progress:
            print(
                f"Building the default pre-training data (bundled State of "
                f"the Union corpus, {len(files)} files) in {data_dir}",
                file=sys.stderr,
            )
        new_records = os.path.join(tmp, "pretrain_tfrecords")
        build_dataset.build(
            build_dataset.BuildOptions(
                input_files=files,
                vocab_file=vocab_file,
                output_dir=new_records,
                **SETTINGS,
            ),
            show_progress=show_progress,
        )
        with open(os.path.join(new_records, INFO_FILE), "w") as f:
            json.dump(info, f, indent=1)
        shutil.copyfile(vocab_file, os.path.join(tmp, "vocab.txt"))
        os.replace(
            os.path.join(tmp, "vocab.txt"), os.path.join(data_dir, "vocab.txt")
        )
        if _is_complete(data_dir, info):  # another caller finished first
            return data_dir
        if os.path.exists(records_dir):  # stale or incomplete: move aside
            os.rename(records_dir, os.path.join(tmp, "old"))
        try:
            os.rename(new_records, records_dir)
        except OSError:
            if not _is_complete(data_dir, info):
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if show_progress:
        print(f"Default pre-training data ready in {data_dir}", file=sys.stderr)
    return data_dir


def _is_complete(data_dir, info):
    path = os.path.join(data_dir, "pretrain_tfrecords", INFO_FILE)
    vocab = os.path.join(data_dir, "vocab.txt")
    if not (os.path.exists(path) and os.path.exists(vocab)):
        return False
    with open(path) as f:
        return json.load(f) == info and _md5(vocab) == info["vocab_md5"]


def _md5(path):
    with tf.io.gfile.GFile(path, "rb") as f:
        return hashlib.md5(f.read()).hexdigest()
