"""The pre-training objective against a NumPy statement of the original's
formulas (pretrain/pretrain_helpers.py: mask, scatter_update;
run_pretraining.py: PretrainingModel), for every objective and generator
variant."""

import doctest
import math

import numpy as np
import pytest
import tensorflow as tf

import numpy_reference as ref
from electra_tf.models.pretrainer import ElectraPretrainer
from electra_tf.optimization import AdamWeightDecay
from electra_tf.errors import ConfigError
from electra_tf.models import masking, pretrainer
from electra_tf.models import pretraining_losses
from electra_tf.tokenization import special_ids
from helpers import (
    CLS,
    MASK,
    SEP,
    VOCAB_SIZE,
    assert_gradient_coverage,
    randomize_weights,
    tiny_config,
    write_vocab,
)
from pretraining_helpers import random_examples

GEN = {"num_hidden_layers": 2, "num_attention_heads": 1}
DISC = {"num_hidden_layers": 2, "num_attention_heads": 2}

VARIANTS = {
    "electra": {},
    "mlm_only": {"electra_objective": False},
    "electric": {"electra_objective": False, "electric_objective": True},
    "uniform": {"uniform_generator": True},
    "tied": {"untied_generator": False},
    "untied_embeddings": {
        "untied_generator_embeddings": True,
        "disallow_correct": True,
        "temperature": 0.5,
        "gen_weight": 2.0,
        "disc_weight": 7.0,
    },
}


@pytest.fixture(scope="module")
def vocab_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("vocab")
    write_vocab(str(path / "vocab.txt"))
    return path


def make_model(vocab_dir, **hparams):
    config = tiny_config(vocab_dir, mask_prob=0.3, **hparams)
    model = ElectraPretrainer(
        config, special_ids(config.vocab_file, config.vocab_size)
    )
    randomize_weights(model, seed=7)
    return model


def batch(n=4, length=16, full=False, seed=3):
    """Rows with padding, or (`full`) [CLS] + 14 tokens + [SEP] each."""
    rows = random_examples(n, length, seed)
    arrays = [np.array(col, np.int32) for col in zip(*rows)]
    data = dict(zip(("input_ids", "input_mask", "segment_ids"), arrays))
    if full:
        rng = np.random.default_rng(seed)
        data["input_ids"] = rng.integers(5, VOCAB_SIZE, (n, length)).astype(np.int32)
        data["input_ids"][:, 0], data["input_ids"][:, -1] = CLS, SEP
        data["input_mask"] = np.ones((n, length), np.int32)
    return data


def nll(logits, targets):
    lp = ref.log_softmax(logits)
    return -np.take_along_axis(lp, targets[..., None], -1)[..., 0]


def reference_fake(ids, positions, weights, sampled):
    """scatter_update of the samples: position 0 ignored, duplicates
    floor-averaged; labels per run_pretraining.py: _get_fake_data."""
    fake = ids.copy()
    updated = np.zeros_like(ids)
    for b in range(ids.shape[0]):
        slots = {}
        for p, s in zip(positions[b], sampled[b]):
            if p != 0:
                slots.setdefault(p, []).append(s)
        for p, values in slots.items():
            fake[b, p] = sum(values) // len(values)
            updated[b, p] = 1
    return fake, updated


def reference_losses(model, data, out):
    """The original's losses in NumPy from the model's weights and the
    masks/samples that compute_losses drew."""
    cfg = model.config
    w = ref.weights_of(model)
    o = {k: np.asarray(v) for k, v in out.items()}
    mask, seg = data["input_mask"], data["segment_ids"]
    positions, weights = o["masked_lm_positions"], o["masked_lm_weights"]
    table = w["electra/embeddings/word_embeddings"]
    cloze_loss, cloze_logits = None, None
    if cfg.uniform_generator:
        mlm_logits = np.zeros(positions.shape + (VOCAB_SIZE,))
    elif cfg.electric_objective:
        _, ltr = ref.encoder(w, "generator_ltr", GEN, causal="ltr", **data)
        _, rtl = ref.encoder(w, "generator_rtl", GEN, causal="rtl", **data)
        seq = np.concatenate([np.roll(ltr, 1, 1), np.roll(rtl, -1, 1)], -1)
        cloze_logits = ref.mlm_logits(w, "cloze_predictions", seq, table)
        ids = data["input_ids"]
        cand = (mask == 1) & ~np.isin(ids, [CLS, SEP, MASK])
        cloze_loss = (cand * nll(cloze_logits, ids)).sum() / (cand.sum() + 1e-6)
        mlm_logits = ref.gather(cloze_logits, positions)
    else:
        tied = not cfg.untied_generator or not cfg.electra_objective
        scope, net = ("electra", DISC) if tied else ("generator", GEN)
        emb_scope = "generator" if cfg.untied_generator_embeddings else "electra"
        _, gen_seq = ref.encoder(
            w, scope, net, o["masked_input_ids"], mask, seg, emb_scope=emb_scope
        )
        gen_table = w[emb_scope + "/embeddings/word_embeddings"]
        mlm_logits = ref.mlm_logits(
            w, "generator_predictions", ref.gather(gen_seq, positions), gen_table
        )
    mlm_nll = nll(mlm_logits, o["masked_lm_ids"])
    mlm_loss = (weights * mlm_nll).sum() / (weights.sum() + 1e-6)
    gen_loss = mlm_loss if cloze_loss is None else cloze_loss
    result = {"generator_loss": gen_loss, "total_loss": cfg.gen_weight * gen_loss}
    result["mlm_loss"] = mlm_nll
    result["masked_lm_preds"] = mlm_logits.argmax(-1)
    if model.discriminator is None:
        return result, mlm_logits
    fake, updated = reference_fake(
        data["input_ids"], positions, weights, o["sampled_tokids"]
    )
    labels = updated if cfg.electric_objective else updated * (fake != data["input_ids"])
    _, disc_seq = ref.encoder(w, "electra", DISC, fake, mask, seg)
    logits = ref.discriminator_logits(w, disc_seq)
    if cfg.electric_objective:
        log_q = np.take_along_axis(ref.log_softmax(cloze_logits), fake[..., None], -1)
        logits = logits + log_q[..., 0] + math.log(cfg.mask_prob / (1 - cfg.mask_prob))
    losses = mask * ref.sigmoid_cross_entropy(logits, labels)
    disc_loss = losses.sum() / (mask.sum() + 1e-6)
    result.update(
        discriminator_loss=disc_loss,
        total_loss=result["total_loss"] + cfg.disc_weight * disc_loss,
        fake_input_ids=fake,
        disc_labels=labels,
        disc_loss=losses.sum(-1) / (mask.sum(-1) + 1e-6),
        disc_probs=1 / (1 + np.exp(-logits)),
        disc_preds=(logits > 0).astype(int),
    )
    return result, mlm_logits


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_losses_equal_numpy_reference(vocab_dir, name):
    model = make_model(vocab_dir, **VARIANTS[name])
    data = batch(full=name == "electric")  # see test_models: rtl at padding
    out = model.compute_losses(data, step=5, training=False)
    want, _ = reference_losses(model, data, out)
    for key, value in want.items():
        np.testing.assert_allclose(out[key], value, rtol=1e-5, atol=1e-5, err_msg=key)
    has_disc = name != "mlm_only"
    assert ("discriminator_loss" in out) == has_disc
    if name == "uniform":
        assert float(out["generator_loss"]) == pytest.approx(math.log(VOCAB_SIZE), rel=1e-5)
    if has_disc:
        labels = np.asarray(out["disc_labels"])
        assert 0 < labels.sum() <= np.asarray(out["masked_lm_weights"]).sum()
        assert np.all(labels[:, 0] == 0)  # position 0 is never replaced


def test_masks_and_samples_follow_the_seeds(vocab_dir):
    model = make_model(vocab_dir, **VARIANTS["untied_embeddings"])
    data = batch()
    out = model.compute_losses(data, step=9, training=True)
    seeds = masking.example_seeds(model.config.seed, 4, 9, "train_masking")
    masked = masking.mask(
        {k: tf.constant(v) for k, v in data.items()}, 0.3, 4, CLS, SEP, MASK, seeds
    )
    for key in ("masked_lm_positions", "masked_lm_ids", "masked_lm_weights"):
        np.testing.assert_array_equal(out[key], masked[key])
    np.testing.assert_array_equal(out["masked_input_ids"], masked["input_ids"])
    # Gumbel-max of logits / temperature with the correct token disallowed,
    # noise from the per-example sampling seeds
    _, mlm_logits = reference_losses(model, data, model.compute_losses(data, 9, False))
    eval_out = model.compute_losses(data, step=9, training=False)
    sample_seeds = masking.example_seeds(model.config.seed, 4, 9, "eval_sampling")
    ids = np.asarray(eval_out["masked_lm_ids"])
    for b in range(4):
        u = tf.random.stateless_uniform(
            [4, VOCAB_SIZE], sample_seeds[b], alg="philox"
        ).numpy()
        g = -np.log(-np.log(u + 1e-9) + 1e-9)
        disallow = np.eye(VOCAB_SIZE)[ids[b]] * 1000.0
        want = np.argmax(mlm_logits[b] / 0.5 - disallow + g, -1)
        np.testing.assert_array_equal(eval_out["sampled_tokids"][b], want)
        assert np.all(want != ids[b])
    again = model.compute_losses(data, step=9, training=True)
    np.testing.assert_array_equal(again["masked_input_ids"], out["masked_input_ids"])
    other = model.compute_losses(data, step=10, training=True)
    assert not np.array_equal(other["masked_lm_positions"], out["masked_lm_positions"])


@pytest.mark.parametrize("name", ["electra", "electric", "tied", "mlm_only"])
def test_every_weight_gets_a_gradient(vocab_dir, name):
    model = make_model(vocab_dir, **VARIANTS[name])
    assert_gradient_coverage(
        model, lambda m, data: m.compute_losses(data, step=1)["total_loss"], batch(n=8)
    )


@pytest.mark.parametrize("name", ["electra", "electric"])
def test_discriminator_loss_does_not_train_the_generator(vocab_dir, name):
    """Samples (and Electric's log q) are stop-gradient: the discriminator
    loss reaches only the shared embeddings and the discriminator."""
    model = make_model(vocab_dir, **VARIANTS[name])
    trained = ("electra/", "discriminator_predictions/")
    generator = [
        v.path for v in model.trainable_variables if not v.path.startswith(trained)
    ]
    assert_gradient_coverage(
        model,
        lambda m, data: m.compute_losses(data, step=1)["discriminator_loss"],
        batch(),
        untrained=generator,
    )


def test_fit_runs_train_step(vocab_dir):
    model = make_model(vocab_dir)
    model.compile(optimizer=AdamWeightDecay(1e-3, weight_decay_rate=0.01))
    data = batch(n=8)
    before = model.compute_losses(data, step=0)["total_loss"].numpy()
    dataset = tf.data.Dataset.from_tensors(data).repeat()
    history = model.fit(dataset, steps_per_epoch=3, epochs=2, verbose=0)
    losses = history.history["total_loss"]
    assert int(model.optimizer.iterations) == 6
    assert losses[-1] < before and all(np.isfinite(losses))
    logs = model.test_step(data)  # what evaluate() runs, eagerly
    assert set(logs) == {"total_loss", "generator_loss", "discriminator_loss"}
    eval_loss = model.compute_losses(data, model.optimizer.iterations, False)
    assert float(logs["total_loss"]) == float(eval_loss["total_loss"])


def test_vocab_without_special_tokens_is_rejected(tmp_path):
    (tmp_path / "vocab.txt").write_text("[PAD]\n[UNK]\n[CLS]\n[SEP]\nw0\n")
    with pytest.raises(ValueError, match=r"\[MASK\]"):
        special_ids(str(tmp_path / "vocab.txt"))
    with pytest.raises(FileNotFoundError, match="vocab_file"):
        special_ids(str(tmp_path / "nope.txt"))
    write_vocab(str(tmp_path / "vocab.txt"))
    assert special_ids(str(tmp_path / "vocab.txt")) == (CLS, SEP, MASK)
    with pytest.raises(ConfigError, match="vocab_size is 4"):
        special_ids(str(tmp_path / "vocab.txt"), vocab_size=4)
    model = ElectraPretrainer(tiny_config(tmp_path))
    with pytest.raises(ConfigError, match="special_ids"):
        model.compute_losses(batch(), step=0)


@pytest.mark.parametrize("name", ["electra", "electric"])
def test_correct_samples_are_real_for_electra_fake_for_electric(vocab_dir, name):
    model = make_model(vocab_dir, **VARIANTS[name])
    head = model.generator_predictions or model.cloze_predictions
    bias = np.zeros(VOCAB_SIZE, np.float32)
    bias[50] = 1000.0  # the generator always samples token 50
    head.output_bias.assign(bias)
    data = batch(full=True)
    data["input_ids"][:, 1:-1] = 50
    out = model.compute_losses(data, step=2, training=False)
    np.testing.assert_array_equal(out["fake_input_ids"], data["input_ids"])
    updated = np.zeros_like(data["input_ids"])
    positions = np.asarray(out["masked_lm_positions"])
    for b, row in enumerate(positions):
        updated[b, row[row > 0]] = 1
    want = updated if name == "electric" else 0 * updated
    np.testing.assert_array_equal(out["disc_labels"], want)
    assert updated.sum() > 0


@pytest.mark.parametrize("module", [masking, pretraining_losses, pretrainer])
def test_docstring_examples_run(module):
    result = doctest.testmod(module)
    assert result.attempted > 0 and result.failed == 0
