"""Latency and throughput of the exported discriminator on raw text, against
HF transformers/PyTorch `ElectraForPreTraining` + `ElectraTokenizerFast`, in
one run.

Both sides get the same texts from the bundled corpus (long enough to fill
128 tokens), the same vocab and ELECTRA-Small sizes with random weights, and
do the whole job: raw strings in, per-token replaced probabilities out. Ours
is the SavedModel `serving_default` signature (in-graph tokenization),
loaded with `tf.saved_model.load` (small batches XLA-compiled unless
--no-jit-compile; warm-up calls compile them); the calls alternate and the
medians are compared. Without torch/transformers the HF row says "skipped".

    python benchmarks/serving_latency.py [--repeats 30] [--batch-sizes 1,32]
        [--torch-threads N] [--no-jit-compile]
"""

import argparse
import glob
import inspect
import os
import statistics
import sys
import tempfile
import time

import numpy as np
import tensorflow as tf

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from electra_tf.config import PretrainingConfig  # noqa: E402
from electra_tf.models.pretrainer import ElectraPretrainer  # noqa: E402
from electra_tf.serving import export as export_lib  # noqa: E402
from electra_tf.tokenization import default_vocab_file  # noqa: E402
from electra_tf.tokenization import load_vocab  # noqa: E402

import common  # noqa: E402

SEQ = 128


def small_config(directory):
    """ELECTRA-Small (the paper's preset) with the bundled vocab."""
    return PretrainingConfig.from_hparams(
        "small",
        directory,
        {
            "model_size": "small",
            "max_seq_length": SEQ,
            "vocab_file": default_vocab_file(),
        },
    )


def corpus_texts(n, words=160):
    """`n` windows of `words` words from the bundled corpus."""
    root = os.path.join(os.path.dirname(default_vocab_file()), "corpus")
    tokens = []
    for path in sorted(glob.glob(os.path.join(root, "*.txt"))):
        with open(path, encoding="utf-8") as f:
            tokens.extend(f.read().split())
        if len(tokens) > n * words:
            break
    return [" ".join(tokens[i * words : (i + 1) * words]) for i in range(n)]


def export_small(directory, jit_compile=True):
    """An ELECTRA-Small pre-training run (random weights), exported."""
    model_dir = os.path.join(directory, "models", "small")
    model = ElectraPretrainer(small_config(directory))
    model.save_pretrained(model_dir, format="ours")
    output = os.path.join(directory, "export")
    export_lib.export(
        model_dir, output, "discriminator", SEQ, jit_compile=jit_compile
    )
    return output


def hf_runner(torch_threads=None):
    """HF's raw-text -> probabilities function, or None if not installed."""
    try:
        import torch
        import transformers
    except ImportError:
        return None
    if torch_threads:
        torch.set_num_threads(torch_threads)
    torch.manual_seed(0)
    config = small_config(tempfile.gettempdir()).disc_config()
    model = transformers.ElectraForPreTraining(
        common.hf_config(config, "discriminator")
    ).eval()
    # transformers 5 takes the vocab itself; 4.x a vocab_file.
    cls = transformers.ElectraTokenizerFast
    if "vocab" in inspect.signature(cls.__init__).parameters:
        tokenizer = cls(vocab=load_vocab(default_vocab_file()))
    else:
        tokenizer = cls(vocab_file=default_vocab_file())

    def run(texts):
        with torch.inference_mode():
            batch = tokenizer(
                texts,
                truncation=True,
                max_length=SEQ,
                padding=True,
                return_tensors="pt",
            )
            logits = model(**batch).logits
            return (torch.sigmoid(logits) * batch["attention_mask"]).numpy()

    run.tokenizer = tokenizer
    return run


def timed(fn, texts):
    start = time.perf_counter()
    fn(texts)
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--batch-sizes", default="1,32")
    parser.add_argument(
        "--torch-threads",
        type=int,
        default=None,
        help="torch.set_num_threads for HF (default: torch's)",
    )
    parser.add_argument(
        "--no-jit-compile",
        dest="jit_compile",
        action="store_false",
        help="export without XLA (export --no-jit-compile)",
    )
    args = parser.parse_args()
    texts = corpus_texts(64)
    with tempfile.TemporaryDirectory() as directory:
        serving = tf.saved_model.load(export_small(directory, args.jit_compile))
        signature = serving.signatures["serving_default"]

        def ours(batch):
            return signature(text=tf.constant(batch))["replaced_probability"]

        hf = hf_runner(args.torch_threads)
        if hf is not None:  # same ids on the same texts
            ids = signature(text=tf.constant(texts[:8]))["input_ids"].numpy()
            ref = hf.tokenizer(
                texts[:8], truncation=True, max_length=SEQ, padding=True
            )["input_ids"]
            same = np.array_equal(ids, np.array(ref))
            print(f"token ids equal to ElectraTokenizerFast: {same}")
        print(
            f"{'batch':>5} {'ours ms':>9} {'HF ms':>9} {'ours/s':>8} "
            f"{'HF/s':>8} {'speed-up':>8}"
        )
        for batch_size in [int(b) for b in args.batch_sizes.split(",")]:
            starts = [
                (i * batch_size) % (len(texts) - batch_size + 1)
                for i in range(args.repeats)
            ]
            batches = [texts[s : s + batch_size] for s in starts]
            for batch in batches[:3]:  # warm-up
                ours(batch)
                if hf is not None:
                    hf(batch)
            t_ours, t_hf = [], []
            for batch in batches:
                t_ours.append(timed(ours, batch))
                if hf is not None:
                    t_hf.append(timed(hf, batch))
            ours_ms = 1000 * statistics.median(t_ours)
            if hf is None:
                print(
                    f"{batch_size:>5} {ours_ms:>9.1f} {'skipped':>9} "
                    f"{1000 * batch_size / ours_ms:>8.1f} {'skipped':>8}"
                )
                continue
            hf_ms = 1000 * statistics.median(t_hf)
            print(
                f"{batch_size:>5} {ours_ms:>9.1f} {hf_ms:>9.1f} "
                f"{1000 * batch_size / ours_ms:>8.1f} "
                f"{1000 * batch_size / hf_ms:>8.1f} "
                f"{hf_ms / ours_ms:>7.2f}x"
            )


if __name__ == "__main__":
    main()
