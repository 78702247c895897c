"""Tests for electra_tf.optimization: hand-computed updates and rates
(model/optimization.py: create_optimizer, AdamWeightDecayOptimizer,
_get_layer_lrs)."""

import doctest

import keras
import numpy as np
import pytest
import tensorflow as tf

from electra_tf import optimization
from electra_tf.training.loop import clip_by_global_norm
from electra_tf.optimization import (
    AdamWeightDecay,
    WarmupPolynomialDecay,
    create_optimizer,
    layerwise_lr_multiplier,
)


def scoped_variable(path, value):
    """A keras.Variable whose `.path` is `path` (Keras rejects '/' in names)."""
    parts = path.split("/")

    def make(i):
        if i == len(parts) - 1:
            return keras.Variable(np.array(value, np.float32), name=parts[-1])
        with keras.name_scope(parts[i]):
            return make(i + 1)

    return make(0)


def numpy_adam_weight_decay(theta, grads, lrs, decay, exclude):
    """The original update (model/optimization.py:
    AdamWeightDecayOptimizer._apply_gradients) in NumPy, one step per
    gradient."""
    m = np.zeros_like(theta)
    v = np.zeros_like(theta)
    for g, lr in zip(grads, lrs):
        m = 0.9 * m + 0.1 * g
        v = 0.999 * v + 0.001 * g * g
        u = m / (np.sqrt(v) + 1e-6)
        if not exclude:
            u = u + decay * theta
        theta = theta - lr * u
    return theta, m, v


def test_docstring_examples_run():
    finder, runner = doctest.DocTestFinder(), doctest.DocTestRunner()
    for test in finder.find(optimization, globs=vars(optimization)):
        runner.run(test)
    assert runner.failures == 0 and runner.tries >= 14


@pytest.mark.parametrize(
    "step, expected",
    [(0, 0.0), (5, 1e-3 * 0.95 * 0.5), (10, 1e-3 * 0.9), (50, 5e-4), (99, 1e-5), (100, 0.0), (150, 0.0)],
)
def test_schedule_linear_with_multiplying_warmup(step, expected):
    schedule = WarmupPolynomialDecay(1e-3, 100, warmup_steps=10)
    assert float(schedule(step)) == pytest.approx(expected, rel=1e-5, abs=1e-12)


def test_schedule_power_and_warmup_proportion():
    # W = max(100 * 0.2, 5) = 20; power 2
    schedule = WarmupPolynomialDecay(
        2e-3, 100, warmup_steps=5, warmup_proportion=0.2, power=2.0
    )
    assert float(schedule(10)) == pytest.approx(2e-3 * 0.9**2 * 0.5, rel=1e-6)
    assert float(schedule(60)) == pytest.approx(2e-3 * 0.4**2, rel=1e-6)
    assert float(WarmupPolynomialDecay(1e-3, 100)(0)) == pytest.approx(1e-3)
    again = keras.optimizers.schedules.deserialize(
        keras.optimizers.schedules.serialize(schedule)
    )
    assert again.get_config() == schedule.get_config()


def test_adam_weight_decay_two_steps_match_numpy():
    kernel0 = np.array([[0.5, -1.0], [2.0, 0.25]], np.float32)
    bias0 = np.array([0.3, -0.2], np.float32)
    gamma0 = np.array([1.0, 1.0], np.float32)
    kernel = scoped_variable("electra/encoder/layer_0/output/dense/kernel", kernel0)
    bias = scoped_variable("electra/encoder/layer_0/output/dense/bias", bias0)
    gamma = scoped_variable("electra/encoder/layer_0/output/LayerNorm/gamma", gamma0)
    table = scoped_variable("electra/embeddings/word_embeddings", kernel0)
    opt = AdamWeightDecay(0.01, weight_decay_rate=0.1)
    grads = {
        "k": [np.array([[0.1, -0.2], [0.3, 0.0]]), np.array([[-0.05, 0.4], [0.2, 1.0]])],
        "b": [np.array([1.0, -2.0]), np.array([0.5, 0.5])],
    }
    for step in range(2):
        g_k = tf.constant(grads["k"][step], tf.float32)
        g_b = tf.constant(grads["b"][step], tf.float32)
        opt.apply([g_k, g_b, g_b, g_k], [kernel, bias, gamma, table])
    lrs = [0.01, 0.01]
    want_k, want_m, want_v = numpy_adam_weight_decay(kernel0, grads["k"], lrs, 0.1, False)
    np.testing.assert_allclose(kernel.numpy(), want_k, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(table.numpy(), want_k, rtol=1e-6, atol=1e-7)
    want_b, _, _ = numpy_adam_weight_decay(bias0, grads["b"], lrs, 0.1, True)
    np.testing.assert_allclose(bias.numpy(), want_b, rtol=1e-6, atol=1e-7)
    want_g, _, _ = numpy_adam_weight_decay(gamma0, grads["b"], lrs, 0.1, True)
    np.testing.assert_allclose(gamma.numpy(), want_g, rtol=1e-6, atol=1e-7)
    slots = opt.original_slot_names()
    assert sorted(slots) == sorted(
        f"{v.path}/adam_{s}" for v in (kernel, bias, gamma, table) for s in "mv"
    )
    np.testing.assert_allclose(
        slots["electra/encoder/layer_0/output/dense/kernel/adam_m"].numpy(), want_m, rtol=1e-6
    )
    np.testing.assert_allclose(
        slots["electra/encoder/layer_0/output/dense/kernel/adam_v"].numpy(), want_v, rtol=1e-6
    )
    assert int(opt.iterations.numpy()) == 2


def test_first_step_without_bias_correction_by_hand():
    w = scoped_variable("dense/kernel", [1.0])
    opt = AdamWeightDecay(1e-3, weight_decay_rate=0.01)
    opt.apply([tf.constant([0.5])], [w])
    # m = .05, v = .00025, u = .05 / (.0158114 + 1e-6) + .01 * 1 = 3.172068
    assert float(w.numpy()[0]) == pytest.approx(1.0 - 1e-3 * 3.172068, abs=1e-7)


def test_optimizer_follows_schedule_from_step_zero():
    w = scoped_variable("dense/kernel", [1.0, 2.0])
    opt = create_optimizer(1e-2, num_train_steps=10, warmup_steps=4)
    g = np.array([0.3, -0.6], np.float32)
    for _ in range(3):
        opt.apply([tf.constant(g)], [w])
    # rates at steps 0, 1, 2: 0, 1e-2 * .9 * .25, 1e-2 * .8 * .5
    lrs = [0.0, 1e-2 * 0.9 * 0.25, 1e-2 * 0.8 * 0.5]
    want, _, _ = numpy_adam_weight_decay(np.array([1.0, 2.0]), [g] * 3, lrs, 0.0, True)
    np.testing.assert_allclose(w.numpy(), want, rtol=1e-6)
    assert float(opt.learning_rate) == pytest.approx(1e-2 * 0.7 * 0.75, rel=1e-6)


def test_under_loss_scale_optimizer_same_update():
    w1 = scoped_variable("a/kernel", [1.0, -1.0])
    w2 = scoped_variable("a/kernel", [1.0, -1.0])
    plain = AdamWeightDecay(1e-2, weight_decay_rate=0.01)
    scaled = keras.optimizers.LossScaleOptimizer(
        AdamWeightDecay(1e-2, weight_decay_rate=0.01), initial_scale=1024.0
    )
    g = tf.constant([0.2, 0.7])
    plain.apply([g], [w1])
    scaled.apply([g * 1024.0], [w2])
    np.testing.assert_allclose(w2.numpy(), w1.numpy(), rtol=1e-7)
    before = w2.numpy()
    scaled.apply([tf.constant([np.inf, 0.0])], [w2])  # skipped, scale halved
    np.testing.assert_array_equal(w2.numpy(), before)
    assert float(scaled.dynamic_scale.numpy()) == 512.0


def test_clip_by_global_norm():
    grads = [tf.constant([3.0]), None, tf.constant([[4.0, 0.0]])]
    clipped, norm = clip_by_global_norm(grads)
    assert float(norm) == pytest.approx(5.0)
    assert clipped[1] is None
    np.testing.assert_allclose(clipped[0], [0.6])
    np.testing.assert_allclose(clipped[2], [[0.8, 0.0]])
    small = [tf.constant([0.3, 0.4])]
    np.testing.assert_allclose(clip_by_global_norm(small)[0][0], [0.3, 0.4])
    bad, _ = clip_by_global_norm([tf.constant([np.inf, 1.0])])
    assert np.all(np.isnan(bad[0].numpy()))


def test_layerwise_rates_original_12_layers():
    n, d = 12, 0.8
    rate = lambda p, **kw: layerwise_lr_multiplier(p, n, d, **kw)
    assert rate("task_specific/rte/dense/kernel") == 1.0
    assert rate("electra/encoder/layer_11/output/dense/kernel") == pytest.approx(0.64)
    assert rate("electra/encoder/layer_0/attention/self/query/bias") == pytest.approx(0.0550, abs=5e-5)
    assert rate("electra/embeddings/word_embeddings") == pytest.approx(0.0440, abs=5e-5)
    assert rate("electra/embeddings_project/kernel") == pytest.approx(0.8**14)
    assert rate("electra/encoder/layer_1/output/LayerNorm/beta") == pytest.approx(0.8**12)
    # corrected: top layer decay^1, layer k decay^(n - k), embeddings decay^(n + 1)
    assert rate("electra/encoder/layer_11/x/kernel", corrected=True) == pytest.approx(0.8)
    assert rate("electra/encoder/layer_0/x/kernel", corrected=True) == pytest.approx(0.8**12)
    assert rate("electra/embeddings/LayerNorm/gamma", corrected=True) == pytest.approx(0.8**13)
    assert rate("task_specific/sts/dense/bias", corrected=True) == 1.0
    with pytest.raises(ValueError, match="generator_predictions/output_bias"):
        rate("generator_predictions/output_bias")


def test_layerwise_rates_applied_per_variable():
    paths = [
        "electra/embeddings/word_embeddings",
        "electra/encoder/layer_0/output/dense/kernel",
        "electra/encoder/layer_1/output/dense/kernel",
        "task_specific/rte/dense/kernel",
    ]
    variables = [scoped_variable(p, [1.0]) for p in paths]
    opt = AdamWeightDecay(0.1, layerwise_lr_decay_power=0.5, n_transformer_layers=2)
    opt.apply([tf.constant([1.0])] * 4, variables)
    # first step: u = .1 / (sqrt(.001) + 1e-6) per unit gradient
    u = 0.1 / (np.sqrt(0.001) + 1e-6)
    for variable, exponent in zip(variables, [4, 3, 2, 0]):
        assert float(variable.numpy()[0]) == pytest.approx(1 - 0.1 * 0.5**exponent * u, rel=1e-6)
    bad = AdamWeightDecay(0.1, layerwise_lr_decay_power=0.5, n_transformer_layers=2)
    with pytest.raises(ValueError, match="No learning rate specified.*pooler/dense"):
        bad.build([scoped_variable("pooler/dense/kernel", [1.0])])


def test_config_round_trip_and_bad_arguments():
    opt = create_optimizer(5e-4, 1000, weight_decay_rate=0.01, warmup_steps=100)
    again = AdamWeightDecay.from_config(opt.get_config())
    assert again.get_config() == opt.get_config()
    # by its registered name, as a saved model's compile config holds it
    named = keras.optimizers.deserialize(keras.optimizers.serialize(opt))
    assert type(named) is AdamWeightDecay
    assert named.get_config() == opt.get_config()
    assert again.epsilon == 1e-6 and again.exclude_from_weight_decay == ("LayerNorm", "layer_norm", "bias")
    with pytest.raises(ValueError, match="weight_decay_rate"):
        AdamWeightDecay(1e-3, weight_decay=0.1)
    with pytest.raises(ValueError, match="n_transformer_layers"):
        AdamWeightDecay(1e-3, layerwise_lr_decay_power=0.8)


def test_sparse_embedding_gradient_updates_densely():
    emb = keras.layers.Embedding(4, 2)
    emb.build((None,))
    before = emb.embeddings.numpy()
    with tf.GradientTape() as tape:
        y = tf.reduce_sum(emb(tf.constant([1, 1, 3])))
    grads, norm = clip_by_global_norm(tape.gradient(y, emb.trainable_variables))
    assert float(norm) == pytest.approx(np.sqrt(4 * 2 + 1 * 2))
    AdamWeightDecay(0.1, weight_decay_rate=0.01).apply(grads, emb.trainable_variables)
    g = np.zeros([4, 2], np.float32)
    g[1], g[3] = 2 / np.sqrt(10), 1 / np.sqrt(10)
    # rows without gradient still decay: dense update, as the original
    want, _, _ = numpy_adam_weight_decay(before, [g], [0.1], 0.01, False)
    np.testing.assert_allclose(emb.embeddings.numpy(), want, rtol=1e-5, atol=1e-7)
