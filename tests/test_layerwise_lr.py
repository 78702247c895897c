"""Layer-wise learning rates of fine-tuning, measured on a 12-layer model
(model/optimization.py: _get_layer_lrs)."""

import re

import numpy as np
import pytest
import tensorflow as tf

from electra_tf.config import FinetuningConfig
from electra_tf.finetuning import runner
from electra_tf.optimization import create_optimizer_for


def _rate_factors(tmp_path, **hparams):
    """Each variable's observed rate / learning_rate after one Adam step."""
    hparams = dict(
        model_size="small",
        vocab_size=10,
        embedding_size=4,
        model_hparam_overrides=dict(
            hidden_size=8,
            num_hidden_layers=12,
            num_attention_heads=1,
            intermediate_size=8,
            max_position_embeddings=8,
        ),
        task_names=["rte"],
        max_seq_length=8,
        learning_rate=1e-3,
        weight_decay_rate=0.0,
        warmup_proportion=0.0,
        **hparams,
    )
    config = FinetuningConfig.from_hparams("m", str(tmp_path), hparams)

    class Task:
        name, head_type, num_labels = "rte", "classification", 2

    model = runner.build_model(config, [Task()])
    variables = model.trainable_variables
    optimizer = create_optimizer_for(config, 10**6, 12)
    for v in variables:  # from 0, so float32 keeps the small steps exact
        v.assign(tf.zeros_like(v))
    optimizer.apply([tf.ones_like(v) for v in variables], variables)
    # One step with g = 1: m = 0.1, v = 0.001, update = m / (sqrt(v) + eps).
    update = 0.1 / (np.sqrt(0.001) + 1e-6)
    factors = {}
    for v in variables:
        delta = -v.numpy().ravel()
        np.testing.assert_allclose(delta, delta[0], rtol=1e-3)
        factors[v.path] = delta[0] / (1e-3 * update)
    return factors


def _depth(path):
    if "task_specific/" in path:
        return 14
    match = re.search(r"encoder/layer_(\d+)/", path)
    return int(match.group(1)) + 1 if match else 0


def test_original_exponents_for_12_layers(tmp_path):
    factors = _rate_factors(tmp_path)
    assert len(factors) == 5 + 2 + 12 * 16 + 2  # embeddings, project, layers, head
    # The values of model/optimization.py: _get_layer_lrs for n = 12, decay 0.8.
    assert factors["task_specific/rte/dense/kernel"] == pytest.approx(1.0, rel=1e-4)
    assert factors["electra/encoder/layer_11/output/dense/kernel"] == pytest.approx(
        0.64, rel=1e-4
    )
    assert factors["electra/encoder/layer_0/attention/self/query/kernel"] == pytest.approx(
        0.0550, abs=5e-5
    )
    assert factors["electra/embeddings/word_embeddings"] == pytest.approx(0.0440, abs=5e-5)
    assert factors["electra/embeddings_project/kernel"] == pytest.approx(0.8**14, rel=1e-4)
    for path, factor in factors.items():
        assert factor == pytest.approx(0.8 ** (14 - _depth(path)), rel=1e-4), path


def test_corrected_exponents_option(tmp_path):
    factors = _rate_factors(tmp_path, layerwise_lr_decay_corrected=True)
    assert factors["task_specific/rte/dense/bias"] == pytest.approx(1.0, rel=1e-4)
    assert factors["electra/encoder/layer_11/output/dense/bias"] == pytest.approx(
        0.8, rel=1e-4
    )
    for path, factor in factors.items():
        depth = _depth(path)
        exponent = 0 if depth == 14 else 13 - depth
        assert factor == pytest.approx(0.8**exponent, rel=1e-4), path
