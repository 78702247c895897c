"""ELECTRA-Small pre-training step: ours vs Hugging Face/PyTorch.

Ours: `electra_tf.training.loop` as `run_pretraining.py` ships it (input
pipeline from TFRecords, dynamic masking, generator, Gumbel sampling,
discriminator, both losses, clipping at 1.0, AdamWeightDecay, the loop's
per-call host read of the losses), float32 and mixed_bfloat16, with and
without `jit_compile`. Hugging Face: an `ElectraForMaskedLM` generator and
an `ElectraForPreTraining` discriminator sharing their embeddings, the same
number of masked positions (the generator head runs at those positions
only, as ours), Gumbel sampling, AdamW, clipping; float32 and bfloat16
autocast. Full-length sequences, so every example predicts
max_predictions_per_seq positions in both.

    python benchmarks/pretraining_step.py [--repeats 5] [--steps 2]
"""

import os
import tempfile

import common
import matmul_peak

VOCAB = os.path.join(common.ROOT, "electra_tf", "resources", "vocab.txt")
CLS, SEP, MASK = 101, 102, 103  # ids in the packaged vocab
GENERATOR_SIZE = 0.25


def hparams(batch_size, seq_length, precision="float32", jit=False):
    return {
        "model_size": "small",
        "vocab_size": 30522,
        "generator_hidden_size": GENERATOR_SIZE,
        "train_batch_size": batch_size,
        "max_seq_length": seq_length,
        "mixed_precision": precision,
        "jit_compile": jit,
        "num_train_steps": 10**6,
        "num_warmup_steps": 10,  # a nonzero learning rate from step 1
    }


def random_ids(rng, batch_size, seq_length):
    """[B, L] ids: [CLS], random word pieces, [SEP] (full length)."""
    ids = rng.integers(1000, 30522, size=(batch_size, seq_length))
    ids[:, 0], ids[:, -1] = CLS, SEP
    return ids


def write_records(path, num_examples, seq_length):
    """A TFRecord file of random full-length pre-training examples."""
    import numpy as np
    import tensorflow as tf

    rng = np.random.default_rng(0)
    ids = random_ids(rng, num_examples, seq_length)
    with tf.io.TFRecordWriter(path) as writer:
        for row in ids:

            def feature(values):
                return tf.train.Feature(
                    int64_list=tf.train.Int64List(value=list(values))
                )

            example = tf.train.Example(
                features=tf.train.Features(
                    feature={
                        "input_ids": feature(row),
                        "input_mask": feature([1] * seq_length),
                        "segment_ids": feature([0] * seq_length),
                    }
                )
            )
            writer.write(example.SerializeToString())


def flops_per_step(batch_size, seq_length):
    """Matmul FLOPs of one step (electra_tf.flops.step_matmul_flops)."""
    from electra_tf.config import PretrainingConfig
    from electra_tf.flops import step_matmul_flops

    config = PretrainingConfig.from_hparams(
        "bench", "/nonexistent", hparams(batch_size, seq_length)
    )
    return step_matmul_flops(
        config.disc_config(),
        config.generator_config(),
        batch_size,
        seq_length,
        config.max_predictions_per_seq,
    )


class OurStep:
    """Our pre-training step through `loop.make_train_function`."""

    def __init__(self, precision, jit, batch_size, seq_length):
        import keras

        from electra_tf.config import PretrainingConfig
        from electra_tf.models.pretrainer import ElectraPretrainer
        from electra_tf.optimization import create_optimizer_for
        from electra_tf.pretraining import data
        from electra_tf.tokenization import special_ids
        from electra_tf.training import distribution, loop

        self._tmp = tempfile.TemporaryDirectory()
        records = os.path.join(self._tmp.name, "pretrain_data.tfrecord")
        write_records(records, 8 * batch_size, seq_length)
        config = PretrainingConfig.from_hparams(
            "bench",
            self._tmp.name,
            dict(
                hparams(batch_size, seq_length, precision, jit),
                pretrain_tfrecords=records,
                vocab_file=VOCAB,
            ),
        )
        # This process runs one contender: set the policy for its life.
        keras.mixed_precision.set_global_policy(precision)
        keras.utils.set_random_seed(0)
        strategy = distribution.strategy_from_config(config)
        with strategy.scope():
            model = ElectraPretrainer(
                config, special_ids(config.vocab_file, config.vocab_size)
            )
            optimizer = create_optimizer_for(config, config.num_train_steps)
            optimizer.build(model.trainable_variables)

        def loss_fn(batch, step):
            out = model.compute_losses(batch, step, training=True)
            return {
                "loss": out["total_loss"],
                "generator_loss": out["generator_loss"],
                "discriminator_loss": out["discriminator_loss"],
            }

        self._inputs = distribution.DistributedInput(
            strategy, lambda context: data.input_fn(config, True, context)
        )
        self._run = loop.make_train_function(
            strategy, model, optimizer, loss_fn, 1.0, jit
        )

    def run(self, n):
        for _ in range(n):  # as loop.train: one call, then read the losses
            scalars = {
                k: float(v) for k, v in self._run(self._inputs, 1).items()
            }
        return scalars


class HFStep:
    """The same step with Hugging Face ELECTRA modules in PyTorch."""

    def __init__(self, precision, batch_size, seq_length):
        import numpy as np
        import torch
        import transformers

        from electra_tf.config import PretrainingConfig

        torch.manual_seed(0)
        config = PretrainingConfig.from_hparams(
            "bench", "/nonexistent", hparams(batch_size, seq_length)
        )
        self.torch = torch
        self.bf16 = precision == "bfloat16"
        self.n = config.max_predictions_per_seq
        self.vocab = config.vocab_size

        self.gen = transformers.ElectraForMaskedLM(
            common.hf_config(config.generator_config(), "generator")
        )
        self.disc = transformers.ElectraForPreTraining(
            common.hf_config(config.disc_config(), "discriminator")
        )
        # Shared embeddings and the tied output embedding, as ELECTRA.
        embeddings = self.disc.electra.embeddings
        self.gen.electra.embeddings = embeddings
        self.gen.generator_lm_head.weight = embeddings.word_embeddings.weight
        self.gen.train()
        self.disc.train()
        params = {
            id(p): (name, p)
            for model in (self.disc, self.gen)
            for name, p in model.named_parameters()
        }
        decay = [
            p
            for name, p in params.values()
            if "LayerNorm" not in name and "bias" not in name
        ]
        no_decay = [
            p
            for name, p in params.values()
            if "LayerNorm" in name or "bias" in name
        ]
        self.params = decay + no_decay
        self.optimizer = torch.optim.AdamW(
            [
                {"params": decay, "weight_decay": 0.01},
                {"params": no_decay, "weight_decay": 0.0},
            ],
            lr=5e-4,
            eps=1e-6,
        )
        rng = np.random.default_rng(0)
        self.batches = [
            torch.from_numpy(random_ids(rng, batch_size, seq_length))
            for _ in range(8)
        ]
        self.step = 0

    def _one(self, ids):
        torch = self.torch
        batch, length = ids.shape
        rows = torch.arange(batch)[:, None].expand(-1, self.n)
        positions = torch.randint(1, length - 1, (batch, self.n))
        to_mask = torch.rand(batch, self.n) < 0.85
        masked = ids.clone()
        masked[rows[to_mask], positions[to_mask]] = MASK
        targets = ids.gather(1, positions)
        attention_mask = torch.ones_like(ids)
        segments = torch.zeros_like(ids)
        with torch.autocast("cpu", torch.bfloat16, enabled=self.bf16):
            hidden = self.gen.electra(
                masked, attention_mask, segments
            ).last_hidden_state
            hidden = hidden.gather(
                1, positions[:, :, None].expand(-1, -1, hidden.shape[-1])
            )
            logits = self.gen.generator_lm_head(
                self.gen.generator_predictions(hidden)
            ).float()  # [B, N, V]
            gen_loss = torch.nn.functional.cross_entropy(
                logits.reshape(-1, self.vocab), targets.reshape(-1)
            )
            with torch.no_grad():
                u = torch.rand_like(logits)
                gumbel = -torch.log(-torch.log(u + 1e-9) + 1e-9)
                sampled = torch.argmax(logits + gumbel, dim=-1)
            fake = ids.clone()
            fake[rows.reshape(-1), positions.reshape(-1)] = sampled.reshape(-1)
            labels = (fake != ids).long()
            disc_loss = self.disc(
                fake, attention_mask, segments, labels=labels
            ).loss
            loss = gen_loss + 50.0 * disc_loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.params, 1.0)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        return float(loss.detach())

    def run(self, n):
        for _ in range(n):
            self._one(self.batches[self.step % len(self.batches)])
            self.step += 1


def contenders(batch_size, seq_length, hf):
    """(name, precision, jit, factory, args) of every row."""
    rows = []
    for precision in ("float32", "mixed_bfloat16"):
        for jit in (False, True):
            rows.append(
                (
                    "electra-tf",
                    precision,
                    jit,
                    OurStep,
                    dict(
                        precision=precision,
                        jit=jit,
                        batch_size=batch_size,
                        seq_length=seq_length,
                    ),
                )
            )
    for precision in ("float32", "bfloat16"):
        rows.append(
            (
                "HF transformers",
                precision,
                False,
                HFStep if hf else None,
                dict(
                    precision=precision,
                    batch_size=batch_size,
                    seq_length=seq_length,
                ),
            )
        )
    return rows


def step_table(rows, times, batch_size, flops, rates):
    """Markdown rows: seq/s, ratio to HF same precision, GFLOP/s, MFU."""

    def hf_time(precision):
        key = "bfloat16" if "bfloat16" in precision else "float32"
        return times.get(("HF transformers", key, False))

    out = []
    for name, precision, jit, _, _ in rows:
        t = times.get((name, precision, jit))
        seqs = None if t is None else batch_size / t
        hf = hf_time(precision)
        hf_seqs = None if hf is None else batch_size / hf
        gflops = None if t is None else flops / t / 1e9
        dtype = "bfloat16" if "bfloat16" in precision else "float32"
        mix = rates["ELECTRA-Small mix", dtype]
        out.append(
            [
                name,
                precision,
                "yes" if jit else "no",
                common.fmt(seqs, ".1f"),
                (
                    "reference"
                    if name.startswith("HF")
                    else common.ratio(seqs, hf_seqs)
                ),
                common.fmt(gflops, ".0f"),
                None if gflops is None else f"{100 * gflops / mix:.0f}%",
            ]
        )
    return common.table(
        [
            "step",
            "precision",
            "jit_compile",
            "seq/s",
            "vs HF same precision",
            "matmul GFLOP/s",
            "MFU (vs model-shape matmul)",
        ],
        out,
    )


def main():
    parser = common.step_parser(__doc__, steps=2)
    parser.add_argument(
        "--no_jit", action="store_true", help="leave out the jit rows"
    )
    args = parser.parse_args()
    hf = common.have_torch()
    rows = contenders(args.batch_size, args.seq_length, hf)
    if args.no_jit:
        rows = [r for r in rows if not r[2]]
    rates = matmul_peak.measure()
    times = common.time_contenders(rows, args.steps, args.repeats)
    flops = flops_per_step(args.batch_size, args.seq_length)
    print(common.machine())
    print(
        f"\nELECTRA-Small pre-training step, B{args.batch_size} "
        f"L{args.seq_length}, generator {GENERATOR_SIZE}; "
        f"{flops / 1e9:.1f} matmul GFLOP per step; median of "
        f"{args.repeats} repeats x {args.steps} steps, alternated.\n"
    )
    print(step_table(rows, times, args.batch_size, flops, rates))
    print()
    print(matmul_peak.rates_table(rates))


if __name__ == "__main__":
    main()
