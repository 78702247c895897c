"""Port of build_pretraining_dataset.py: text files -> pre-training TFRecords.

ExampleBuilder and ExampleWriter keep the original's algorithm (segments,
random target lengths, `[CLS] A [SEP] B [SEP]`, padding, round-robin shards,
work split across processes). Additions: `seed` (repeatable builds),
`num_out_files`, a progress line and summary, and crash-safe output (shards
are written under hidden temporary names and renamed when every job is done).

The command line is build_pretraining_dataset.py (top level, as in the
original); `build(BuildOptions(...))` is the Python entry point.
"""

import dataclasses
import multiprocessing
import os
import random
import sys
import time
from typing import Optional, Sequence

import tensorflow as tf

from electra_tf import tokenization
from electra_tf.errors import ConfigError, DataError, MissingInputError
from electra_tf.pretraining import build_cli, records, shards
from electra_tf.pretraining.build_cli import STATS
from electra_tf.pretraining.shards import SHARD_NAME, temp_name

# A file whose first 64 KiB hold a NUL byte or more than this fraction of
# bytes that are not UTF-8 is taken as binary and skipped.
BINARY_BAD_FRACTION = 0.25


class ExampleBuilder:
    """Turns a stream of lines into pre-training examples (the original's
    ExampleBuilder).

    Args:
      tokenizer: a `tokenization.FullTokenizer`.
      max_length: tokens per example, `[CLS]`/`[SEP]` included.
      rng: source of `random()`/`randint()`; the original uses the global,
        unseeded `random` module (the default).
      encode: `encode(input_ids, input_mask, segment_ids)` -> the example;
        default a `tf.train.Example`, the writer's `records.ExampleEncoder`
        gives its serialized bytes directly.

    `add_line(line)` returns an example when one is complete, else None;
    `add_line("")` ends a document.
    """

    def __init__(self, tokenizer, max_length, rng=random,
                 encode=records.to_tf_example):
        self._tokenizer = tokenizer
        self._current_sentences = []
        self._current_length = 0
        self._max_length = max_length
        self._target_length = max_length
        self._rng = rng
        self._encode = encode
        self.n_tokens = 0  # tokens read
        self.n_example_tokens = 0  # tokens kept in examples, [CLS]/[SEP] too
        self.n_long_lines = 0  # lines with more tokens than an example

    def add_line(self, line):
        line = line.strip().replace("\n", " ")
        if not line and self._current_length != 0:  # blank line ends a doc
            return self._create_example()
        token_ids = self._tokenizer.tokenize_to_ids(line)
        self.n_tokens += len(token_ids)
        if len(token_ids) > self._max_length - 2:
            self.n_long_lines += 1
        self._current_sentences.append(token_ids)
        self._current_length += len(token_ids)
        if self._current_length >= self._target_length:
            return self._create_example()
        return None

    def _create_example(self):
        # Sometimes a single segment, as in single-sentence classification.
        if self._rng.random() < 0.1:
            first_segment_target_length = 100000
        else:
            # -3 leaves room for [CLS] A [SEP] B [SEP]
            first_segment_target_length = (self._target_length - 3) // 2

        first_segment = []
        second_segment = []
        for sentence in self._current_sentences:
            # A sentence joins the first segment if it is empty, if the
            # sentence fits, or (half the time) if it overflows while the
            # second segment is still empty; later short sentences may still
            # join the first segment (the original's behaviour).
            if (
                len(first_segment) == 0
                or len(first_segment) + len(sentence)
                < first_segment_target_length
                or (
                    len(second_segment) == 0
                    and len(first_segment) < first_segment_target_length
                    and self._rng.random() < 0.5
                )
            ):
                first_segment += sentence
            else:
                second_segment += sentence

        # the overflow of the line that crossed the target is dropped
        first_segment = first_segment[: self._max_length - 2]
        second_segment = second_segment[
            : max(0, self._max_length - len(first_segment) - 3)
        ]

        self._current_sentences = []
        self._current_length = 0
        # Sometimes a shorter target, so that the model sees short inputs.
        if self._rng.random() < 0.05:
            self._target_length = self._rng.randint(5, self._max_length)
        else:
            self._target_length = self._max_length

        return self._make_tf_example(first_segment, second_segment)

    def _make_tf_example(self, first_segment, second_segment):
        vocab = self._tokenizer.vocab
        input_ids = [vocab["[CLS]"]] + first_segment + [vocab["[SEP]"]]
        segment_ids = [0] * len(input_ids)
        if second_segment:
            input_ids += second_segment + [vocab["[SEP]"]]
            segment_ids += [1] * (len(second_segment) + 1)
        input_mask = [1] * len(input_ids)
        self.n_example_tokens += len(input_ids)
        padding = [0] * (self._max_length - len(input_ids))
        return self._encode(
            input_ids + padding, input_mask + padding, segment_ids + padding
        )


class ExampleWriter:
    """Writes one job's examples round-robin over its shards (the original's
    ExampleWriter); shard i belongs to job i % num_jobs.

    Shards are written under `temp_name(...)`; `shards.finalize` renames them
    once every job has finished, so a killed build leaves no shard that a
    reader would take as complete.
    """

    def __init__(self, job_id, vocab_file, output_dir, max_seq_length,
                 num_jobs, blanks_separate_docs, do_lower_case,
                 num_out_files=1000, strip_accents=True, rng=random,
                 on_progress=None):
        self._blanks_separate_docs = blanks_separate_docs
        self.tokenizer = tokenization.FullTokenizer(
            vocab_file=vocab_file,
            do_lower_case=do_lower_case,
            strip_accents=strip_accents,
        )
        self._example_builder = ExampleBuilder(
            self.tokenizer,
            max_seq_length,
            rng,
            records.ExampleEncoder(max(self.tokenizer.vocab.values()) + 1),
        )
        self._writers = []
        for i in range(num_out_files):
            if i % num_jobs == job_id:
                path = os.path.join(
                    output_dir, SHARD_NAME.format(i, num_out_files)
                )
                # Deviation from reference: a hidden name until the build
                # ends, so a killed build leaves no shard that looks done.
                self._writers.append(tf.io.TFRecordWriter(temp_name(path)))
        self.n_written = 0
        self.stats = dict.fromkeys(STATS, 0)
        self._on_progress = on_progress

    def write_examples(self, input_file):
        """Writes the examples of one file (a file ends any open example)."""
        stats = self.stats
        stats["bytes"] += tf.io.gfile.stat(input_file).length
        if looks_binary(input_file):
            # Deviation from reference: the original tokenizes any file;
            # skipped files are counted and reported by `build`.
            stats["binary_files"] += 1
            return
        in_doc = False
        bad_lines = 0
        # lines as the original's GFile gives them: split on "\n", "\r"
        # dropped
        for n, raw in enumerate(tokenization.read_lines(input_file)):
            if self._on_progress and n % 64 == 0:
                self._on_progress(self.stats)
            stats["lines"] += 1
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError:
                # Deviation from reference: the original's text-mode
                # GFile raises here; we drop the bad bytes (as its
                # tokenizer does for bytes) and warn.
                line = raw.decode("utf-8", "ignore")
                bad_lines += 1
            line = line.strip()
            if line or self._blanks_separate_docs:
                if line:
                    in_doc = True
                elif in_doc:
                    stats["docs"] += 1
                    in_doc = False
                self._write(self._example_builder.add_line(line))
                stats["tokens"] = self._example_builder.n_tokens
        self._write(self._example_builder.add_line(""))
        if in_doc:
            stats["docs"] += 1
        if bad_lines:
            print(
                f"WARNING: {input_file}: {bad_lines} line(s) are not valid "
                "UTF-8; their invalid bytes were dropped.",
                file=sys.stderr,
            )
        stats["bad_lines"] += bad_lines
        stats["tokens"] = self._example_builder.n_tokens
        stats["long_lines"] = self._example_builder.n_long_lines
        self.report()

    def report(self):
        """Passes the counters to `on_progress`."""
        if self._on_progress:
            self._on_progress(self.stats)

    def _write(self, example):
        if example is None:
            return
        self._writers[self.n_written % len(self._writers)].write(example)
        self.n_written += 1
        self.stats["examples"] = self.n_written
        self.stats["written"] = self._example_builder.n_example_tokens

    def finish(self):
        for writer in self._writers:
            writer.close()


def looks_binary(path, head_size=1 << 16):
    """True if the file's first `head_size` bytes hold a NUL byte or more
    than BINARY_BAD_FRACTION of bytes that are not UTF-8."""
    with tf.io.gfile.GFile(path, "rb") as f:
        head = f.read(head_size)
    if b"\0" in head:
        return True
    good = len(head.decode("utf-8", "ignore").encode("utf-8"))
    return len(head) - good > BINARY_BAD_FRACTION * len(head)


def job_writer(job_id, options, shared_stats=None, progress=None):
    """The ExampleWriter, random source and inputs of job `job_id`.

    Job j reads inputs with index % num_processes == j and writes shards
    with index % num_processes == j (as the original). With a seed, the job's
    random.Random(seed + j) drives the input order and the example builder,
    so a build repeats exactly; without, the global `random` (original).
    """
    o = options
    # Deviation from reference (opt-in): --seed makes builds repeatable.
    rng = random.Random(o.seed + job_id) if o.seed is not None else random
    width = len(STATS)

    def on_progress(stats):
        if shared_stats is not None:
            for k, key in enumerate(STATS):
                shared_stats[job_id * width + k] = stats[key]
        if progress is not None:
            progress.update([stats[key] for key in STATS])

    writer = ExampleWriter(
        job_id=job_id,
        vocab_file=o.vocab_file,
        output_dir=o.output_dir,
        max_seq_length=o.max_seq_length,
        num_jobs=o.num_processes,
        blanks_separate_docs=o.blanks_separate_docs,
        do_lower_case=o.do_lower_case,
        num_out_files=o.num_out_files,
        strip_accents=o.strip_accents,
        rng=rng,
        on_progress=on_progress,
    )
    inputs = [
        f for i, f in enumerate(o.input_files) if i % o.num_processes == job_id
    ]
    return writer, rng, inputs


def write_examples(job_id, options, shared_stats=None, progress=None):
    """One job of the text-file builder; returns its counters."""
    writer, rng, files = job_writer(job_id, options, shared_stats, progress)
    rng.shuffle(files)
    for path in files:
        writer.write_examples(path)
        writer.stats["files"] += 1
    writer.finish()
    writer.report()
    return writer.stats


@dataclasses.dataclass(frozen=True)
class BuildOptions:
    """What `build` needs; field names follow the original's flags."""

    input_files: Sequence[str]
    vocab_file: str
    output_dir: str
    max_seq_length: int = 128
    num_processes: int = 1
    blanks_separate_docs: bool = True
    do_lower_case: bool = True
    strip_accents: bool = True
    num_out_files: int = 1000
    seed: Optional[int] = None


def check_options(o):
    """Raises ConfigError/MissingInputError naming a bad input and the fix."""
    if not o.input_files:
        raise MissingInputError(
            "The corpus has no input files; point --corpus-dir at a "
            "directory of text files."
        )
    if not tf.io.gfile.exists(o.vocab_file):
        raise MissingInputError(
            f"Vocab file {o.vocab_file} not found; pass --vocab-file (the "
            "bundled one is electra_tf/resources/vocab.txt, or make one "
            "with build_vocab.py)."
        )
    tokenization.check_vocab(tokenization.load_vocab(o.vocab_file),
                             o.vocab_file)
    if o.max_seq_length < 5:
        raise ConfigError(
            f"--max-seq-length must be at least 5 ([CLS] A [SEP] B [SEP] and "
            f"the shortest random target), got {o.max_seq_length}."
        )
    if o.num_processes < 1 or o.num_out_files < o.num_processes:
        raise ConfigError(
            f"Need 1 <= --num-processes <= --num-out-files, got "
            f"{o.num_processes} processes and {o.num_out_files} files."
        )


def build(options, overwrite=False, show_progress=True, job=write_examples,
          input_label="files"):
    """Builds the TFRecords with `job(job_id, options, ...)` run once per
    process; returns a summary dict (also printed)."""
    o = options
    check_options(o)
    created = shards.prepare_output_dir(o.output_dir, o.input_files, overwrite)

    start = time.monotonic()
    progress = (
        build_cli.Progress(len(o.input_files), input_label)
        if show_progress
        else None
    )
    try:
        if o.num_processes == 1:
            totals = job(0, o, progress=progress)
            totals = [totals[key] for key in STATS]
        else:
            totals = _run_jobs(o, progress, job)
        if progress is not None:
            progress.update(totals, force=True)
            progress.close()
        v = dict(zip(STATS, totals))
        check_written(v, input_label)
    except BaseException:
        shards.discard(o.output_dir, created)
        raise
    shards.finalize(o.output_dir, o.num_out_files)
    warn(v, o.max_seq_length)
    summary = {
        "output_dir": o.output_dir,
        "inputs": v["files"],
        "output_files": o.num_out_files,
        "documents": v["docs"],
        "examples": v["examples"],
        "tokens": v["tokens"],
        "example_tokens": v["written"],
        "padding_fraction": (
            1.0 - v["written"] / (v["examples"] * o.max_seq_length)
            if v["examples"]
            else 0.0
        ),
        "lines_with_bad_utf8": v["bad_lines"],
        "lines": v["lines"],
        "bytes": v["bytes"],
        "binary_files_skipped": v["binary_files"],
        "long_lines": v["long_lines"],
        "seconds": time.monotonic() - start,
    }
    if show_progress:
        print(
            f"Wrote {summary['examples']:,} examples "
            f"({summary['example_tokens']:,} tokens, padding "
            f"{summary['padding_fraction']:.1%}) to {o.num_out_files} files in "
            f"{o.output_dir} from {summary['inputs']:,} {input_label} "
            f"({summary['documents']:,} documents, {summary['tokens']:,} "
            f"tokens) in {summary['seconds']:.1f}s.",
            file=sys.stderr,
        )
    return summary


def check_written(v, input_label="files"):
    """Raises DataError when a build wrote no example (counts say why)."""
    if v["examples"]:
        return
    binary = (
        f", {v['binary_files']:,} skipped as binary" if v["binary_files"]
        else ""
    )
    raise DataError(
        f"No example was written: the {v['files']:,} input {input_label} "
        f"hold {v['lines']:,} lines, {v['bytes']:,} bytes and "
        f"{v['tokens']:,} tokens{binary}; point --corpus-dir at text files "
        "(one sentence or paragraph per line, blank lines between documents)."
    )


def warn(v, max_seq_length):
    """Warns about skipped binary files and lines longer than an example
    (their rest is lost)."""
    if v["binary_files"]:
        print(
            f"WARNING: skipped {v['binary_files']:,} input file(s) that look "
            "binary (a NUL byte or mostly invalid UTF-8 in the first 64 KiB).",
            file=sys.stderr,
        )
    if v["long_lines"]:
        print(
            f"WARNING: {v['long_lines']:,} of {v['lines']:,} lines have more "
            f"than {max_seq_length - 2} tokens; an example keeps at most "
            f"{max_seq_length - 2} tokens of a line and drops the rest "
            f"({v['tokens']:,} tokens read, {v['written']:,} written with "
            "[CLS]/[SEP]). Put one sentence or paragraph per line.",
            file=sys.stderr,
        )


def _job_process(job, job_id, options, shared, parent_pid):
    shards.die_with_parent(parent_pid)
    job(job_id, options, shared)


def _run_jobs(options, progress, job):
    """Runs one process per job; returns the summed counters. The workers
    end with the build (killed, interrupted or failed)."""
    ctx = multiprocessing.get_context("spawn")  # TF is not fork-safe
    width = len(STATS)
    shared = ctx.Array("q", options.num_processes * width, lock=False)
    jobs = [
        ctx.Process(
            target=_job_process,
            args=(job, j, options, shared, os.getpid()),
            daemon=True,
        )
        for j in range(options.num_processes)
    ]

    def totals():
        return [
            sum(shared[j * width + k] for j in range(options.num_processes))
            for k in range(width)
        ]

    try:
        for process in jobs:
            process.start()
        while any(process.is_alive() for process in jobs):
            jobs[0].join(0.2)
            if any(p.exitcode not in (None, 0) for p in jobs):
                break
            if progress is not None:
                progress.update(totals())
    finally:
        for process in jobs:
            if process.is_alive():
                process.terminate()
                process.join()
    failed = [j for j, p in enumerate(jobs) if p.exitcode != 0]
    if failed:
        raise RuntimeError(
            f"Build jobs {failed} failed (see their errors above); no shard "
            "was written."
        )
    return totals()


def corpus_files(corpus_dir):
    """Sorted files of a corpus directory (subdirectories are skipped)."""
    if not tf.io.gfile.isdir(corpus_dir):
        raise MissingInputError(
            f"Corpus dir {corpus_dir} does not exist; pass --corpus-dir, a "
            "directory of text files."
        )
    names = sorted(tf.io.gfile.listdir(corpus_dir))
    paths = [os.path.join(corpus_dir, n) for n in names]
    files = [p for p in paths if not tf.io.gfile.isdir(p)]
    if not files:
        raise DataError(
            f"Corpus dir {corpus_dir} has no files; put text files there "
            "(one sentence or paragraph per line, blank lines between "
            "documents)."
        )
    return files
