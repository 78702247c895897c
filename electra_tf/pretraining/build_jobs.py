"""A build's worker processes and its progress line.

The original runs one `multiprocessing.Process` per job and prints nothing
while they run; here the jobs also publish their counters (STATS) through
shared memory, so the parent shows a throttled progress line and sums them
for the summary, and workers end with the build (killed, interrupted or
failed).
"""

import multiprocessing
import os
import sys
import time

from electra_tf.pretraining import shards
from electra_tf.pretraining.example_builder import STATS


class Progress:
    """A throttled one-line progress report on stderr (documents, examples
    and tokens per second)."""

    def __init__(self, total_files, label="files", stream=None,
                 interval=0.5):
        self._total_files = total_files
        self._label = label
        self._stream = stream = stream or sys.stderr
        self._tty = hasattr(stream, "isatty") and stream.isatty()
        self._interval = interval if self._tty else 10.0
        self._start = self._last = time.monotonic()
        self._printed = False

    def update(self, values, force=False):
        now = time.monotonic()
        if not force and now - self._last < self._interval:
            return
        self._last = now
        v = dict(zip(STATS, values))
        secs = max(now - self._start, 1e-9)
        line = (
            f"{self._label} {v['files']:,}/{self._total_files:,} | "
            f"docs {v['docs']:,} ({v['docs'] / secs:,.0f}/s) | "
            f"examples {v['examples']:,} ({v['examples'] / secs:,.0f}/s) | "
            f"tokens {v['tokens']:,} ({v['tokens'] / secs:,.0f}/s) | "
            f"{secs:,.1f}s"
        )
        end = "" if self._tty else "\n"
        self._stream.write(("\r" if self._tty else "") + line + end)
        self._stream.flush()
        self._printed = True

    def close(self):
        if self._printed and self._tty:
            self._stream.write("\n")
            self._stream.flush()


def reporter(job_id, shared_stats=None, progress=None):
    """The `on_progress(stats)` callback of job `job_id`: copies its counters
    into its row of `shared_stats` and/or updates `progress`."""
    width = len(STATS)

    def on_progress(stats):
        if shared_stats is not None:
            for k, key in enumerate(STATS):
                shared_stats[job_id * width + k] = stats[key]
        if progress is not None:
            progress.update([stats[key] for key in STATS])

    return on_progress


def _job_process(job, job_id, options, shared, parent_pid):
    shards.die_with_parent(parent_pid)
    job(job_id, options, shared)


def run_jobs(options, progress, job):
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
