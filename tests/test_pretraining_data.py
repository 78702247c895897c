"""Pre-training input pipeline tests: parsing, determinism, checkpointed
resume, per-worker sharding, clear errors, and a CLI round trip."""

import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from data_helpers import VOCAB_SIZE, ids, words
from electra_tf.pretraining import data
from electra_tf.pretraining.records import create_int_feature
from helpers import CLS, SEP, write_vocab

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
L = 6


def serialize(values, length=L, drop=None):
    features = {
        "input_ids": create_int_feature(values[:length]),
        "input_mask": create_int_feature([1] * length),
        "segment_ids": create_int_feature([0] * (length - 1) + [1]),
    }
    if drop:
        del features[drop]
    return tf.train.Example(
        features=tf.train.Features(feature=features)).SerializeToString()


def write_files(tmp_path, n_files, per_file, **kw):
    """File f holds records whose input_ids are all 1000 * f + r."""
    paths = []
    for f in range(n_files):
        path = str(tmp_path / f"pretrain_data.tfrecord-{f}-of-{n_files}")
        with tf.io.TFRecordWriter(path) as w:
            for r in range(per_file):
                w.write(serialize([1000 * f + r] * L, **kw))
        paths.append(path)
    return paths


def take(ds, n):
    return [
        {k: v.numpy() for k, v in batch.items()} for batch in ds.take(n)
    ]


def test_parse_example_values_and_dtypes():
    record = serialize([7, 8, 9, 10, 11, 12])
    one = data.parse_example(tf.constant(record), L)
    assert one["input_ids"].dtype == tf.int32
    assert one["input_ids"].numpy().tolist() == [7, 8, 9, 10, 11, 12]
    assert one["segment_ids"].numpy().tolist() == [0, 0, 0, 0, 0, 1]
    batch = data.parse_example(tf.constant([record, record]), L)
    assert batch["input_mask"].numpy().tolist() == [[1] * L] * 2


def test_batches_come_from_the_files_and_repeat_deterministically(tmp_path):
    write_files(tmp_path, 3, 10)
    pattern = str(tmp_path / "pretrain_data.tfrecord*")
    batches = take(data.make_dataset(pattern, 4, L, seed=1), 30)
    first = batches[0]
    assert set(first) == {"input_ids", "input_mask", "segment_ids"}
    assert first["input_ids"].shape == (4, L)
    assert first["input_ids"].dtype == np.int32
    rows = [int(r[0]) for b in batches for r in b["input_ids"]]
    # 120 rows = 4 epochs of 30 records; every record is seen
    assert set(rows) == {1000 * f + r for f in range(3) for r in range(10)}
    again = take(data.make_dataset(pattern, 4, L, seed=1), 30)
    assert all((a["input_ids"] == b["input_ids"]).all()
               for a, b in zip(batches, again))
    other = take(data.make_dataset(pattern, 4, L, seed=2), 30)
    assert any((a["input_ids"] != b["input_ids"]).any()
               for a, b in zip(batches, other))


def test_comma_separated_globs(tmp_path):
    paths = write_files(tmp_path, 3, 2)
    files = data.expand_file_patterns(f"{paths[2]}, {tmp_path}/*-0-of-3")
    assert files == [paths[2], paths[0]]
    (tmp_path / ".pretrain_data.tfrecord-9-of-9.incomplete").write_bytes(b"")
    with pytest.raises(ValueError, match="No pre-training files match"):
        data.expand_file_patterns(str(tmp_path / ".*"))


def test_checkpointed_iterator_resumes_at_the_same_position(tmp_path):
    write_files(tmp_path, 5, 7)
    pattern = str(tmp_path / "pretrain_data.tfrecord*")
    it = iter(data.make_dataset(pattern, 3, L, seed=4))
    for _ in range(5):
        next(it)
    ckpt = tf.train.Checkpoint(iterator=it)
    path = ckpt.write(str(tmp_path / "ckpt" / "it"))
    expected = [next(it)["input_ids"].numpy() for _ in range(8)]

    fresh = iter(data.make_dataset(pattern, 3, L, seed=4))
    tf.train.Checkpoint(iterator=fresh).read(path).assert_consumed()
    resumed = [next(fresh)["input_ids"].numpy() for _ in range(8)]
    assert all((a == b).all() for a, b in zip(expected, resumed))
    # not trivially equal to a restart from the beginning
    restart = iter(data.make_dataset(pattern, 3, L, seed=4))
    assert any((next(restart)["input_ids"].numpy() != e).any()
               for e in expected)


@pytest.mark.parametrize("n_files", [4, 1])
def test_input_pipelines_get_disjoint_data(tmp_path, n_files):
    write_files(tmp_path, n_files, 8)
    pattern = str(tmp_path / "pretrain_data.tfrecord*")
    seen = []
    for pipeline in range(2):
        ctx = tf.distribute.InputContext(
            num_input_pipelines=2, input_pipeline_id=pipeline,
            num_replicas_in_sync=2)
        batches = take(data.make_dataset(pattern, 8, L, seed=0,
                                         input_context=ctx), 6)
        assert batches[0]["input_ids"].shape == (4, L)  # per-replica batch
        seen.append({int(r[0]) for b in batches for r in b["input_ids"]})
    assert seen[0] and seen[1] and not seen[0] & seen[1]
    if n_files == 4:  # whole files per pipeline
        files = [{v // 1000 for v in s} for s in seen]
        assert files == [{0, 2}, {1, 3}]


def test_input_fn_uses_config_fields(tmp_path):
    write_files(tmp_path, 2, 4)

    class Config:
        pretrain_tfrecords = str(tmp_path / "pretrain_data.tfrecord*")
        train_batch_size, eval_batch_size = 4, 2
        max_seq_length, seed, vocab_size = L, 0, 2000

    train = take(data.input_fn(Config, True), 1)[0]
    evaluation = take(data.input_fn(Config, False), 1)[0]
    assert train["input_ids"].shape == (4, L)
    assert evaluation["input_ids"].shape == (2, L)


def test_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="No pre-training files match"):
        data.make_dataset(str(tmp_path / "nothing*"), 2, L)
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "pretrain_data.tfrecord-0-of-1").write_bytes(b"")
    with pytest.raises(ValueError, match="hold no records"):
        data.make_dataset(str(empty / "*"), 2, L)
    short = tmp_path / "short"
    short.mkdir()
    write_files(short, 1, 2)
    with pytest.raises(
            ValueError,
            match=r"'input_ids' has 6 values but max_seq_length is 128; "
            r"rebuild with --max-seq-length 128 or set max_seq_length to 6"):
        data.make_dataset(str(short / "*"), 2, 128)
    lacking = tmp_path / "lacking"
    lacking.mkdir()
    write_files(lacking, 1, 2, drop="segment_ids")
    with pytest.raises(ValueError, match=r"lack the feature 'segment_ids'"):
        data.make_dataset(str(lacking / "*"), 2, L)


def test_cli_round_trip(tmp_path):
    """corpus -> build_pretraining_dataset.py (subprocess) -> data.py.

    Every document has at most 3 tokens, so each becomes exactly
    [CLS] doc [SEP] whatever the random draws."""
    vocab = write_vocab(tmp_path / "vocab.txt", VOCAB_SIZE)
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    docs = [[k, k + 1, k + 2][: 1 + k % 3] for k in range(0, 60, 4)]
    for f in range(3):
        text = "\n\n".join(words(*d) for d in docs[f::3])
        (corpus / f"part{f}.txt").write_text(text + "\n", encoding="utf-8")
    out = tmp_path / "out"
    result = subprocess.run(
        [sys.executable, os.path.join(ROOT, "build_pretraining_dataset.py"),
         "--corpus-dir", str(corpus), "--vocab-file", vocab,
         "--output-dir", str(out), "--max-seq-length", "8",
         "--num-out-files", "2", "--seed", "0"],
        capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "Wrote 15 examples" in result.stderr
    assert sorted(os.listdir(out)) == [
        "pretrain_data.tfrecord-0-of-2", "pretrain_data.tfrecord-1-of-2"]

    # Ten passes over the 15 examples: the shuffle buffer (100) spans
    # passes, so fewer draws need not show every example.
    batches = take(data.make_dataset(
        str(out / "pretrain_data.tfrecord*"), 5, 8, seed=0), 30)
    rows = set()
    for b in batches:
        for input_ids, mask, seg in zip(
                b["input_ids"], b["input_mask"], b["segment_ids"]):
            n = int(mask.sum())
            assert mask.tolist() == [1] * n + [0] * (8 - n)
            assert seg.tolist() == [0] * 8
            rows.add(tuple(input_ids.tolist()))
    expected = {
        tuple([CLS] + ids(*d) + [SEP] + [0] * (6 - len(d))) for d in docs}
    assert rows == expected


def test_empty_shards_are_skipped(tmp_path):
    """Shards left empty by a small corpus must not stall a pipeline."""
    write_files(tmp_path, 2, 4)
    for k in (2, 3):
        (tmp_path / f"pretrain_data.tfrecord-{k}-of-4").write_bytes(b"")
    pattern = str(tmp_path / "pretrain_data.tfrecord*")
    for pipeline in range(2):
        ctx = tf.distribute.InputContext(2, pipeline, 2)
        batch = take(data.make_dataset(pattern, 4, L, input_context=ctx), 1)
        assert {int(v) // 1000 for v in batch[0]["input_ids"][:, 0]} == {
            pipeline}


def test_ensure_default_data_builds_offline_once(tmp_path, monkeypatch):
    from electra_tf import tokenization
    from electra_tf.pretraining import build_dataset, default_data

    monkeypatch.setenv("ELECTRA_TF_CACHE", str(tmp_path / "cache"))
    data_dir = default_data.ensure_default_data(max_files=2,
                                                show_progress=False)
    assert data_dir == str(tmp_path / "cache" / "default_data")
    with open(os.path.join(data_dir, "vocab.txt"), "rb") as f:
        assert f.read() == open(tokenization.default_vocab_file(), "rb").read()
    records = os.path.join(data_dir, "pretrain_tfrecords")
    assert sorted(n for n in os.listdir(records) if n.startswith("pre")) == [
        f"pretrain_data.tfrecord-{i}-of-8" for i in range(8)]
    assert [n for n in os.listdir(data_dir) if n.startswith(".")] == []

    # every example starts with [CLS] and 3 consecutive corpus tokens
    tok = tokenization.FullTokenizer(tokenization.default_vocab_file())
    stream = []
    for path in default_data.bundled_corpus_files()[:2]:
        with open(path, encoding="utf-8") as f:
            stream += tok.tokenize_to_ids(f.read())
    trigrams = {tuple(stream[i:i + 3]) for i in range(len(stream) - 2)}
    batches = take(data.make_dataset(
        os.path.join(records, "pretrain_data.tfrecord*"), 16, 128), 2)
    for row in np.concatenate([b["input_ids"] for b in batches]):
        assert row[0] == 101 and tuple(row[1:4]) in trigrams

    def no_rebuild(*args, **kwargs):
        raise AssertionError("rebuilt a complete default data dir")

    monkeypatch.setattr(build_dataset, "build", no_rebuild)
    assert default_data.ensure_default_data(max_files=2) == data_dir
    # a build that died before its marker is not taken as complete
    os.remove(os.path.join(records, default_data.INFO_FILE))
    with pytest.raises(AssertionError, match="rebuilt"):
        default_data.ensure_default_data(max_files=2)
    assert [n for n in os.listdir(data_dir) if n.startswith(".")] == []
