"""Throughput of build_pretraining_dataset against the original's pure-Python
pipeline, on the bundled corpus, in one run.

The reference is a re-statement of the original pipeline written here: the
character-by-character FullTokenizer (`tokenize` + `convert_tokens_to_ids`,
electra_tf.tokenization's reference path), the original's example builder
and `tf.train.Example` records, one process. Both runs use the same seed and
the script checks that they write identical records before printing ratios.

    python benchmarks/bench_build_dataset.py [--copies 8] [--processes 1,2]
        [--repeats 3]
"""

import argparse
import glob
import multiprocessing
import os
import random
import shutil
import sys
import tempfile
import time

import tensorflow as tf

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from electra_tf import tokenization  # noqa: E402
from electra_tf.pretraining import build_dataset, default_data  # noqa: E402


class ReferenceTokenizer:
    """FullTokenizer whose ids come from the character-by-character path."""

    def __init__(self, vocab_file):
        self._full = tokenization.FullTokenizer(vocab_file)
        self.vocab = self._full.vocab

    def tokenize_to_ids(self, text):
        return self._full.convert_tokens_to_ids(self._full.tokenize(text))


def reference_build(files, vocab_file, output_dir, max_seq_length,
                    num_out_files, seed):
    """The original's single-process loop: shuffle the job's files, feed
    stripped lines to the example builder, write round-robin; text read
    with the original's text-mode GFile."""
    rng = random.Random(seed)
    tokenizer = ReferenceTokenizer(vocab_file)
    builder = build_dataset.ExampleBuilder(tokenizer, max_seq_length, rng)
    os.makedirs(output_dir)
    writers = [
        tf.io.TFRecordWriter(os.path.join(
            output_dir, build_dataset.SHARD_NAME.format(i, num_out_files)))
        for i in range(num_out_files)
    ]
    n = 0
    files = list(files)
    rng.shuffle(files)
    for path in files:
        with tf.io.gfile.GFile(path) as f:
            lines = [line.strip() for line in f] + [""]
        for line in lines:
            example = builder.add_line(line)
            if example is not None:
                writers[n % num_out_files].write(example.SerializeToString())
                n += 1
    for w in writers:
        w.close()
    return builder.n_tokens


def _timed_job(job_id, options, queue):
    t = time.perf_counter()
    stats = build_dataset.write_examples(job_id, options)
    queue.put((stats["tokens"], time.perf_counter() - t))


def timed_jobs(options):
    """Runs the build's jobs in spawned processes (as build() does) and
    returns (tokens, seconds from the first job start to the last job end,
    measured inside the jobs, i.e. without process start-up)."""
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    barrier = ctx.Barrier(options.num_processes)
    jobs = [ctx.Process(target=_barrier_job, args=(j, options, queue, barrier))
            for j in range(options.num_processes)]
    for job in jobs:
        job.start()
    results = [queue.get() for _ in jobs]
    for job in jobs:
        job.join()
    return sum(r[0] for r in results), max(r[1] for r in results)


def _barrier_job(job_id, options, queue, barrier):
    barrier.wait()  # all processes have imported TensorFlow
    _timed_job(job_id, options, queue)


def records(output_dir):
    return [
        [r.numpy() for r in tf.data.TFRecordDataset(path)]
        for path in sorted(glob.glob(os.path.join(output_dir, "pretrain*")))
    ]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--copies", type=int, default=8,
                        help="Copies of the bundled corpus (about 2.6 MB "
                        "each) for the scaling runs.")
    parser.add_argument("--repeats", type=int, default=3,
                        help="Runs of each measurement; the best counts.")
    parser.add_argument("--processes", default="1,2",
                        help="Comma-separated --num-processes values.")
    args = parser.parse_args()
    vocab = tokenization.default_vocab_file()
    files = default_data.bundled_corpus_files()
    tmp = tempfile.mkdtemp(prefix="bench_build_")
    try:
        # 1. reference vs ours, one process, same corpus and seed; runs
        # alternate and the best of --repeats counts (the machine is shared)
        ref_s, ours_s = [], []
        for r in range(args.repeats):
            t = time.perf_counter()
            n_tokens = reference_build(
                files, vocab, os.path.join(tmp, f"ref{r}"), 128, 8, seed=0)
            ref_s.append(time.perf_counter() - t)
            options = build_dataset.BuildOptions(
                input_files=files, vocab_file=vocab,
                output_dir=os.path.join(tmp, f"ours{r}"), num_out_files=8,
                seed=0)
            t = time.perf_counter()
            build_dataset.build(options, show_progress=False)
            ours_s.append(time.perf_counter() - t)
            assert records(os.path.join(tmp, f"ref{r}")) == records(
                options.output_dir), "reference and fast builds differ"
        ref_s, ours_s = min(ref_s), min(ours_s)
        print(f"corpus: {len(files)} files, "
              f"{sum(os.path.getsize(f) for f in files) / 1e6:.1f} MB, "
              f"{n_tokens:,} tokens; identical records: yes; "
              f"best of {args.repeats}")
        print(f"reference pure-Python pipeline, 1 process: {ref_s:6.2f} s "
              f"({n_tokens / ref_s:,.0f} tokens/s)")
        print(f"electra_tf builder,             1 process: {ours_s:6.2f} s "
              f"({n_tokens / ours_s:,.0f} tokens/s)  "
              f"speed-up x{ref_s / ours_s:.1f}")

        # 2. scaling with --num-processes on a larger corpus
        corpus = os.path.join(tmp, "corpus")
        os.makedirs(corpus)
        for c in range(args.copies):
            for f in files:
                shutil.copyfile(f, os.path.join(
                    corpus, f"{c}_{os.path.basename(f)}"))
        big = build_dataset.corpus_files(corpus)
        base = None
        for p in [int(x) for x in args.processes.split(",")]:
            runs = []
            for r in range(args.repeats):
                options = build_dataset.BuildOptions(
                    input_files=big, vocab_file=vocab,
                    output_dir=os.path.join(tmp, f"p{p}_{r}"),
                    num_processes=p, num_out_files=16, seed=0)
                os.makedirs(options.output_dir)
                t = time.perf_counter()
                tokens, busy = timed_jobs(options)
                runs.append((busy, time.perf_counter() - t))
            busy, wall = min(runs)
            rate = tokens / busy
            base = base or rate
            print(f"{args.copies} copies ({tokens:,} tokens), "
                  f"--num-processes {p}: {wall:6.2f} s wall incl. process "
                  f"start-up; jobs ran {busy:.2f} s -> {rate:,.0f} tokens/s, "
                  f"scaling x{rate / base:.2f}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
