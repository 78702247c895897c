"""Each layer against the NumPy reference (1e-5) and through serialization."""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

import numpy_reference as ref
from electra_tf.layers.activations import compiled_gelu, gelu, get_activation
from electra_tf.layers.attention import SelfAttention
from electra_tf.layers.dense import Dense
from electra_tf.layers.dropout import Dropout
from electra_tf.layers.embeddings import Embeddings
from electra_tf.layers.heads import DiscriminatorHead, MaskedLMHead
from electra_tf.layers.layer_norm import LayerNorm
from electra_tf.layers.transformer import TransformerLayer
from helpers import assert_layer_round_trip, encoder_batch, randomize_weights

ATOL = 1e-5


def _weights(layer, prefix):
    """Layer weights keyed as `<prefix>/<path below the layer>`."""
    return {
        prefix + "/" + v.path.split("/", 1)[1]: np.asarray(v, np.float64)
        for v in layer.weights
    }


def test_gelu_is_the_exact_erf_form():
    x = np.linspace(-6, 6, 101).astype("float32")
    np.testing.assert_allclose(gelu(x), ref.gelu(x.astype(float)), atol=1e-6)
    # The tanh approximation differs by ~1e-3 here; erf gelu(1) = 0.841345.
    np.testing.assert_allclose(gelu(np.float32(1.0)), 0.8413447, atol=1e-6)


def test_gelu_gradient_is_the_derivative_of_the_erf_form():
    x = tf.constant(np.linspace(-6, 6, 101), tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = gelu(x)
    x64 = x.numpy().astype(float)
    cdf = 0.5 * (1.0 + np.vectorize(math.erf)(x64 / math.sqrt(2.0)))
    pdf = np.exp(-0.5 * x64**2) / math.sqrt(2.0 * math.pi)
    np.testing.assert_allclose(tape.gradient(y, x), cdf + x64 * pdf, atol=1e-6)


def _xla_calls(fn, *args):
    """Names of the XLA-compiled functions fn's graph calls."""
    graph = tf.function(fn).get_concrete_function(*args).graph
    return sorted(
        op.get_attr("f").name.removeprefix("__inference_").rsplit("_", 1)[0]
        for op in graph.get_operations()
        if op.type in ("PartitionedCall", "StatefulPartitionedCall")
        and op.get_attr("_XlaMustCompile")
    )


def test_training_gelu_is_compiled_and_matches():
    x = tf.constant(np.linspace(-6, 6, 101), tf.float32)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        plain, compiled = gelu(x), compiled_gelu(x)
    np.testing.assert_allclose(compiled, plain, atol=1e-6)
    np.testing.assert_allclose(
        tape.gradient(compiled, x), tape.gradient(plain, x), atol=1e-6
    )
    # A transformer block compiles its GELU and both LayerNorms in training
    # only: Keras passes `training` down to the inner layers.
    block = TransformerLayer(8, 2, 16, name="layer_0")
    inputs = (tf.ones([2, 3, 8]), tf.ones([2, 3, 3]))
    block(*inputs)

    def run(training):
        return lambda x, m: block(x, m, training=training)

    assert _xla_calls(run(True), *inputs) == [
        "_compiled_forward", "_layer_norm_forward", "_layer_norm_forward"
    ]
    assert _xla_calls(run(False), *inputs) == []


def test_training_gelu_in_bfloat16_rounds_once():
    x = tf.cast(tf.constant(np.linspace(-6, 6, 1001), tf.float32), tf.bfloat16)
    x32 = tf.cast(x, tf.float32)
    got = tf.cast(compiled_gelu(x), tf.float32).numpy()
    # float32 inside, one rounding to bfloat16 (8 significant bits) at the
    # end; far in the left tail both forms are float32 noise (1 - erf).
    np.testing.assert_allclose(got, gelu(x32), rtol=2.0**-8, atol=2e-6)
    with tf.GradientTape() as tape:
        tape.watch(x32)
        y = gelu(x32)
    with tf.GradientTape() as tape16:
        tape16.watch(x)
        y16 = compiled_gelu(x)
    np.testing.assert_allclose(
        tf.cast(tape16.gradient(y16, x), tf.float32),
        tape.gradient(y, x32),
        rtol=2.0**-8,
        atol=2e-6,
    )


def _layer_norm_pass(layer, x, training):
    """Output and gradients (x, gamma, beta) of a weighted sum of it."""
    weights = np.random.default_rng(3).normal(size=x.shape)
    weights = tf.constant(weights, tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x, training=training) if training else layer(x)
        loss = tf.reduce_sum(tf.cast(y, tf.float32) * weights)
    grads = tape.gradient(loss, [x, layer.gamma, layer.beta])
    return [tf.cast(v, tf.float32).numpy() for v in [y] + grads]


@pytest.mark.parametrize("policy", ["float32", "mixed_bfloat16"])
def test_training_layer_norm_matches_keras(policy):
    # Rows far from zero mean and unit scale, where a careless variance
    # formula loses digits.
    x = np.random.default_rng(1).normal(3.0, 5.0, size=(4, 6, 32))
    x = tf.constant(x, tf.float32)
    keras.mixed_precision.set_global_policy(policy)
    try:
        ours = LayerNorm(epsilon=1e-12, name="LayerNorm")
        theirs = keras.layers.LayerNormalization(epsilon=1e-12)
        ours.build(x.shape)
        theirs.build(x.shape)
        randomize_weights(ours, seed=2)
        theirs.set_weights(ours.get_weights())
        got = _layer_norm_pass(ours, x, training=True)
        want = _layer_norm_pass(theirs, x, training=False)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    paths = [v.path for v in ours.weights]
    assert paths == ["LayerNorm/gamma", "LayerNorm/beta"]
    # float32 statistics in both; bfloat16 rounds the output and dy once.
    tol = 1e-5 if policy == "float32" else 2.0**-7
    want_y = ref.layer_norm(x.numpy().astype(float), *ours.get_weights())
    np.testing.assert_allclose(got[0], want_y, rtol=tol, atol=tol * 4)
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol * np.abs(b).max())


def test_layer_norm_refuses_other_forms_and_round_trips():
    with pytest.raises(ValueError, match="last axis with gamma and beta"):
        LayerNorm(axis=1).build((2, 3, 4))
    with pytest.raises(ValueError, match="last axis with gamma and beta"):
        LayerNorm(center=False).build((2, 3, 4))
    layer = LayerNorm(epsilon=1e-12, name="LayerNorm")
    layer.build((None, 3, 4))
    randomize_weights(layer, seed=5)
    assert_layer_round_trip(layer, [np.ones((2, 3, 4), "float32")])


def test_dense_is_keras_dense_on_flattened_rows():
    ours = Dense(5, activation=gelu, name="dense")
    theirs = keras.layers.Dense(5, activation=gelu, name="dense")
    x = np.random.default_rng(13).normal(size=(2, 3, 4)).astype("float32")
    ours.build((None, None, 4))
    theirs.build((None, None, 4))
    randomize_weights(ours, seed=14)
    theirs.set_weights(ours.get_weights())
    assert [v.path for v in ours.weights] == ["dense/kernel", "dense/bias"]
    np.testing.assert_allclose(ours(x), theirs(x), atol=1e-6)


def test_get_activation_names_and_errors():
    assert get_activation("GELU") is gelu
    assert get_activation("linear") is None and get_activation(None) is None
    with pytest.raises(ValueError, match="Unsupported activation 'swish'"):
        get_activation("swish")


def test_embeddings_match_numpy_with_padding_and_segments():
    layer = Embeddings(99, 8, max_position_embeddings=16, name="embeddings")
    layer.build()
    randomize_weights(layer)
    batch = encoder_batch()
    got = layer(batch["input_ids"], batch["segment_ids"])
    want = ref.embeddings(
        _weights(layer, "embeddings"), "embeddings",
        batch["input_ids"], batch["segment_ids"],
    )
    np.testing.assert_allclose(got, want, atol=ATOL)
    assert [v.path for v in layer.weights] == [
        "embeddings/word_embeddings",
        "embeddings/token_type_embeddings",
        "embeddings/position_embeddings",
        "embeddings/LayerNorm/gamma",
        "embeddings/LayerNorm/beta",
    ]
    assert layer.layer_norm.epsilon == 1e-12


def test_embeddings_reject_sequences_longer_than_positions():
    layer = Embeddings(99, 8, max_position_embeddings=4)
    with pytest.raises(ValueError, match="exceeds max_position_embeddings 4"):
        layer(np.ones((1, 5), "int32"), np.zeros((1, 5), "int32"))


@pytest.mark.parametrize("causal", [None, "ltr", "rtl"])
def test_self_attention_matches_numpy_including_padded_queries(causal):
    layer = SelfAttention(16, 4, name="attention")
    layer.build()
    randomize_weights(layer, seed=1)
    batch = encoder_batch(seed=1)
    x = np.random.default_rng(2).normal(size=(3, 9, 16)).astype("float32")
    mask = ref.attention_mask(batch["input_mask"], causal)
    got = layer(x, mask.astype("float32"))
    want = ref.self_attention(
        _weights(layer, "attention"), "attention", x.astype(float), mask, 4
    )
    # A query that sees no key at all (a padded position under `rtl`) has
    # every score offset by -10000, where float32 keeps only ~1e-3 of the
    # score: the original computes the same rounded values.
    sees_a_key = mask.max(-1) > 0  # [B, L]
    np.testing.assert_allclose(
        np.asarray(got)[sees_a_key], want[sees_a_key], atol=ATOL
    )
    np.testing.assert_allclose(got, want, atol=1e-3)


def test_attention_ignores_padded_keys():
    layer = SelfAttention(8, 2)
    layer.build()
    randomize_weights(layer, seed=3)
    x = np.random.default_rng(4).normal(size=(1, 6, 8)).astype("float32")
    mask = ref.attention_mask(np.array([[1, 1, 1, 1, 0, 0]]))
    changed = x.copy()
    changed[:, 4:] = -x[:, 4:]  # padding content must not reach real positions
    a = np.asarray(layer(x, mask.astype("float32")))
    b = np.asarray(layer(changed, mask.astype("float32")))
    np.testing.assert_allclose(a[:, :4], b[:, :4], atol=1e-6)
    assert np.abs(a[:, 4:] - b[:, 4:]).max() > 1e-2


def test_transformer_layer_matches_numpy():
    layer = TransformerLayer(16, 2, 24, name="layer_0")
    layer.build()
    randomize_weights(layer, seed=5)
    batch = encoder_batch(seed=5)
    x = np.random.default_rng(6).normal(size=(3, 9, 16)).astype("float32")
    mask = ref.attention_mask(batch["input_mask"])
    got = layer(x, mask.astype("float32"))
    want = ref.transformer_layer(
        _weights(layer, "layer_0"), "layer_0", x.astype(float), mask, 2
    )
    np.testing.assert_allclose(got, want, atol=ATOL)


def test_masked_lm_head_matches_numpy():
    head = MaskedLMHead(16, 8, 30, name="generator_predictions")
    head.build()
    randomize_weights(head, seed=7)
    rng = np.random.default_rng(8)
    hidden = rng.normal(size=(2, 3, 16)).astype("float32")
    table = rng.normal(size=(30, 8)).astype("float32")
    got = head(hidden, table)
    want = ref.mlm_logits(
        _weights(head, "generator_predictions"), "generator_predictions",
        hidden.astype(float), table.astype(float),
    )
    np.testing.assert_allclose(got, want, atol=ATOL)


def test_discriminator_head_matches_numpy_and_uses_glorot_for_dense_1():
    head = DiscriminatorHead(16, name="discriminator_predictions")
    head.build()
    # Glorot uniform bound sqrt(6 / (16 + 1)) = 0.594 vs truncated normal 0.04.
    assert np.abs(np.asarray(head.dense_1.kernel)).max() > 0.1
    assert np.abs(np.asarray(head.dense.kernel)).max() <= 0.04 + 1e-7
    randomize_weights(head, seed=9)
    x = np.random.default_rng(10).normal(size=(2, 5, 16)).astype("float32")
    want = ref.discriminator_logits(
        _weights(head, "discriminator_predictions"), x.astype(float)
    )
    np.testing.assert_allclose(head(x), want, atol=ATOL)


def test_layers_round_trip_config_and_keras_file():
    rng = np.random.default_rng(12)
    batch = encoder_batch()
    x = rng.normal(size=(3, 9, 16)).astype("float32")
    mask = ref.attention_mask(batch["input_mask"]).astype("float32")
    cases = [
        (Embeddings(99, 8, 16), [batch["input_ids"], batch["segment_ids"]]),
        (SelfAttention(16, 4), [x, mask]),
        (TransformerLayer(16, 2, 24), [x, mask]),
        (DiscriminatorHead(16), [x]),
        (
            MaskedLMHead(16, 8, 30),
            [x[:, :3], rng.normal(size=(30, 8)).astype("float32")],
        ),
    ]
    for layer, inputs in cases:
        layer.build()
        randomize_weights(layer, seed=11)
        assert_layer_round_trip(layer, inputs)


def test_dropout_rate_scale_seed_and_gradient():
    layer = Dropout(0.1, seed=3)
    x = tf.ones([400, 500])
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x, training=True)
        loss = tf.reduce_sum(y * tf.range(500, dtype=tf.float32))
    out = y.numpy()
    # Kept values are scaled by 1 / 0.9; a share of 6554 / 65536 (the rate
    # rounded to 16 bits) is dropped.
    np.testing.assert_allclose(np.unique(out), [0.0, 1 / 0.9], rtol=1e-6)
    assert abs((out == 0).mean() - 6554 / 65536) < 0.003
    # The gradient passes exactly where the value was kept.
    grad = tape.gradient(loss, x).numpy()
    np.testing.assert_allclose(grad, out * np.arange(500), rtol=1e-5)
    # Each call draws a new mask; inference is the identity.
    assert (layer(x, training=True).numpy() != out).any()
    np.testing.assert_array_equal(layer(x, training=False), x)
    # The mask depends only on the seed generator's state (resumable).
    twin = Dropout(0.1, seed=3)
    np.testing.assert_array_equal(twin(x, training=True), out)
    restored = Dropout.from_config(layer.get_config())
    assert restored.rate == 0.1 and restored.seed == 3
