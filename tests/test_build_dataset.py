"""Example builder and build_pretraining_dataset tests: exact examples from a
toy vocab with scripted randomness, shards, seeds, processes, bad input."""

import doctest
import glob
import importlib.util
import os
import random

import pytest

from data_helpers import (
    VOCAB_SIZE,
    ScriptedRng,
    example_lists,
    ids,
    read_records,
    unpad,
    words,
)
from electra_tf import tokenization
from electra_tf.pretraining import build_dataset, records, shards
from electra_tf.pretraining.build_dataset import BuildOptions
from electra_tf.pretraining.example_builder import ExampleBuilder
from helpers import CLS, SEP, write_vocab

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture()
def vocab_file(tmp_path):
    return write_vocab(tmp_path / "vocab.txt", VOCAB_SIZE)


def make_builder(vocab_file, max_length, rng):
    return ExampleBuilder(
        tokenization.FullTokenizer(vocab_file), max_length, rng
    )


def feed(builder, lines):
    """Examples (unpadded ids, segment ids) produced by a list of lines."""
    out = []
    for line in lines:
        example = builder.add_line(line)
        if example is not None:
            out.append(unpad(example_lists(example)))
    return out


def test_two_segments_overflow_goes_to_second_and_is_truncated(vocab_file):
    # 0.5: no single segment -> first target (16 - 3) // 2 = 6; 0.9: the
    # coin flip for line 2 fails; 0.5: next target is max_length.
    rng = ScriptedRng(randoms=[0.5, 0.9, 0.5])
    b = make_builder(vocab_file, 16, rng)
    got = feed(b, [words(0, 1, 2, 3), words(4, 5, 6), words(*range(7, 16))])
    first, second = ids(0, 1, 2, 3), ids(4, 5, 6, 7, 8, 9, 10, 11, 12)
    assert got == [(
        [CLS] + first + [SEP] + second + [SEP],
        [0] * 6 + [1] * 10,
    )]
    assert rng.randoms == []


def test_coin_flip_puts_overflowing_sentence_in_first(vocab_file):
    rng = ScriptedRng(randoms=[0.5, 0.3, 0.5])
    b = make_builder(vocab_file, 16, rng)
    got = feed(b, [words(0, 1, 2, 3), words(4, 5, 6), words(*range(7, 16))])
    # second segment cut to 16 - 7 - 3 = 6 tokens
    assert got == [(
        [CLS] + ids(*range(7)) + [SEP] + ids(*range(7, 13)) + [SEP],
        [0] * 9 + [1] * 7,
    )]


def test_later_short_sentence_can_rejoin_first_segment(vocab_file):
    # first target 6: [0,1,2] -> first; [3..6] overflows, coin fails ->
    # second; [7,8] fits (3 + 2 < 6) -> first again (the original's quirk).
    rng = ScriptedRng(randoms=[0.5, 0.9, 0.5])
    b = make_builder(vocab_file, 16, rng)
    got = feed(b, [words(0, 1, 2), words(3, 4, 5, 6), words(7, 8),
                   words(*range(9, 18))])
    assert got == [(
        # second segment cut to 16 - 5 - 3 = 8 tokens
        [CLS] + ids(0, 1, 2, 7, 8) + [SEP] + ids(3, 4, 5, 6, 9, 10, 11, 12)
        + [SEP],
        [0] * 7 + [1] * 9,
    )]


def test_single_segment_case(vocab_file):
    rng = ScriptedRng(randoms=[0.05, 0.5])  # < 0.1: one segment
    b = make_builder(vocab_file, 16, rng)
    got = feed(b, [words(0, 1, 2, 3), words(4, 5, 6), words(*range(7, 16))])
    assert got == [([CLS] + ids(*range(14)) + [SEP], [0] * 16)]


def test_short_random_target_case(vocab_file):
    # after the first example: 0.01 < 0.05 -> target randint(5, 16) = 7
    rng = ScriptedRng(randoms=[0.5, 0.9, 0.01, 0.5, 0.5], randints=[7])
    b = make_builder(vocab_file, 16, rng)
    got = feed(b, [words(0, 1, 2, 3), words(4, 5, 6), words(*range(7, 16)),
                   words(20, 21, 22), words(23, 24, 25, 26)])
    assert len(got) == 2
    # target 7: first target (7 - 3) // 2 = 2; [20,21,22] is first (first
    # segment empty), [23..26] cannot fit and first is not < 2 -> second
    assert got[1] == (
        [CLS] + ids(20, 21, 22) + [SEP] + ids(23, 24, 25, 26) + [SEP],
        [0] * 5 + [1] * 5,
    )
    assert rng.randoms == [] and rng.randints == []


def test_blank_line_ends_document_and_pads(vocab_file):
    rng = ScriptedRng(randoms=[0.5, 0.5, 0.5, 0.5])
    b = make_builder(vocab_file, 16, rng)
    # blank line without pending tokens produces nothing
    got = feed(b, ["", words(0, 1), words(2), "", "   ", words(3, 4, 5), ""])
    assert got == [
        ([CLS] + ids(0, 1, 2) + [SEP], [0] * 5),
        ([CLS] + ids(3, 4, 5) + [SEP], [0] * 5),
    ]
    example = example_lists(
        make_builder(vocab_file, 16, ScriptedRng([0.5, 0.5])).add_line(
            words(*range(20)))
    )
    assert [len(x) for x in example] == [16, 16, 16]
    # the line that crosses the target is cut: 14 of its 20 tokens kept
    assert example[0] == [CLS] + ids(*range(14)) + [SEP]


def test_seeded_builder_matches_hand_computation(vocab_file):
    """The draws of random.Random(3) decide the segments exactly as the
    original's algorithm says."""
    rng = random.Random(3)
    draws = random.Random(3)
    b = make_builder(vocab_file, 12, rng)
    got = feed(b, [words(0, 1, 2), words(3, 4, 5), words(6, 7, 8, 9), ""])
    assert draws.random() >= 0.1  # two segments, first target 4
    # [3,4,5] does not fit (3 + 3 >= 4); 3 < 4 so a coin flip decides
    coin = draws.random() < 0.5
    first = ids(0, 1, 2, 3, 4, 5) if coin else ids(0, 1, 2)
    second = ids(6, 7, 8, 9) if coin else ids(3, 4, 5, 6, 7, 8, 9)
    second = second[: 12 - len(first) - 3]
    assert got == [(
        [CLS] + first + [SEP] + second + [SEP],
        [0] * (len(first) + 2) + [1] * (len(second) + 1),
    )]


def write_corpus(root, files):
    corpus = root / "corpus"
    corpus.mkdir()
    for name, text in files.items():
        data = text if isinstance(text, bytes) else text.encode("utf-8")
        (corpus / name).write_bytes(data)
    return str(corpus)


def options(corpus, vocab_file, out, **kw):
    kw.setdefault("max_seq_length", 8)
    kw.setdefault("num_out_files", 3)
    kw.setdefault("seed", 0)
    return BuildOptions(
        input_files=build_dataset.corpus_files(corpus),
        vocab_file=vocab_file, output_dir=str(out), **kw)


CORPUS = {
    "a.txt": "\n".join(words(k, k + 1, k + 2) for k in range(0, 60, 3)),
    "b.txt": words(70, 71) + "\n\n" + words(72) + "\n",
    "c.txt": "\n".join(words(k, k + 1) for k in range(80, 100, 2)),
}


def test_build_shards_round_robin_and_summary(tmp_path, vocab_file):
    corpus = write_corpus(tmp_path, CORPUS)
    summary = build_dataset.build(
        options(corpus, vocab_file, tmp_path / "out"), show_progress=False)
    records = read_records(str(tmp_path / "out" / "pretrain_data.tfrecord*"))
    assert sorted(records) == [
        f"pretrain_data.tfrecord-{i}-of-3" for i in range(3)]
    sizes = [len(records[f"pretrain_data.tfrecord-{i}-of-3"])
             for i in range(3)]
    n = summary["examples"]
    assert sizes == [len(range(i, n, 3)) for i in range(3)]
    all_examples = [x for r in records.values() for x in r]
    assert summary["example_tokens"] == sum(sum(x[1]) for x in all_examples)
    assert summary["padding_fraction"] == pytest.approx(
        1 - summary["example_tokens"] / (8 * n))
    assert summary["tokens"] == 60 + 3 + 20
    assert summary["documents"] == 4 and summary["inputs"] == 3
    # documents never share an example: b.txt's two documents are separate
    texts = [unpad(x)[0] for x in all_examples]
    assert [CLS] + ids(70, 71) + [SEP] in texts
    assert [CLS] + ids(72) + [SEP] in texts
    assert not glob.glob(str(tmp_path / "out" / ".*"))


def test_seed_makes_builds_repeat(tmp_path, vocab_file):
    corpus = write_corpus(tmp_path, CORPUS)

    def build(name, seed):
        build_dataset.build(options(corpus, vocab_file, tmp_path / name,
                                    seed=seed), show_progress=False)
        return read_records(str(tmp_path / name / "pretrain_data*"))

    assert build("x", 5) == build("y", 5)
    assert build("x2", 5) != build("z", 6)


def test_no_blanks_separate_docs(tmp_path, vocab_file):
    corpus = write_corpus(tmp_path, {"b.txt": CORPUS["b.txt"]})
    summary = build_dataset.build(
        options(corpus, vocab_file, tmp_path / "out", max_seq_length=16,
                blanks_separate_docs=False), show_progress=False)
    records = read_records(str(tmp_path / "out" / "pretrain_data*"))
    examples = [unpad(x)[0] for r in records.values() for x in r]
    assert summary["documents"] == 1
    assert len(examples) == 1 and examples[0][1:4] == ids(70, 71, 72)


def test_invalid_utf8_warns_and_drops_bytes(tmp_path, vocab_file, capsys):
    corpus = write_corpus(tmp_path, {
        "bad.txt": b"w1 w\xff2\r\nw3\n\xc3w4\n"})
    summary = build_dataset.build(
        options(corpus, vocab_file, tmp_path / "out", max_seq_length=16,
                num_out_files=1), show_progress=False)
    err = capsys.readouterr().err
    assert "bad.txt: 2 line(s) are not valid UTF-8" in err
    assert summary["lines_with_bad_utf8"] == 2
    (example,) = read_records(str(tmp_path / "out" / "pretrain*")).popitem()[1]
    assert unpad(example)[0] == [CLS] + ids(1, 2, 3, 4) + [SEP]


def test_shards_have_hidden_names_until_finalized(tmp_path, vocab_file):
    corpus = write_corpus(tmp_path, CORPUS)
    o = options(corpus, vocab_file, tmp_path / "out")
    os.makedirs(o.output_dir)
    build_dataset.write_examples(0, o)  # a job that was never finalized
    final = os.path.join(o.output_dir, "pretrain_data.tfrecord*")
    assert glob.glob(final) == []
    assert len(glob.glob(os.path.join(o.output_dir, ".*.incomplete"))) == 3
    shards.finalize(o.output_dir, 3)
    assert len(glob.glob(os.path.join(o.output_dir, "pretrain_data*"))) == 3


def test_bad_inputs_have_clear_errors(tmp_path, vocab_file):
    corpus = write_corpus(tmp_path, CORPUS)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        build_dataset.corpus_files(str(tmp_path / "missing"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="has no files"):
        build_dataset.corpus_files(str(tmp_path / "empty"))
    out = tmp_path / "out"
    with pytest.raises(FileNotFoundError, match="--vocab-file"):
        build_dataset.build(options(corpus, str(tmp_path / "nope.txt"), out))
    bad_vocab = tmp_path / "bad_vocab.txt"
    bad_vocab.write_text("[UNK]\nt1\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"special tokens.*\[PAD\]"):
        build_dataset.build(options(corpus, str(bad_vocab), out))
    with pytest.raises(ValueError, match="at least 5"):
        build_dataset.build(options(corpus, vocab_file, out, max_seq_length=4))
    with pytest.raises(ValueError, match="--num-out-files"):
        build_dataset.build(options(corpus, vocab_file, out, num_out_files=1,
                                    num_processes=2))
    build_dataset.build(options(corpus, vocab_file, out), show_progress=False)
    with pytest.raises(FileExistsError, match="3 shard.*--overwrite"):
        build_dataset.build(options(corpus, vocab_file, out))
    (out / "keep.txt").write_text("x")
    for overwrite in (False, True):
        with pytest.raises(FileExistsError, match=r"not shards.*keep\.txt"):
            build_dataset.build(options(corpus, vocab_file, out),
                                overwrite=overwrite)
    assert (out / "keep.txt").read_text() == "x"
    os.remove(out / "keep.txt")
    build_dataset.build(options(corpus, vocab_file, out, num_out_files=2),
                        overwrite=True, show_progress=False)
    assert sorted(os.listdir(out)) == [
        f"pretrain_data.tfrecord-{i}-of-2" for i in range(2)]


def load_cli():
    spec = importlib.util.spec_from_file_location(
        "build_pretraining_dataset",
        os.path.join(ROOT, "build_pretraining_dataset.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_cli_flags(tmp_path, vocab_file, monkeypatch):
    cli = load_cli()
    corpus = write_corpus(tmp_path, CORPUS)
    seen = {}
    monkeypatch.setattr(build_dataset, "build",
                        lambda o, overwrite, show_progress: seen.update(
                            o=o, overwrite=overwrite))
    base = ["--corpus-dir", corpus, "--vocab-file", vocab_file,
            "--output-dir", str(tmp_path / "o")]
    cli.main(base)
    o = seen["o"]
    assert (o.max_seq_length, o.num_processes, o.blanks_separate_docs,
            o.do_lower_case, o.strip_accents, o.num_out_files, o.seed) == (
        128, 1, True, True, True, 1000, None)
    assert [os.path.basename(f) for f in o.input_files] == [
        "a.txt", "b.txt", "c.txt"]
    cli.main(base + ["--blanks-separate-docs", "False", "--no-lower-case",
                     "--no-strip-accents", "--max-seq-length", "64",
                     "--num-processes", "2", "--num-out-files", "8",
                     "--seed", "3", "--overwrite"])
    o = seen["o"]
    assert (o.max_seq_length, o.num_processes, o.blanks_separate_docs,
            o.do_lower_case, o.strip_accents, o.num_out_files, o.seed) == (
        64, 2, False, False, False, 8, 3)
    assert seen["overwrite"]
    cli.main(base + ["--no-blanks-separate-docs"])
    assert seen["o"].blanks_separate_docs is False
    cli.main(base + ["--blanks-separate-docs"])
    assert seen["o"].blanks_separate_docs is True
    with pytest.raises(SystemExit):
        cli.main(base + ["--blanks-separate-docs", "maybe"])


@pytest.mark.slow
def test_processes_split_work_as_in_process_jobs(tmp_path, vocab_file):
    """Two spawned processes write exactly what jobs 0 and 1 write when run
    one after the other in this process."""
    corpus = write_corpus(tmp_path, CORPUS)
    o = options(corpus, vocab_file, tmp_path / "par", num_processes=2,
                num_out_files=4)
    build_dataset.build(o, show_progress=False)
    serial = options(corpus, vocab_file, tmp_path / "ser", num_processes=2,
                     num_out_files=4)
    os.makedirs(serial.output_dir)
    for job in (0, 1):
        build_dataset.write_examples(job, serial)
    shards.finalize(serial.output_dir, 4)
    par = read_records(str(tmp_path / "par" / "pretrain*"))
    ser = read_records(str(tmp_path / "ser" / "pretrain*"))
    assert par == ser and sum(map(len, par.values())) > 10


def test_build_vocab_cli_learns_a_usable_vocab(tmp_path):
    spec = importlib.util.spec_from_file_location(
        "build_vocab", os.path.join(ROOT, "build_vocab.py"))
    cli = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cli)
    from electra_tf.pretraining import default_data

    source = default_data.bundled_corpus_files()[-1]
    lines = open(source, encoding="utf-8").read().splitlines()[:150]
    corpus = write_corpus(tmp_path, {"speech.txt": "\n".join(lines)})
    vocab_file = str(tmp_path / "vocab.txt")
    cli.main(["--corpus-dir", corpus, "--vocab-file", vocab_file,
              "--vocab-size", "300"])
    vocab = open(vocab_file, encoding="utf-8").read().splitlines()
    assert vocab[:5] == ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    assert 100 < len(vocab) <= 300 and "##" not in vocab
    assert "the" in vocab and "##s" in vocab
    tok = tokenization.FullTokenizer(vocab_file)
    ids = [i for line in lines for i in tok.tokenize_to_ids(line)]
    assert len(ids) > 3000 and 1 not in ids  # no [UNK] on its own corpus
    with pytest.raises(FileExistsError, match="--overwrite"):
        cli.main(["--corpus-dir", corpus, "--vocab-file", vocab_file])


def test_openwebtext_builder(tmp_path):
    import tarfile

    spec = importlib.util.spec_from_file_location(
        "build_owt",
        os.path.join(ROOT, "build_openwebtext_pretraining_dataset.py"))
    cli = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cli)
    data_dir = tmp_path / "data"
    (data_dir / "openwebtext").mkdir(parents=True)
    write_vocab(data_dir / "vocab.txt", VOCAB_SIZE)
    docs = {}
    for a in range(3):
        src = tmp_path / f"src{a}"
        src.mkdir()
        for d in range(2):
            k = 10 * a + 3 * d
            # blank lines are skipped: the whole file is one document
            (src / f"doc{d}.txt").write_text(
                words(k) + "\n\n" + words(k + 1, k + 2) + "\n",
                encoding="utf-8")
            docs[(a, d)] = ids(k, k + 1, k + 2)
        with tarfile.open(data_dir / "openwebtext" / f"part{a}.xz",
                          "w:xz") as tar:
            tar.add(src, arcname=".")
    summary = cli.main(["--data-dir", str(data_dir), "--max-seq-length",
                        "8", "--num-out-files", "4", "--seed", "0",
                        "--quiet"])
    assert summary["inputs"] == 3 and summary["documents"] == 6
    records = read_records(str(data_dir / "pretrain_tfrecords" / "pretrain*"))
    # one example per file, its two lines in one or two segments
    examples = [unpad(x)[0] for r in records.values() for x in r]
    assert sorted([t for t in x if t not in (CLS, SEP)]
                  for x in examples) == sorted(docs.values())
    assert os.listdir(data_dir / "tmp") == []
    with pytest.raises(FileExistsError, match="--overwrite"):
        cli.main(["--data-dir", str(data_dir), "--quiet"])


def test_progress_line_and_summary(tmp_path, vocab_file, capsys):
    corpus = write_corpus(tmp_path, CORPUS)
    summary = build_dataset.build(options(corpus, vocab_file, tmp_path / "o"))
    err = capsys.readouterr().err
    n, t = summary["examples"], summary["example_tokens"]
    assert "files 3/3 | docs 4 (" in err
    assert f"examples {n} (" in err and "tokens 83 (" in err
    assert (f"Wrote {n} examples ({t} tokens, padding "
            f"{1 - t / (8 * n):.1%}) to 3 files") in err


@pytest.mark.parametrize("vocab_size,length", [(105, 128), (30522, 16)])
def test_example_encoder_gives_the_deterministic_proto_bytes(vocab_size,
                                                             length):
    """records.ExampleEncoder == SerializeToString(deterministic=True), with
    lengths both inside and beyond its varint table."""
    encode = records.ExampleEncoder(vocab_size)
    rng = random.Random(0)
    for _ in range(50):
        n = rng.randint(3, length)
        input_ids = [rng.randrange(vocab_size) for _ in range(n)]
        input_ids += [0] * (length - n)
        mask = [1] * n + [0] * (length - n)
        segments = [rng.randint(0, 1) for _ in range(length)]
        expected = records.to_tf_example(
            input_ids, mask, segments).SerializeToString(deterministic=True)
        assert encode(input_ids, mask, segments) == expected


def test_docstring_examples():
    from electra_tf.pretraining import build_cli

    for module in (records, build_cli):
        result = doctest.testmod(module)
        assert result.attempted >= 1 and result.failed == 0, module.__name__
