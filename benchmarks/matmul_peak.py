"""The machine's matmul rate in TensorFlow: float32 and bfloat16 GFLOP/s.

Two shapes: 2048 x 2048 x 2048, and "ELECTRA-Small's mix", one
discriminator layer's dense kernels on B x L = 4096 rows (query, key,
value, output 256x256, feed-forward 256x1024 and back) plus the generator's
output embedding at the masked slots (608 x 128 x 30522). The step
benchmarks divide their achieved FLOP/s by these rates (MFU).

    python benchmarks/matmul_peak.py
"""

import argparse
import statistics
import time

import common

SHAPES = {
    "2048²": [(2048, 2048, 2048)],
    "ELECTRA-Small mix": [(4096, 256, 256)] * 4
    + [(4096, 256, 1024), (4096, 1024, 256), (608, 128, 30522)],
}


class MatmulRates:
    """Times `tf.matmul` chains; `rates()` -> {(shape, dtype): GFLOP/s}."""

    def __init__(self, repeats=7):
        import tensorflow as tf

        self.tf = tf
        self.repeats = repeats

    def run(self, n):
        self.rates()

    def _rate(self, shapes, dtype):
        tf = self.tf
        pairs = [
            (
                tf.random.normal([m, k], dtype=tf.float32),
                tf.random.normal([k, n], dtype=tf.float32),
            )
            for m, k, n in shapes
        ]
        pairs = [(tf.cast(a, dtype), tf.cast(b, dtype)) for a, b in pairs]

        # Arguments, not captured constants, which Grappler could fold.
        @tf.function
        def chain(pairs):
            return [tf.reduce_sum(tf.matmul(a, b)[:1, :1]) for a, b in pairs]

        flops = sum(2 * m * k * n for m, k, n in shapes)
        reps = max(1, int(2e9 // flops))  # about 2 GFLOP per timing
        chain(pairs)  # trace and warm up
        times = []
        for _ in range(self.repeats):
            start = time.perf_counter()
            for _ in range(reps):
                [x.numpy() for x in chain(pairs)]
            times.append((time.perf_counter() - start) / reps)
        return flops / statistics.median(times) / 1e9

    def rates(self):
        return {
            (name, dtype): self._rate(shapes, dtype)
            for name, shapes in SHAPES.items()
            for dtype in ("float32", "bfloat16")
        }


def measure():
    """Rates measured in a fresh worker process."""
    worker = common.Worker("matmul", MatmulRates, {})
    worker.wait_ready()
    rates = worker.call("rates")
    worker.close()
    return rates


def rates_table(rates):
    rows = [
        [
            name,
            f"{rates[name, 'float32']:.0f}",
            f"{rates[name, 'bfloat16']:.0f}",
        ]
        for name in SHAPES
    ]
    return common.table(
        ["matmul (TensorFlow)", "float32 GFLOP/s", "bfloat16 GFLOP/s"], rows
    )


def main():
    argparse.ArgumentParser(description=__doc__).parse_args()
    print(common.machine())
    print()
    print(rates_table(measure()))


if __name__ == "__main__":
    main()
