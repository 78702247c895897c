"""Port of build_pretraining_dataset.py's example making: lines of text ->
`[CLS] A [SEP] B [SEP]` examples (ExampleBuilder) written round-robin over a
job's shards (ExampleWriter).

The algorithm is the original's (segments, random target lengths, padding,
round-robin shards); additions are an injectable random source (repeatable
builds), counters for the progress line and summary, skipped binary files,
and shards written under hidden names until the build ends.
"""

import os
import random
import sys

import tensorflow as tf

from electra_tf import tokenization
from electra_tf.pretraining import records
from electra_tf.pretraining.shards import SHARD_NAME, temp_name

# A job's counters, reported to the parent process for the progress line and
# the build summary.
STATS = ("files", "docs", "examples", "tokens", "written", "bad_lines",
         "lines", "bytes", "binary_files", "long_lines")

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

