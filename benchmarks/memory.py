"""Peak resident memory of ELECTRA-Small pre-training: ours vs Hugging Face.

Each (implementation, batch size) runs in its own fresh process: build,
three training steps, then the process's peak RSS (`ru_maxrss`), which
includes the framework's own footprint (reported on its own in the
"idle" rows: the library imported and one tiny op run).

    python benchmarks/memory.py [--batch_sizes 32,128] [--precision float32]
"""

import argparse
import resource

import common
from pretraining_step import HFStep, OurStep


class Measured:
    """A contender (or none: the framework alone) that reports peak RSS."""

    def __init__(self, kind, precision, batch_size, seq_length):
        self.step = None
        if kind == "ours":
            self.step = OurStep(precision, False, batch_size, seq_length)
        elif kind == "hf":
            precision = "bfloat16" if "bfloat16" in precision else "float32"
            self.step = HFStep(precision, batch_size, seq_length)
        elif kind == "tf idle":
            import tensorflow as tf

            tf.reduce_sum(tf.ones([2])).numpy()
        else:  # "torch idle"
            import torch

            float(torch.ones(2).sum())

    def run(self, n):
        if self.step is not None:
            self.step.run(n)

    def peak_rss(self):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def peak(kind, precision, batch_size, seq_length, steps=3):
    worker = common.Worker(
        kind,
        Measured,
        dict(
            kind=kind,
            precision=precision,
            batch_size=batch_size,
            seq_length=seq_length,
        ),
    )
    worker.wait_ready()
    worker.time_steps(steps)
    mib = worker.call("peak_rss")
    worker.close()
    return mib


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batch_sizes", default="32,128")
    parser.add_argument("--seq_length", type=int, default=128)
    parser.add_argument(
        "--precision", default="float32", choices=["float32", "mixed_bfloat16"]
    )
    args = parser.parse_args()
    sizes = [int(b) for b in args.batch_sizes.split(",")]
    hf = common.have_torch()
    idle = {
        "ours": peak("tf idle", args.precision, 1, args.seq_length, 0),
        "hf": (
            peak("torch idle", args.precision, 1, args.seq_length, 0)
            if hf
            else None
        ),
    }
    rows = []
    for b in sizes:
        ours = peak("ours", args.precision, b, args.seq_length)
        theirs = peak("hf", args.precision, b, args.seq_length) if hf else None
        rows.append(
            [
                b,
                f"{ours:.0f}",
                common.fmt(theirs, ".0f"),
                common.ratio(ours, theirs),
                f"{ours - idle['ours']:.0f}",
                None if theirs is None else f"{theirs - idle['hf']:.0f}",
            ]
        )
    print(common.machine())
    print(
        f"\nPeak RSS (MiB) of ELECTRA-Small pre-training, L{args.seq_length}, "
        f"{args.precision}, 3 steps; idle framework: TensorFlow "
        f"{idle['ours']:.0f} MiB, PyTorch "
        f"{common.fmt(idle['hf'], '.0f') or 'skipped'} MiB.\n"
    )
    print(
        common.table(
            [
                "batch",
                "electra-tf MiB",
                "HF transformers MiB",
                "ours / HF",
                "electra-tf above idle",
                "HF above idle",
            ],
            rows,
        )
    )


if __name__ == "__main__":
    main()
