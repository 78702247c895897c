"""Tests for electra_tf.models.masking against the rules of
pretrain/pretrain_helpers.py: mask."""

import numpy as np
import pytest
import tensorflow as tf

from electra_tf.models import masking

CLS, SEP, MASK = 101, 102, 103


def _batch(rows, length):
    ids = np.zeros([len(rows), length], np.int32)
    for i, row in enumerate(rows):
        ids[i, : len(row)] = row
    return dict(
        input_ids=tf.constant(ids),
        input_mask=tf.constant((ids != 0).astype(np.int32)),
        segment_ids=tf.zeros_like(ids),
    )


def _mask(inputs, seeds, mask_prob=0.15, n=19, **kwargs):
    out = masking.mask(
        inputs, mask_prob, n, CLS, SEP, MASK, tf.constant(seeds), **kwargs
    )
    return {k: v.numpy() for k, v in out.items()}


def _reference_mask(ids, seeds, mask_prob, n):
    """NumPy masking from the same stateless draws, following
    pretrain/pretrain_helpers.py: mask."""
    out_ids = ids.copy()
    batch = ids.shape[0]
    positions = np.zeros([batch, n], np.int32)
    weights = np.zeros([batch, n], np.float32)
    for b in range(batch):
        real = ids[b] != 0
        cand = real & ~np.isin(ids[b], [CLS, SEP, MASK])
        count = np.round(np.float32(real.sum()) * np.float32(mask_prob))
        k = max(1, min(n, int(count)))
        logits = np.where(cand, np.log(np.maximum(cand, 1) / cand.sum()), -np.inf)
        u = tf.random.stateless_uniform(
            [n, len(logits) + 1], tf.constant(seeds[b], tf.int64), alg="philox"
        ).numpy()
        gumbel = -np.log(-np.log(u[:, :-1] + 1e-9) + 1e-9)
        draws = np.argmax(logits.astype(np.float32) + gumbel, -1)
        replace = u[:, -1] < 0.85
        weights[b, :k] = 1
        positions[b, :k] = draws[:k]
        for slot in range(k):
            if replace[slot] and draws[slot] != 0:
                out_ids[b, draws[slot]] = MASK
    masked_ids = np.take_along_axis(ids, positions, 1) * weights.astype(np.int32)
    return out_ids, positions, masked_ids, weights


def test_scatter_update_int_duplicates_floor_average_and_position_zero():
    seq = tf.constant([[10, 11, 12, 13], [20, 21, 22, 23]])
    updates = tf.constant([[5, 8, 7], [4, 4, 9]])
    positions = tf.constant([[2, 2, 0], [3, 1, 0]])
    updated, mask = masking.scatter_update(seq, updates, positions)
    # (5 + 8) // 2 = 6; the update aimed at position 0 is dropped.
    np.testing.assert_array_equal(updated, [[10, 11, 6, 13], [20, 4, 22, 4]])
    np.testing.assert_array_equal(mask, [[0, 0, 1, 0], [0, 1, 0, 1]])


def test_scatter_update_float_true_division():
    seq = tf.ones([1, 3, 2])
    updates = tf.constant([[[1.0, 2.0], [2.0, 5.0], [9.0, 9.0]]])
    positions = tf.constant([[1, 1, 0]])
    updated, mask = masking.scatter_update(seq, updates, positions)
    np.testing.assert_allclose(updated[0], [[1, 1], [1.5, 3.5], [1, 1]])
    np.testing.assert_array_equal(mask, [[0, 1, 0]])


def test_gather_positions_2d_and_3d():
    seq = tf.constant([[1, 2, 3], [4, 5, 6]])
    np.testing.assert_array_equal(
        masking.gather_positions(seq, tf.constant([[2, 0], [1, 1]])),
        [[3, 1], [5, 5]],
    )
    seq3 = tf.reshape(tf.range(12.0), [2, 3, 2])
    np.testing.assert_array_equal(
        masking.gather_positions(seq3, tf.constant([[1], [2]])),
        [[[2, 3]], [[10, 11]]],
    )


def test_mask_fixed_seed_equals_numpy_reference_with_duplicates():
    rows = [
        [CLS, 5, 6, 7, 8, SEP, 9, 10, SEP],
        [CLS, 11, MASK, 12, SEP],
        [CLS, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, SEP],
    ]
    inputs = _batch(rows, 16)
    seeds = np.array([[3, 7], [11, 2], [5, 5]])
    out = _mask(inputs, seeds, mask_prob=0.5, n=6)
    ref_ids, ref_pos, ref_lm_ids, ref_w = _reference_mask(
        inputs["input_ids"].numpy(), seeds, 0.5, 6
    )
    np.testing.assert_array_equal(out["input_ids"], ref_ids)
    np.testing.assert_array_equal(out["masked_lm_positions"], ref_pos)
    np.testing.assert_array_equal(out["masked_lm_ids"], ref_lm_ids)
    np.testing.assert_array_equal(out["masked_lm_weights"], ref_w)
    # round-half-to-even counts: 9 * .5 = 4.5 -> 4, 5 * .5 = 2.5 -> 2, 13 * .5
    # = 6.5 -> 6.
    np.testing.assert_array_equal(out["masked_lm_weights"].sum(1), [4, 2, 6])
    # these seeds draw a position twice in some row (the original's quirk)
    used = [p[w > 0] for p, w in zip(ref_pos, ref_w)]
    assert any(len(set(u)) < len(u) for u in used)


def test_mask_structure_on_many_rows():
    rng = np.random.default_rng(0)
    rows = []
    for _ in range(64):
        n_tok = int(rng.integers(1, 30))
        rows.append([CLS] + list(rng.integers(1000, 2000, n_tok)) + [SEP])
    inputs = _batch(rows, 32)
    ids = inputs["input_ids"].numpy()
    seeds = rng.integers(0, 2**31, [64, 2])
    out = _mask(inputs, seeds, n=5)
    for b in range(64):
        w = out["masked_lm_weights"][b]
        pos = out["masked_lm_positions"][b]
        real = int((ids[b] != 0).sum())
        expected = max(1, min(5, int(np.round(np.float32(real) * np.float32(0.15)))))
        assert w.sum() == expected
        assert np.all(pos[w == 0] == 0) and np.all(out["masked_lm_ids"][b][w == 0] == 0)
        chosen = pos[w > 0]
        assert np.all((chosen > 0) & (chosen < real - 1))  # never CLS/SEP/pad
        np.testing.assert_array_equal(out["masked_lm_ids"][b][w > 0], ids[b][chosen])
        changed = np.nonzero(out["input_ids"][b] != ids[b])[0]
        assert set(changed) <= set(chosen)
        assert np.all(out["input_ids"][b][changed] == MASK)
        assert out["input_ids"][b][0] == CLS


def test_mask_statistics_15_percent_and_85_percent_mask():
    batch, length = 512, 128
    ids = np.random.default_rng(1).integers(1000, 30000, [batch, length])
    ids[:, 0], ids[:, -1] = CLS, SEP
    inputs = dict(
        input_ids=tf.constant(ids, tf.int32),
        input_mask=tf.ones([batch, length], tf.int32),
    )
    seeds = np.stack([np.arange(batch), np.full(batch, 9)], 1)
    out = _mask(inputs, seeds, n=19)
    # round(128 * 0.15) = 19 predictions, i.e. 14.8% of the tokens
    assert np.all(out["masked_lm_weights"].sum(1) == 19)
    pos = out["masked_lm_positions"]
    masked_at_slot = np.take_along_axis(out["input_ids"], pos, 1) == MASK
    # a slot keeps its token only if it was not picked for [MASK] (p=.15)
    # and no duplicate slot at the same position was.
    dup = np.array([[np.sum(p == x) > 1 for x in p] for p in pos])
    share = masked_at_slot[~dup].mean()
    assert abs(share - 0.85) < 0.01, share
    counts = np.bincount(pos.ravel(), minlength=length)[1:-1]
    expected = batch * 19 / (length - 2)
    assert np.all(np.abs(counts - expected) < 5 * np.sqrt(expected))


def test_mask_seeds_are_per_example():
    rows = [[CLS] + list(range(200, 240)) + [SEP], [CLS] + list(range(300, 320)) + [SEP]]
    inputs = _batch(rows, 48)
    seeds = np.array([[1, 2], [8, 9]])
    together = _mask(inputs, seeds)
    for b in range(2):
        alone = _mask({k: v[b : b + 1] for k, v in inputs.items()}, seeds[b : b + 1])
        for key in ("input_ids", "masked_lm_positions", "masked_lm_weights"):
            np.testing.assert_array_equal(together[key][b], alone[key][0])
    again = _mask(inputs, seeds)
    np.testing.assert_array_equal(together["input_ids"], again["input_ids"])
    other = _mask(inputs, seeds + 1)
    assert not np.array_equal(together["masked_lm_positions"], other["masked_lm_positions"])


def test_mask_without_replacement_positions_are_distinct():
    rows = [[CLS] + [7] * 8 + [SEP]] * 200
    inputs = _batch(rows, 10)
    seeds = np.stack([np.arange(200), np.zeros(200, int)], 1)
    out = _mask(inputs, seeds, mask_prob=0.5, n=5, without_replacement=True)
    for p, w in zip(out["masked_lm_positions"], out["masked_lm_weights"]):
        assert w.sum() == 5  # round(10 * 0.5)
        assert len(set(p[w > 0])) == 5
    default = _mask(inputs, seeds, mask_prob=0.5, n=5)
    assert any(len(set(p)) < 5 for p in default["masked_lm_positions"])


def test_mask_no_candidates_gives_no_prediction():
    out = _mask(_batch([[CLS, SEP], [CLS, 5, SEP]], 4), np.array([[1, 1], [2, 2]]))
    np.testing.assert_array_equal(out["masked_lm_weights"][:, 0], [0, 1])
    assert out["masked_lm_positions"][1, 0] == 1


def test_unmask_restores_inputs_including_duplicates():
    rows = [[CLS, 5, 6, 7, SEP], [CLS, 8, SEP]]
    inputs = _batch(rows, 6)
    out = _mask(inputs, np.array([[4, 4], [5, 5]]), mask_prob=0.9, n=4)
    restored = masking.unmask({k: tf.constant(v) for k, v in out.items()})
    np.testing.assert_array_equal(restored, inputs["input_ids"])


def test_sample_from_softmax_frequencies_and_disallow():
    probs = np.array([0.5, 0.3, 0.15, 0.05], np.float32)
    logits = tf.constant(np.tile(np.log(probs), [300, 20, 1]))
    seeds = tf.stack([tf.range(300), tf.fill([300], 4)], 1)
    sample = masking.sample_from_softmax(logits, seeds).numpy()
    assert sample.shape == (300, 20, 4) and np.all(sample.sum(-1) == 1)
    freq = sample.reshape(-1, 4).mean(0)
    np.testing.assert_allclose(freq, probs, atol=0.015)
    disallow = tf.one_hot(tf.zeros([300, 20], tf.int32), 4)
    sample = masking.sample_from_softmax(logits, seeds, disallow).numpy()
    assert sample[..., 0].sum() == 0
    np.testing.assert_allclose(
        sample.reshape(-1, 4).mean(0)[1:], probs[1:] / probs[1:].sum(), atol=0.015
    )


@pytest.mark.parametrize("seed", [[0, 0], [12, 34]])
def test_sample_from_softmax_is_gumbel_argmax(seed):
    logits = tf.random.stateless_normal([2, 3, 50], [1, 2])
    seeds = tf.constant([seed, [5, 6]])
    got = masking.sample_from_softmax(logits, seeds).numpy().argmax(-1)
    for b in range(2):
        seed = tf.cast(seeds[b], tf.int64)
        u = tf.random.stateless_uniform([3, 50], seed, alg="philox").numpy()
        g = -np.log(-np.log(u + 1e-9) + 1e-9)
        np.testing.assert_array_equal(got[b], np.argmax(logits[b].numpy() + g, -1))
