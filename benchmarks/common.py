"""Shared pieces of the benchmarks: worker processes, timing, tables.

Each contender (our step in one precision, the Hugging Face step in
another, ...) lives in its own process, so that TensorFlow's and PyTorch's
thread pools and Keras' global precision policy never meet. The parent
alternates the contenders: every round asks each worker in turn for one
timed repeat, so load from other programs on a shared machine spreads over
all of them. Reported times are medians over rounds; warm-up is excluded.
"""

import argparse
import multiprocessing
import os
import platform
import statistics
import sys
import time
import traceback

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def have_torch():
    """True when torch and transformers import (the HF contenders)."""
    try:
        import torch  # noqa: F401
        import transformers  # noqa: F401
    except ImportError:
        return False
    return True


def hf_config(model_config, role, **extra):
    """`transformers.ElectraConfig` of one of our ModelConfigs: the
    config.json our Hugging Face writer gives that `role`."""
    import transformers

    from electra_tf.checkpoints import hf_layout

    values = dict(hf_layout.config_json(role, model_config), **extra)
    return transformers.ElectraConfig(**values)


def step_parser(description, steps):
    """The flags of the step benchmarks; `steps` is the default per repeat."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--batch_size", type=int, default=32)
    parser.add_argument("--seq_length", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--steps", type=int, default=steps, help="per repeat")
    return parser


def _serve(conn, factory, args):
    """Worker body: build the contender, then time `n` steps on request."""
    sys.path.insert(0, ROOT)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        contender = factory(**args)
        conn.send(("ready", None))
    except Exception:  # reported by the parent as this row's failure
        conn.send(("error", traceback.format_exc()))
        return
    while True:
        request = conn.recv()
        if request is None:
            break
        kind, value = request
        try:
            if kind == "steps":
                start = time.perf_counter()
                contender.run(value)
                conn.send(("ok", time.perf_counter() - start))
            else:  # "call": a named method's result
                conn.send(("ok", getattr(contender, value)()))
        except Exception:
            conn.send(("error", traceback.format_exc()))


class Worker:
    """A contender in a child process; `factory(**args)` builds it there.

    The contender has `run(n)` (n steps, blocking until done) and may have
    other zero-argument methods that `call(name)` returns the result of.
    """

    def __init__(self, name, factory, args):
        self.name = name
        self.error = None
        self.times = []
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._process = context.Process(
            target=_serve, args=(child, factory, args), daemon=True
        )
        self._process.start()

    def _reply(self):
        status, value = self._conn.recv()
        if status == "error":
            self.error = value.strip().splitlines()[-1]
            print(f"[{self.name}] failed:\n{value}", file=sys.stderr)
            return None
        return value

    def wait_ready(self):
        if self.error is None:
            self._reply()

    def time_steps(self, n):
        if self.error is not None:
            return None
        self._conn.send(("steps", n))
        return self._reply()

    def call(self, method):
        if self.error is not None:
            return None
        self._conn.send(("call", method))
        return self._reply()

    def close(self):
        if self._process.is_alive():
            try:
                self._conn.send(None)
            except (BrokenPipeError, OSError):
                pass
        self._process.join(timeout=30)


def progress(message):
    """A time-stamped line on stderr (stdout keeps only the tables)."""
    print(time.strftime("%H:%M:%S"), message, file=sys.stderr, flush=True)


def alternate(workers, steps, repeats, warmup_steps=1):
    """Median seconds per step of each worker, rounds alternating them."""
    for worker in workers:
        worker.wait_ready()
        progress(f"built {worker.name}")
    for worker in workers:
        worker.time_steps(warmup_steps)
        progress(f"warmed up {worker.name}")
    for i in range(repeats):
        for worker in workers:
            elapsed = worker.time_steps(steps)
            if elapsed is not None:
                worker.times.append(elapsed / steps)
        progress(f"repeat {i + 1}/{repeats} done")
    return {
        w.name: statistics.median(w.times) if w.times else None for w in workers
    }


def time_contenders(rows, steps, repeats):
    """Median seconds per step of each `(name, precision, jit, factory,
    kwargs)` row with a factory, each in its own worker process."""
    workers = [
        Worker((name, precision, jit), factory, kwargs)
        for name, precision, jit, factory, kwargs in rows
        if factory is not None
    ]
    try:
        return alternate(workers, steps, repeats)
    finally:
        for worker in workers:
            worker.close()


def machine():
    """One line: CPU model, cores visible, date (UTC), library versions."""
    model = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    import tensorflow as tf

    versions = f"TensorFlow {tf.__version__}"
    if have_torch():
        import torch
        import transformers

        versions += (
            f", PyTorch {torch.__version__}, "
            f"transformers {transformers.__version__}"
        )
    date = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    return f"{model}, {os.cpu_count()} cores; {versions}; {date}"


def table(header, rows):
    """A markdown table; None cells print as "skipped"."""

    def cell(value):
        return "skipped" if value is None else str(value)

    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "|".join(" --- " for _ in header) + "|",
    ]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def fmt(value, spec):
    return None if value is None else format(value, spec)


def ratio(value, reference):
    if value is None or reference is None:
        return None
    return f"{value / reference:.2f}x"
