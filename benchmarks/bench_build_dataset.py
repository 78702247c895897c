"""Throughput of build_pretraining_dataset against the original script and
against a pure-Python restatement of its pipeline, in one run.

With `--original PATH` (a checkout of google-research/electra, never
vendored), the real original `build_pretraining_dataset.py` and ours run as
whole processes on the same corpus and vocab (the bundled corpus, and
`--copies` copies of it), with 1 and 2 processes; medians of `--repeats`.
The per-token cost the corpus adds is (time on N copies - time on one copy)
/ (tokens added), for both, so that start-up (Python, TensorFlow, 1,000
output files), paid once by both, does not hide the work. The original is
unseeded; a shim run here (not in the original's files) calls
`random.seed(seed + job_id)` at the start of each of its jobs, which is what
our `--seed` does, and the script checks that every one of the 1,000 shards
holds the same examples in the same order before printing ratios.

The reference is a re-statement of the original pipeline written here: the
character-by-character FullTokenizer (`tokenize` + `convert_tokens_to_ids`,
electra_tf.tokenization's reference path), the original's example builder
and `tf.train.Example` records, one process. Both runs use the same seed and
the script checks that they write identical records before printing ratios.

    python benchmarks/bench_build_dataset.py [--copies 8] [--processes 1,2]
        [--repeats 3] [--original PATH [--skip-restatement]]
"""

import argparse
import glob
import multiprocessing
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import tensorflow as tf

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from electra_tf import tokenization  # noqa: E402
from electra_tf.pretraining import (  # noqa: E402
    build_dataset,
    default_data,
    example_builder,
    shards,
)


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
    builder = example_builder.ExampleBuilder(tokenizer, max_seq_length, rng)
    os.makedirs(output_dir)
    writers = [
        tf.io.TFRecordWriter(os.path.join(
            output_dir, shards.SHARD_NAME.format(i, num_out_files)))
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


# Runs the original script with its jobs seeded like ours (job j calls
# random.seed(seed + j) first); its files are imported, not changed.
SHIM = """
import random, sys
original_dir, seed = sys.argv[1], int(sys.argv[2])
sys.path.insert(0, original_dir)
import build_pretraining_dataset as original
job = original.write_examples
def seeded_job(job_id, args):
    random.seed(seed + job_id)
    job(job_id, args)
original.write_examples = seeded_job
sys.argv = [sys.argv[0]] + sys.argv[3:]
original.main()
"""


def run_process(args):
    """Wall seconds of `python args...` (output discarded)."""
    env = dict(os.environ, PYTHONPATH=ROOT, TF_CPP_MIN_LOG_LEVEL="2")
    t = time.perf_counter()
    subprocess.run([sys.executable, *args], check=True, env=env, cwd=ROOT,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t


def shard_examples(output_dir):
    """{shard name: [(input_ids, input_mask, segment_ids), ...]} of a build
    (compared as examples: the original's bytes order the three features
    differently from process to process)."""
    out = {}
    for path in glob.glob(os.path.join(output_dir, "pretrain_data*")):
        rows = []
        for record in tf.data.TFRecordDataset(path).as_numpy_iterator():
            f = tf.train.Example.FromString(record).features.feature
            rows.append(tuple(tuple(f[k].int64_list.value) for k in (
                "input_ids", "input_mask", "segment_ids")))
        out[os.path.basename(path)] = rows
    return out


def compare_with_original(args, files, vocab, tmp, seed=0):
    """Whole-process times of the original and ours on 1 and N copies of
    the corpus; prints the table and checks identical shards."""
    shim = os.path.join(tmp, "original_shim.py")
    with open(shim, "w") as f:
        f.write(SHIM)
    corpora = {}
    for n in (1, args.copies):
        corpora[n] = os.path.join(tmp, f"corpus{n}")
        os.makedirs(corpora[n])
        for c in range(n):
            for path in files:
                os.symlink(path, os.path.join(
                    corpora[n], f"{c}_{os.path.basename(path)}"))
    tokens = build_dataset.build(build_dataset.BuildOptions(
        input_files=files, vocab_file=vocab, num_out_files=1,
        output_dir=os.path.join(tmp, "count")), show_progress=False)["tokens"]
    times = {}
    for p in [int(x) for x in args.processes.split(",")]:
        for r in range(args.repeats):
            for n, corpus in corpora.items():
                common = ["--corpus-dir", corpus, "--vocab-file", vocab,
                          "--num-processes", str(p)]
                outs = {}
                for tool in ("original", "ours"):
                    out = outs[tool] = os.path.join(tmp, f"{tool}_{p}_{n}_{r}")
                    cmd = ([shim, args.original, str(seed)] + common
                           + ["--output-dir", out]) if tool == "original" else (
                        [os.path.join(ROOT, "build_pretraining_dataset.py")]
                        + common + ["--output-dir", out, "--seed", str(seed),
                                    "--quiet"])
                    seconds = run_process(cmd)
                    times.setdefault((tool, p, n), []).append(seconds)
                    print(f"{tool}, {p} process(es), {n} copies: "
                          f"{seconds:.2f} s", file=sys.stderr, flush=True)
                a, b = (shard_examples(outs["original"]),
                        shard_examples(outs["ours"]))
                assert len(a) == 1000 and a == b, (
                    f"original and ours differ ({p} processes, {n} copies)")
                for out in outs.values():
                    shutil.rmtree(out)
    med = {k: statistics.median(v) for k, v in times.items()}
    n = args.copies
    added = (n - 1) * tokens
    print(f"original script vs ours: bundled corpus ({len(files)} files, "
          f"{tokens:,} tokens) and {n} copies ({n * tokens:,} tokens); "
          f"1,000 shards each, the same examples in every shard; medians of "
          f"{args.repeats}")
    print("| processes | original, 1 copy | ours, 1 copy | ratio "
          f"| original, {n} copies | ours, {n} copies | ratio "
          "| original, added tokens/s | ours, added tokens/s | ratio |")
    print("| --- " * 10 + "|")
    for p in sorted({k[1] for k in med}):
        o1, u1 = med[("original", p, 1)], med[("ours", p, 1)]
        on, un = med[("original", p, n)], med[("ours", p, n)]
        orate, urate = added / (on - o1), added / (un - u1)
        print(f"| {p} | {o1:.2f} s | {u1:.2f} s | x{o1 / u1:.2f} "
              f"| {on:.2f} s | {un:.2f} s | x{on / un:.2f} "
              f"| {orate / 1e3:,.0f}k | {urate / 1e3:,.0f}k "
              f"| x{urate / orate:.2f} |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--copies", type=int, default=8,
                        help="Copies of the bundled corpus (about 2.6 MB "
                        "each) for the scaling runs.")
    parser.add_argument("--repeats", type=int, default=3,
                        help="Runs of each measurement (medians with "
                        "--original, else the best).")
    parser.add_argument("--processes", default="1,2",
                        help="Comma-separated --num-processes values.")
    parser.add_argument("--original", default=None,
                        help="Checkout of google-research/electra: also "
                        "time its build_pretraining_dataset.py.")
    parser.add_argument("--skip-restatement", action="store_true",
                        help="With --original, only that comparison.")
    args = parser.parse_args()
    vocab = tokenization.default_vocab_file()
    files = default_data.bundled_corpus_files()
    tmp = tempfile.mkdtemp(prefix="bench_build_")
    try:
        if args.original:
            compare_with_original(args, files, vocab, tmp)
            if args.skip_restatement:
                return
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
            assert shard_examples(os.path.join(tmp, f"ref{r}")) == (
                shard_examples(options.output_dir)), (
                "reference and fast builds differ")
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
