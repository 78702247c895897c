"""Training and inference FLOPs of transformer encoders.

Port of the original `flops_computation.py` (the paper's compute
comparisons): analytic counts where a matrix-vector product of an m x n
matrix costs 2mn, the backward pass costs as much as the forward pass, and
embedding lookups count as dense one-hot products. `python -m
electra_tf.flops` prints the original's table.

`step_matmul_flops` is different: the matrix-multiply FLOPs that one
pre-training step of this package really executes (benchmarks divide
achieved FLOP/s by the machine's measured matmul rate with it).

>>> f"{electra_train_flops(256, 12, 64, 12, 128, 1e6, True, e=128, s=128):.4e}"
'1.2937e+18'
"""

import dataclasses
from typing import Optional

# Per-activation costs (flops_computation.py module constants).
DROPOUT_FLOPS = 4  # random number, compare, mask, rescale
LAYER_NORM_FLOPS = 5  # mean, variance (square and sum), bias, scale
ACTIVATION_FLOPS = 8  # tanh-approximate GELU
SOFTMAX_FLOPS = 5  # max, subtract, exp, sum, divide


@dataclasses.dataclass(frozen=True)
class TransformerHparams:
    """Shape of one encoder (flops_computation.py: TransformerHparams).

    `h` hidden, `l` layers, `s` sequence length, `v` vocab, `e` embedding
    (default h), `i` intermediate (default 4h), `heads` (default h // 64,
    at least 1), `head_size` (default h / heads), `output_frac` share of
    positions with an output softmax, `decoder` adds cross-attention.
    """

    h: int
    l: int  # noqa: E741 (the original's name)
    s: int = 512
    v: int = 30522
    e: Optional[int] = None
    i: Optional[int] = None
    heads: Optional[int] = None
    head_size: Optional[int] = None
    output_frac: float = 0.15625
    sparse_embed_lookup: bool = False
    decoder: bool = False

    @property
    def embedding(self):
        return self.h if self.e is None else self.e

    @property
    def intermediate(self):
        return 4 * self.h if self.i is None else self.i

    @property
    def num_heads(self):
        return max(self.h // 64, 1) if self.heads is None else self.heads

    @property
    def kqv(self):
        """Width of the query/key/value projections."""
        if self.head_size is None:
            return self.h
        return self.head_size * self.num_heads

    def block_flops(self):
        """Forward FLOPs of one transformer layer over the sequence."""
        h, s, i, kqv, heads = (
            self.h,
            self.s,
            self.intermediate,
            self.kqv,
            self.num_heads,
        )
        m = 2 if self.decoder else 1
        attention = m * (
            6 * h * kqv  # query, key, value kernels
            + 3 * kqv  # their biases
            + 2 * kqv * s  # scores
            + (SOFTMAX_FLOPS + DROPOUT_FLOPS + 1) * s * heads  # +1: scale
            + 2 * h * s  # weighted values
            + 2 * h * h  # output kernel
            + (1 + DROPOUT_FLOPS + 1) * h  # bias, dropout, residual
            # The original counts this layer norm once, not once per unit.
            + LAYER_NORM_FLOPS
        )
        feed_forward = (
            2 * h * i
            + (ACTIVATION_FLOPS + 1) * i  # activation, bias
            + 2 * h * i
            + (1 + DROPOUT_FLOPS + 1 + LAYER_NORM_FLOPS) * h
        )
        return (attention + feed_forward) * s

    def embedding_flops(self, output=False):
        """Forward FLOPs of the input embeddings or of the MLM output."""
        e, h, s, v = self.embedding, self.h, self.s, self.v
        total = 0
        if output or not self.sparse_embed_lookup:
            total += 2 * e * v  # one-hot product with the table
        if not output:
            total += 2 * e * (s + 2)  # token-type and position
            total += (2 + LAYER_NORM_FLOPS + DROPOUT_FLOPS) * e
        if output:
            total += 2 * h * e + e  # dense and its bias
            total += (ACTIVATION_FLOPS + LAYER_NORM_FLOPS) * e
            total += (SOFTMAX_FLOPS + 2) * v  # softmax, target word
            return self.output_frac * total * s
        if e != h:
            total += 2 * h * e + h  # projection to the hidden size
        return total * s

    def binary_classification_flops(self):
        h = self.h
        return (2 * h * h + h + ACTIVATION_FLOPS * h + 2 * h) * self.s

    def train_flops(self, batch_size, train_steps, discriminator=False):
        """Forward and backward FLOPs of pre-training."""
        head = (
            self.binary_classification_flops()
            if discriminator
            else self.embedding_flops(output=True)
        )
        per_sequence = (
            self.l * self.block_flops() + self.embedding_flops() + head
        )
        return 2 * batch_size * train_steps * per_sequence

    def infer_flops(self):
        """Forward FLOPs of classifying one sequence."""
        return (
            self.l * self.block_flops()
            + self.embedding_flops()
            + self.binary_classification_flops()
        )


def electra_train_flops(
    h_d,
    l_d,
    h_g,
    l_g,
    batch_size,
    train_steps,
    tied_embeddings,
    e=None,
    s=512,
    output_frac=0.15625,
):
    """Discriminator plus generator pre-training FLOPs
    (flops_computation.py: get_electra_train_flops)."""
    e = h_d if e is None else e
    disc = TransformerHparams(h_d, l_d, s=s, e=e, output_frac=output_frac)
    gen = TransformerHparams(
        h_g,
        l_g,
        s=s,
        e=e if tied_embeddings else None,
        output_frac=output_frac,
    )
    return disc.train_flops(
        batch_size, train_steps, discriminator=True
    ) + gen.train_flops(batch_size, train_steps)


def model_flops():
    """The original's table: name -> training FLOPs, in its order."""
    t5 = dict(v=32000, i=65536, heads=128, head_size=128)
    return {
        # ELMo and XLNet: counted by the authors with TensorFlow's profiler.
        "elmo": 2 * 10 * 768648884 * 568093262680 / (20.0 * 128),
        "xlnet": 2 * 500000 * 8192 * 15064773691518 / 32.0,
        "gpt": TransformerHparams(
            768, 12, v=40000, output_frac=1.0
        ).train_flops(128, 960800),
        "bert_small": TransformerHparams(256, 12, e=128, s=128).train_flops(
            128, 1.45e6
        ),
        "bert_base": TransformerHparams(768, 12).train_flops(256, 1e6),
        "bert_large": TransformerHparams(1024, 24).train_flops(256, 1e6),
        "electra_small": electra_train_flops(
            256, 12, 64, 12, 128, 1e6, True, s=128, e=128
        ),
        "electra_base": electra_train_flops(
            768, 12, 256, 12, 256, 766000, True
        ),
        "electra_400k": electra_train_flops(
            1024, 24, 256, 24, 2048, 400000, True
        ),
        "electra_1.75M": electra_train_flops(
            1024, 24, 256, 24, 2048, 1750000, True
        ),
        "roberta": TransformerHparams(1024, 24, v=50265).train_flops(
            8000, 500000
        ),
        "albert": TransformerHparams(4096, 12, v=30000, e=128).train_flops(
            4096, 1.5e6
        ),
        "t5_11b": TransformerHparams(
            1024, 24, output_frac=0.0, **t5
        ).train_flops(2048, 1e6)
        + TransformerHparams(
            1024, 24, output_frac=1.0, decoder=True, **t5
        ).train_flops(2048, 1e6),
    }


def encoder_matmul_flops(config, batch_size, seq_length):
    """Forward matmul FLOPs of an encoder (a `ModelConfig`) on [B, L]."""
    h = config.hidden_size
    e = config.embedding_size or h
    tokens = batch_size * seq_length
    per_layer = (
        2 * tokens * h * 3 * h  # query, key, value
        + 2 * 2 * tokens * seq_length * h  # scores and weighted values
        + 2 * tokens * h * h  # attention output
        + 2 * 2 * tokens * h * config.intermediate_size  # feed-forward
    )
    projection = 2 * tokens * e * h if e != h else 0
    return config.num_hidden_layers * per_layer + projection


def step_matmul_flops(
    disc_config, gen_config, batch_size, seq_length, num_predictions
):
    """Matmul FLOPs of one ELECTRA training step (forward and backward).

    Generator on all positions, its MLM head (dense and tied output
    embedding) at the `num_predictions` masked slots, discriminator and
    its head on all positions; the backward pass costs two matmuls per
    forward one. Gathers, softmaxes and element-wise work are not counted.
    """
    e = disc_config.embedding_size or disc_config.hidden_size
    slots = batch_size * num_predictions
    tokens = batch_size * seq_length
    forward = (
        encoder_matmul_flops(gen_config, batch_size, seq_length)
        + 2 * slots * gen_config.hidden_size * e  # generator_predictions dense
        + 2 * slots * e * disc_config.vocab_size  # output embedding
        + encoder_matmul_flops(disc_config, batch_size, seq_length)
        + 2 * tokens * disc_config.hidden_size**2  # discriminator dense
        + 2 * tokens * disc_config.hidden_size  # its logits
    )
    return 3 * forward


def main():
    for name, value in model_flops().items():
        print(name, value)
    print()
    print("inference FLOPs of one length-128 input:")
    for name, (h, e) in {
        "small": (256, 128),
        "base": (768, 768),
        "large": (1024, 1024),
    }.items():
        hparams = TransformerHparams(h, 24 if h == 1024 else 12, s=128, e=e)
        print(name, f"{hparams.infer_flops():.3e}")


if __name__ == "__main__":
    main()
