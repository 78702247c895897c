"""ELECTRA-Small classification fine-tuning step: ours vs Hugging Face.

Ours: `FinetuningModel` with one 3-class head through
`electra_tf.training.loop` (the loss, clipping, AdamWeightDecay with
layer-wise rates, as `run_finetuning.py`); Hugging Face:
`ElectraForSequenceClassification` (its head has one more dense layer than
the original's), AdamW, clipping. B32, L128, float32 and bfloat16
(`mixed_bfloat16` / autocast).

    python benchmarks/finetuning_step.py [--repeats 5] [--steps 3]
"""

import common
import matmul_peak
from pretraining_step import random_ids

NUM_LABELS = 3


def model_config():
    from electra_tf.config import get_bert_config

    return get_bert_config("small", 30522, {}, 128)


def flops_per_step(batch_size, seq_length):
    """Encoder matmul FLOPs forward and backward (the head is negligible)."""
    from electra_tf.flops import encoder_matmul_flops

    return 3 * encoder_matmul_flops(model_config(), batch_size, seq_length)


class OurStep:
    def __init__(self, precision, jit, batch_size, seq_length):
        import keras
        import numpy as np
        import tensorflow as tf

        from electra_tf.models.finetuner import FinetuningModel
        from electra_tf.optimization import create_optimizer
        from electra_tf.training import loop

        keras.mixed_precision.set_global_policy(precision)
        keras.utils.set_random_seed(0)
        config = model_config()
        model = FinetuningModel(
            config,
            [
                {
                    "name": "mnli",
                    "head_type": "classification",
                    "num_labels": NUM_LABELS,
                }
            ],
        )
        strategy = tf.distribute.get_strategy()
        optimizer = create_optimizer(
            3e-4,
            10**5,
            weight_decay_rate=0.01,
            warmup_proportion=0.1,
            layerwise_lr_decay_power=0.8,
            n_transformer_layers=config.num_hidden_layers,
        )
        optimizer.build(model.trainable_variables)
        rng = np.random.default_rng(0)
        n = 8 * batch_size
        features = {
            "input_ids": random_ids(rng, n, seq_length).astype(np.int32),
            "input_mask": np.ones((n, seq_length), np.int32),
            "segment_ids": np.zeros((n, seq_length), np.int32),
            "task_id": np.zeros([n], np.int32),
            "mnli_label_ids": rng.integers(0, NUM_LABELS, n).astype(np.int32),
            "mnli_eid": np.arange(n, dtype=np.int32),
        }
        dataset = (
            tf.data.Dataset.from_tensor_slices(features)
            .repeat()
            .batch(batch_size, drop_remainder=True)
            .prefetch(2)
        )
        self._iterator = iter(dataset)

        def loss_fn(batch, step):
            return {"loss": model(batch, training=True)["loss"]}

        self._run = loop.make_train_function(
            strategy, model, optimizer, loss_fn, 1.0, jit
        )

    def run(self, n):
        for _ in range(n):
            {k: float(v) for k, v in self._run(self._iterator, 1).items()}


class HFStep:
    def __init__(self, precision, batch_size, seq_length):
        import numpy as np
        import torch
        import transformers

        torch.manual_seed(0)
        c = model_config()
        self.torch = torch
        self.bf16 = precision == "bfloat16"
        self.model = transformers.ElectraForSequenceClassification(
            common.hf_config(c, "encoder", num_labels=NUM_LABELS)
        )
        self.model.train()
        self.optimizer = torch.optim.AdamW(
            self.model.parameters(), lr=3e-4, weight_decay=0.01, eps=1e-6
        )
        rng = np.random.default_rng(0)
        self.batches = [
            (
                torch.from_numpy(random_ids(rng, batch_size, seq_length)),
                torch.from_numpy(rng.integers(0, NUM_LABELS, batch_size)),
            )
            for _ in range(8)
        ]
        self.step = 0

    def run(self, n):
        torch = self.torch
        for _ in range(n):
            ids, labels = self.batches[self.step % len(self.batches)]
            self.step += 1
            with torch.autocast("cpu", torch.bfloat16, enabled=self.bf16):
                loss = self.model(
                    ids,
                    torch.ones_like(ids),
                    torch.zeros_like(ids),
                    labels=labels,
                ).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
            self.optimizer.step()
            self.optimizer.zero_grad(set_to_none=True)
            float(loss.detach())


def main():
    parser = common.step_parser(__doc__, steps=3)
    args = parser.parse_args()
    b, length = args.batch_size, args.seq_length
    hf = common.have_torch()
    rows = [
        (
            "electra-tf",
            p,
            False,
            OurStep,
            dict(precision=p, jit=False, batch_size=b, seq_length=length),
        )
        for p in ("float32", "mixed_bfloat16")
    ] + [
        (
            "HF transformers",
            p,
            False,
            HFStep if hf else None,
            dict(precision=p, batch_size=b, seq_length=length),
        )
        for p in ("float32", "bfloat16")
    ]
    rates = matmul_peak.measure()
    times = common.time_contenders(rows, args.steps, args.repeats)
    flops = flops_per_step(b, length)
    print(common.machine())
    print(
        f"\nELECTRA-Small classification fine-tuning step, B{b} L{length}; "
        f"{flops / 1e9:.1f} matmul GFLOP per step; median of "
        f"{args.repeats} repeats x {args.steps} steps, alternated.\n"
    )
    from pretraining_step import step_table

    print(step_table(rows, times, b, flops, rates))


if __name__ == "__main__":
    main()
