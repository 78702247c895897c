"""Encoder and pretrainer: NumPy parity, every variant's variable layout,
parameter counts of the released sizes, and serialization."""

import numpy as np
import pytest

import numpy_reference as ref
from electra_tf.config import PretrainingConfig
from electra_tf.models.encoder import Encoder
from electra_tf.models.pretrainer import ElectraPretrainer
from helpers import (
    assert_layer_round_trip,
    encoder_batch,
    randomize_weights,
    tiny_config,
    tiny_model_config,
)


def tiny_pretrainer(**changes):
    config = tiny_config(max_position_embeddings=16, **changes)
    model = ElectraPretrainer(config)
    randomize_weights(model, seed=3)
    return model


def names(model):
    return sorted({v.path for v in model.weights})


@pytest.mark.parametrize("causal", [None, "ltr"])
def test_encoder_matches_numpy_with_padding_and_segments(causal):
    config = tiny_model_config(
        num_attention_heads=4, intermediate_size=40, max_position_embeddings=16
    )
    encoder = Encoder(config, causal=causal)
    randomize_weights(encoder)
    batch = encoder_batch()
    out = encoder(batch)
    emb, seq = ref.encoder(
        ref.weights_of(encoder), "electra", config.to_dict(), causal=causal, **batch
    )
    np.testing.assert_allclose(out["embedding_output"], emb, atol=1e-5)
    np.testing.assert_allclose(out["sequence_output"], seq, atol=1e-5)
    np.testing.assert_array_equal(out["pooled_output"], out["sequence_output"][:, 0])
    assert len(out["all_layer_outputs"]) == 2
    np.testing.assert_array_equal(out["all_layer_outputs"][-1], out["sequence_output"])


def test_pretrainer_matches_numpy():
    model = tiny_pretrainer()
    batch = encoder_batch(seed=4, length=9)
    positions = np.array([[1, 3], [2, 2], [0, 1]], "int32")  # duplicates, 0
    gen_ids = batch["input_ids"].copy()
    gen_ids[:, 1] = 4
    out = model.inference(gen_input_ids=gen_ids, masked_lm_positions=positions, **batch)
    w = ref.weights_of(model)
    cfg = model.config
    emb, seq = ref.encoder(w, "electra", {"num_hidden_layers": 2, "num_attention_heads": 2}, **batch)
    _, gen_seq = ref.encoder(
        w, "generator", {"num_hidden_layers": 2, "num_attention_heads": 1},
        gen_ids, batch["input_mask"], batch["segment_ids"],
    )
    gen_logits = ref.mlm_logits(
        w, "generator_predictions", ref.gather(gen_seq, positions),
        w["electra/embeddings/word_embeddings"],
    )
    np.testing.assert_allclose(out["disc_embedding_output"], emb, atol=1e-5)
    np.testing.assert_allclose(out["disc_sequence_output"], seq, atol=1e-5)
    np.testing.assert_allclose(out["disc_logits"], ref.discriminator_logits(w, seq), atol=1e-5)
    np.testing.assert_allclose(out["gen_sequence_output"], gen_seq, atol=1e-5)
    np.testing.assert_allclose(out["gen_logits"], gen_logits, atol=1e-5)
    assert cfg.generator_config().hidden_size == 16


def test_electric_two_tower_matches_numpy():
    model = tiny_pretrainer(electra_objective=False, electric_objective=True)
    batch = encoder_batch(seed=5, length=7)
    positions = np.array([[1, 2], [3, 1], [2, 0]], "int32")
    out = model.generator_outputs(batch, positions)
    w = ref.weights_of(model)
    cfg = {"num_hidden_layers": 2, "num_attention_heads": 1}
    _, ltr = ref.encoder(w, "generator_ltr", cfg, causal="ltr", **batch)
    _, rtl = ref.encoder(w, "generator_rtl", cfg, causal="rtl", **batch)
    # Cyclic shifts: position i sees the left tower at i-1, the right at i+1.
    seq = np.concatenate([np.roll(ltr, 1, axis=1), np.roll(rtl, -1, axis=1)], -1)
    # Right-tower queries at padding see no key; there float32 keeps ~1e-3
    # of the -10000-offset scores (as the original): compare those loosely.
    sees_a_key = ref.attention_mask(batch["input_mask"], "rtl").max(-1) > 0
    exact = np.roll(sees_a_key, -1, axis=1)
    np.testing.assert_allclose(
        np.asarray(out["sequence_output"])[exact], seq[exact], atol=1e-5
    )
    np.testing.assert_allclose(out["sequence_output"], seq, atol=1e-3)
    logits = ref.mlm_logits(
        w, "cloze_predictions", ref.gather(seq, positions),
        w["electra/embeddings/word_embeddings"],
    )
    exact_slots = ref.gather(exact, positions)
    np.testing.assert_allclose(
        np.asarray(out["logits"])[exact_slots], logits[exact_slots], atol=1e-5
    )
    assert exact_slots.sum() >= 4



@pytest.mark.parametrize(
    "changes, scopes",
    [
        ({}, {"electra", "generator", "generator_predictions", "discriminator_predictions"}),
        ({"untied_generator": False}, {"electra", "generator_predictions", "discriminator_predictions"}),
        ({"electra_objective": False}, {"electra", "generator_predictions"}),
        ({"uniform_generator": True}, {"electra", "discriminator_predictions"}),
        (
            {"electra_objective": False, "electric_objective": True},
            {"electra", "generator_ltr", "generator_rtl", "cloze_predictions", "discriminator_predictions"},
        ),
    ],
)
def test_variant_scopes_follow_the_original(changes, scopes):
    model = tiny_pretrainer(**changes)
    assert {n.split("/")[0] for n in names(model)} == scopes
    # Embeddings are shared: exactly one word table, under electra/.
    assert [n for n in names(model) if n.endswith("word_embeddings")] == [
        "electra/embeddings/word_embeddings"
    ]


def test_tied_generator_is_the_discriminator_network():
    model = tiny_pretrainer(untied_generator=False)
    assert model.generator is model.discriminator
    assert model.generator_predictions.dense.kernel.shape == (32, 16)


def test_untied_generator_embeddings_have_generator_width():
    model = tiny_pretrainer(untied_generator_embeddings=True)
    table = {v.path: tuple(v.shape) for v in model.weights}
    assert table["generator/embeddings/word_embeddings"] == (99, 16)
    assert "generator/embeddings_project/kernel" not in table
    assert table["generator_predictions/dense/kernel"] == (16, 16)
    assert table["electra/embeddings_project/kernel"] == (16, 32)


def _count(model):
    return sum(int(np.prod(v.shape)) for v in model.trainable_weights)


@pytest.mark.parametrize(
    "generator_hidden_size, total, generator_shape",
    [(0.25, 14_196_219, (128, 64)), (1.0, 23_122_875, (128, 256))],
)
def test_small_parameter_counts_match_the_original(
    generator_hidden_size, total, generator_shape
):
    """Counts of the checkpoint run_pretraining.py writes: default small
    (Hg 64) and the released layout (Hg 256)."""
    config = PretrainingConfig.from_hparams(
        "small", "/tmp", {"generator_hidden_size": generator_hidden_size}
    )
    model = ElectraPretrainer(config)
    assert _count(model) == total
    table = {v.path: tuple(v.shape) for v in model.weights}
    assert table["generator/embeddings_project/kernel"] == generator_shape
    assert table["electra/embeddings/word_embeddings"] == (30522, 128)
    assert table["electra/embeddings/position_embeddings"] == (512, 128)
    assert len([n for n in table if n.startswith("generator/encoder/layer_11/")]) == 16


def test_encoder_round_trips_config_and_keras_file():
    config = tiny_model_config(
        hidden_size=16, num_hidden_layers=1, intermediate_size=24,
        embedding_size=8, max_position_embeddings=16,
    )
    encoder = Encoder(config, causal="rtl")
    randomize_weights(encoder)
    assert_layer_round_trip(encoder, encoder_batch())


@pytest.mark.parametrize("changes", [{}, {"electra_objective": False, "electric_objective": True}])
def test_pretrainer_round_trips_config_and_keras_file(changes):
    model = tiny_pretrainer(**changes)
    batch = encoder_batch(seed=6, length=8)
    inputs = dict(batch, gen_input_ids=batch["input_ids"],
                  masked_lm_positions=np.array([[1, 2], [3, 3], [1, 0]], "int32"))
    assert_layer_round_trip(model, inputs)
