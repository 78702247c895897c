"""Tests for electra_tf.flops: the FLOPs printed by the original's
flops_computation.py."""

import doctest
import subprocess
import sys

import pytest

from electra_tf import flops
from electra_tf.config import ModelConfig


@pytest.mark.parametrize(
    "name, expected",
    [
        ("electra_small", 1.2937e18),
        ("electra_base", 6.4245e19),
        ("electra_1.75M", 3.1140e21),
        ("bert_small", 1.4187e18),
        ("gpt", 3.9688e19),
        ("t5_11b", 4.5819e22),
    ],
)
def test_train_flops_match_the_original_to_four_digits(name, expected):
    assert float(f"{flops.model_flops()[name]:.4e}") == expected


@pytest.mark.parametrize(
    "h, l, e, expected", [(256, 12, 128, 3.68e9), (768, 12, 768, 2.86e10)]
)
def test_inference_flops_of_a_length_128_input(h, l, e, expected):
    hparams = flops.TransformerHparams(h, l, s=128, e=e)
    assert float(f"{hparams.infer_flops():.2e}") == expected


def test_step_matmul_flops_of_a_small_step_by_hand():
    # One layer each, H=4 (I=8), generator H=2 (I=4), E=4, V=10, B=1, L=3,
    # N=2. Encoder: L*H*3H*2 + 2*2*L*L*H + 2*L*H*H + 4*L*H*I.
    shared = dict(num_hidden_layers=1, num_attention_heads=1, embedding_size=4)
    disc = ModelConfig(10, hidden_size=4, intermediate_size=8, **shared)
    gen = ModelConfig(10, hidden_size=2, intermediate_size=4, **shared)
    disc_encoder = 288 + 144 + 96 + 384
    gen_encoder = 72 + 72 + 24 + 96 + 2 * 3 * 4 * 2  # + projection 4 -> 2
    heads = 2 * 2 * 2 * 4 + 2 * 2 * 4 * 10 + 2 * 3 * 16 + 2 * 3 * 4
    expected = 3 * (disc_encoder + gen_encoder + heads)
    assert flops.step_matmul_flops(disc, gen, 1, 3, 2) == expected


def test_module_prints_the_table():
    out = subprocess.run(
        [sys.executable, "-m", "electra_tf.flops"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "electra_small 1.293743798272e+18" in out
    assert "small 3.677e+09" in out


def test_docstring_examples_run():
    finder, runner = doctest.DocTestFinder(), doctest.DocTestRunner()
    for test in finder.find(flops, globs=vars(flops)):
        runner.run(test)
    assert runner.failures == 0 and runner.tries >= 1
