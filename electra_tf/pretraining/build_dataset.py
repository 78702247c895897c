"""Port of build_pretraining_dataset.py's driver: text files -> pre-training
TFRecords, the work split across processes as in the original.

`build(BuildOptions(...))` checks the inputs, runs one job per process
(example_builder.py makes and writes the examples, build_jobs.py runs the
processes and the progress line), renames the shards into place when every
job is done (crash-safe output, shards.py) and returns a summary. Additions:
`seed` (repeatable builds), `num_out_files`, the progress line and summary.
The command line is build_pretraining_dataset.py (top level, as in the
original).
"""

import dataclasses
import os
import random
import sys
import time
from typing import Optional, Sequence

import tensorflow as tf

from electra_tf import tokenization
from electra_tf.errors import ConfigError, DataError, MissingInputError
from electra_tf.pretraining import build_jobs, shards
from electra_tf.pretraining.example_builder import STATS, ExampleWriter


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
        on_progress=build_jobs.reporter(job_id, shared_stats, progress),
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
        build_jobs.Progress(len(o.input_files), input_label)
        if show_progress
        else None
    )
    try:
        if o.num_processes == 1:
            totals = job(0, o, progress=progress)
            totals = [totals[key] for key in STATS]
        else:
            totals = build_jobs.run_jobs(o, progress, job)
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
