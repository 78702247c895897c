"""Bad-input suite of the data side: the builder CLIs on broken inputs (one
clear stderr line, exit 2, no file of the user's changed), corrupt shards
and ids of another vocab in the pre-training pipeline, warnings with counts,
and build workers that end with their parent."""

import glob
import os
import signal
import subprocess
import sys
import time

import pytest

from bad_input import ROOT, assert_clear_failure, snapshot
from data_helpers import VOCAB_SIZE, words
from electra_tf import vocab_builder
from electra_tf.errors import ConfigError, DataError
from electra_tf.pretraining import build_dataset, data, default_data
from electra_tf.pretraining.example_builder import looks_binary
from helpers import write_vocab
from pretraining_helpers import random_examples, write_records

BUILD = os.path.join(ROOT, "build_pretraining_dataset.py")
L = 16


@pytest.fixture()
def corpus(tmp_path):
    path = tmp_path / "corpus"
    path.mkdir()
    (path / "a.txt").write_text(words(1, 2, 3) + "\n\n" + words(4, 5) + "\n")
    (path / "b.txt").write_text(words(6, 7, 8, 9) + "\n")
    return path


@pytest.fixture()
def vocab(tmp_path):
    return write_vocab(tmp_path / "vocab.txt", VOCAB_SIZE)


def build_args(corpus, vocab, out, *extra):
    return [BUILD, "--corpus-dir", str(corpus), "--vocab-file", vocab,
            "--output-dir", str(out), "--num-out-files", "2", "--quiet",
            *extra]


# issue 8 item 2: --overwrite must never delete the corpus


@pytest.mark.parametrize("where", ["same", "parent", "inside"])
def test_output_dir_overlapping_the_corpus_is_refused(tmp_path, corpus,
                                                      vocab, where):
    out = {"same": corpus, "parent": tmp_path,
           "inside": corpus / "records"}[where]
    assert_clear_failure(
        build_args(corpus, vocab, out, "--overwrite"),
        ["--output-dir", "corpus dir", "outside the corpus"],
        keep=[tmp_path])
    assert not (corpus / "records").exists()


def test_overwrite_deletes_only_shards(tmp_path, corpus, vocab):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    assert_clear_failure(
        build_args(corpus, vocab, out, "--overwrite"),
        ["not shards of this builder", "notes.txt"],
        keep=[tmp_path])


# issue 8 item 9: empty, binary and one-line corpora


def test_blank_corpus_fails_with_counts(tmp_path, vocab):
    corpus = tmp_path / "blank"
    corpus.mkdir()
    (corpus / "a.txt").write_text("\n  \n\n")
    out = tmp_path / "out"
    assert_clear_failure(
        build_args(corpus, vocab, out),
        ["no example was written", "3 lines", "5 bytes"],
        keep=[tmp_path])
    assert not out.exists()


def test_binary_only_corpus_fails_and_says_binary(tmp_path, vocab):
    corpus = tmp_path / "bin"
    corpus.mkdir()
    (corpus / "model.bin").write_bytes(bytes(range(256)) * 64)
    assert_clear_failure(
        build_args(corpus, vocab, tmp_path / "out"),
        ["no example was written", "1 skipped as binary"],
        keep=[tmp_path])


def options(corpus, vocab, out, **kw):
    return build_dataset.BuildOptions(
        input_files=build_dataset.corpus_files(str(corpus)),
        vocab_file=vocab, output_dir=str(out), max_seq_length=L,
        num_out_files=1, seed=0, **kw)


def test_binary_file_is_skipped_with_a_warning(tmp_path, corpus, vocab,
                                               capsys):
    # Mostly valid UTF-8 text with a NUL byte: tokenized today.
    (corpus / "c.bin").write_bytes((words(10, 11) + "\n").encode() * 50
                                   + b"\0")
    summary = build_dataset.build(options(corpus, vocab, tmp_path / "o"))
    err = capsys.readouterr().err
    assert "skipped 1 input file(s) that look binary" in err
    assert summary["binary_files_skipped"] == 1
    assert summary["tokens"] == 9 and summary["lines"] == 4


def test_latin1_text_is_not_binary(tmp_path):
    path = tmp_path / "latin1.txt"
    path.write_bytes("caf\u00e9 na\u00efve r\u00e9sum\u00e9\n".encode(
        "latin-1") * 100)
    assert not looks_binary(str(path))


def test_line_longer_than_an_example_warns(tmp_path, vocab, capsys):
    corpus = tmp_path / "long"
    corpus.mkdir()
    (corpus / "a.txt").write_text(" ".join([words(*range(100))] * 3) + "\n")
    summary = build_dataset.build(options(corpus, vocab, tmp_path / "o"))
    err = capsys.readouterr().err
    assert summary["long_lines"] == 1 and summary["examples"] == 1
    assert "1 of 1 lines have more than 14 tokens" in err
    assert "300 tokens read, 16 written" in err


# build_vocab.py: a size the corpus cannot meet


def test_vocab_size_below_the_characters_is_refused(tmp_path, corpus):
    target = tmp_path / "v.txt"
    assert_clear_failure(
        [os.path.join(ROOT, "build_vocab.py"), "--corpus-dir", str(corpus),
         "--vocab-file", str(target), "--vocab-size", "3"],
        ["--vocab-size 3 is too small", "every character", "or more"],
        keep=[tmp_path])
    assert not target.exists()


def test_vocab_size_the_corpus_cannot_fill_warns(tmp_path, capsys):
    files = default_data.bundled_corpus_files()[:1]
    n = vocab_builder.build_vocab(files, str(tmp_path / "v.txt"),
                                  vocab_size=30522)
    err = capsys.readouterr().err
    assert n < 2000
    assert f"the vocab has {n:,} tokens, fewer than --vocab-size 30,522" in err
    assert "distinct words" in err
    with pytest.raises(ConfigError, match="too small"):
        vocab_builder.build_vocab(files, str(tmp_path / "w.txt"),
                                  vocab_size=20)


# issue 8 item 5 and 12: corrupt shards, ids beyond the vocab


def shard_bytes(tmp_path, n=20, seed=0):
    path = str(tmp_path / "good.tfrecord")
    write_records(path, random_examples(n, L, seed=seed))
    with open(path, "rb") as f:
        return f.read()


CORRUPTIONS = {
    # name: (bytes of the good shard -> bad bytes, expected offset text)
    "truncated_mid_record": (lambda b: b[: len(b) // 2 + 7], "at byte"),
    "truncated_in_header": (lambda b: b[:5], "at byte 0 of 5"),
    "garbage": (lambda b: b"not a tfrecord " * 20, "at byte 0 of 300"),
    "crc_flip": (lambda b: b[:40] + bytes([b[40] ^ 1]) + b[41:], "at byte 12 of"),
    "trailing_bytes": (lambda b: b + b"xyz", "at byte"),
}


@pytest.mark.parametrize("kind", sorted(CORRUPTIONS))
def test_corrupt_shard_is_named_with_its_offset(tmp_path, kind):
    good = shard_bytes(tmp_path)
    corrupt, where = CORRUPTIONS[kind]
    folder = tmp_path / "data"
    folder.mkdir()
    write_records(str(folder / "pretrain_data.tfrecord-0-of-2"),
                  random_examples(20, L, seed=1))
    bad = folder / "pretrain_data.tfrecord-1-of-2"
    bad.write_bytes(corrupt(good))
    with pytest.raises(DataError) as e:
        data.make_dataset(str(folder / "pretrain_data*"), 4, L)
    message = str(e.value)
    assert message.startswith(f"{bad}: ")
    assert where in message and "rebuild" in message


def test_ids_beyond_the_vocab_name_the_shard(tmp_path):
    path = str(tmp_path / "pretrain_data.tfrecord-0-of-1")
    write_records(path, random_examples(20, L))  # ids below 99
    top = max(max(r[0]) for r in random_examples(20, L))
    assert data.make_dataset(path, 4, L, vocab_size=top + 1) is not None
    with pytest.raises(DataError, match=(
            f"{path}: holds input id {top} but the vocab has {top} ids")):
        data.make_dataset(path, 4, L, vocab_size=top)


def test_valid_shards_are_checked_once_and_train(tmp_path):
    path = str(tmp_path / "pretrain_data.tfrecord-0-of-1")
    write_records(path, random_examples(20, L))
    batch = next(iter(data.make_dataset(path, 4, L, vocab_size=99)))
    assert batch["input_ids"].shape == (4, L)
    assert data.check_records(path, L) == max(
        max(r[0]) for r in random_examples(20, L))


# issue 8 item 13: workers end with their parent


def children(pid):
    with open(f"/proc/{pid}/task/{pid}/children") as f:
        return [int(p) for p in f.read().split()]


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_workers_end_with_a_killed_parent(tmp_path, sig):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for copy in range(20):
        for path in default_data.bundled_corpus_files():
            os.symlink(path, corpus / f"{copy}_{os.path.basename(path)}")
    vocab = os.path.join(ROOT, "electra_tf", "resources", "vocab.txt")
    parent = subprocess.Popen(
        [sys.executable, *build_args(corpus, vocab, tmp_path / "out",
                                     "--num-processes", "2")],
        env=dict(os.environ, PYTHONPATH=ROOT, TF_CPP_MIN_LOG_LEVEL="2"),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    out = tmp_path / "out"
    deadline = time.monotonic() + 300
    writing = []  # each worker opens its hidden shards once it runs
    while len(writing) < 2 and time.monotonic() < deadline:
        time.sleep(0.5)
        writing = glob.glob(str(out / ".pretrain_data*.incomplete"))
    workers = children(parent.pid)
    assert len(writing) == 2 and len(workers) >= 2, "the workers did not run"
    parent.send_signal(sig)
    parent.wait(timeout=30)
    deadline = time.monotonic() + 10
    while any(map(alive, workers)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(map(alive, workers)), "workers outlived their parent"
    # no shard of the killed build looks finished
    assert not [p for p in snapshot(str(out))
                if os.path.basename(p).startswith("pretrain_data")]
