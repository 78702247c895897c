"""Dynamic masking and sampling for pre-training.

Port of pretrain/pretrain_helpers.py: gather_positions, scatter_update, mask,
unmask, sample_from_softmax (and `sample_ids`, its ids); and of
run_pretraining.py `_get_fake_data` (`fake_data`). Inputs are dicts of
int32 tensors named as the original's features (`input_ids`, `input_mask`,
`segment_ids`, `masked_lm_positions`, `masked_lm_ids`, `masked_lm_weights`).

Randomness comes from stateless ops keyed by one seed per example
(`example_seeds`, int [B, 2]): the draws for an example depend on its seed
only, so a resumed run repeats exactly and the masks of a global batch do not
depend on how it is split across replicas.

Example:
    >>> seq = tf.constant([[10, 11, 12, 13]])
    >>> gather_positions(seq, tf.constant([[2, 0]])).numpy()
    array([[12, 10]], dtype=int32)
    >>> updated, _ = scatter_update(seq, tf.constant([[7, 8]]),
    ...                             tf.constant([[1, 3]]))
    >>> updated.numpy()
    array([[10,  7, 12,  8]], dtype=int32)
"""

import tensorflow as tf

# B batch, L sequence length, N predictions per sequence, V vocab, D depth.

# The random streams of pre-training: a stream's key is
# `seed * STREAMS_PER_SEED + SEED_STREAMS[name]` (the numbers key the draws of
# every saved run: changing them changes its masks and samples).
STREAMS_PER_SEED = 8
SEED_STREAMS = {
    "train_masking": 1,
    "train_sampling": 2,
    "eval_masking": 3,
    "eval_sampling": 4,
}

# Share of the chosen positions that become [MASK]; the rest keep their token.
MASK_SHARE = 0.85


def example_seeds(seed, batch_size, step, stream):
    """int64 [B, 2]: one stateless seed per example of the global batch.

    The seed is (the key of `stream` under `seed`, the example's index in
    the run: step x global batch + the replica's offset + row). A resumed
    run thus draws the same masks, and they do not depend on how the global
    batch is split across replicas.
    """
    context = tf.distribute.get_replica_context()
    replica = 0 if context is None else context.replica_id_in_sync_group
    replicas = tf.distribute.get_strategy().num_replicas_in_sync
    batch = tf.cast(batch_size, tf.int64)
    first = (
        tf.cast(step, tf.int64) * replicas + tf.cast(replica, tf.int64)
    ) * batch
    counter = first + tf.range(batch, dtype=tf.int64)  # [B]
    key = seed * STREAMS_PER_SEED + SEED_STREAMS[stream]
    key = tf.fill([batch], tf.constant(key, tf.int64))
    return tf.stack([key, counter], axis=1)  # [B, 2]


def gather_positions(sequence, positions):
    """Per-example gather: [B, L] or [B, L, D] at positions [B, N]."""
    return tf.gather(sequence, positions, batch_dims=1)  # [B, N(, D)]


def scatter_update(sequence, updates, positions):
    """Writes `updates` [B, N(, D)] at `positions` [B, N] of `sequence`.

    As the original: updates aimed at position 0 are ignored (unused slots
    point there); several updates to one position are averaged (floor
    division for ints, true division for floats).
    Returns (updated sequence, updated mask [B, L] int32 with 0/1 entries).
    """
    depth_dimension = sequence.shape.rank == 3
    if not depth_dimension:
        sequence = sequence[:, :, None]  # [B, L, 1]
        updates = updates[:, :, None]  # [B, N, 1]
    shape = tf.shape(sequence)
    batch_size, length = shape[0], shape[1]
    num_updates = tf.shape(positions)[1]
    row = tf.repeat(tf.range(batch_size), num_updates)  # [B*N]
    index = tf.stack([row, tf.reshape(positions, [-1])], axis=1)  # [B*N, 2]
    flat_updates = tf.reshape(updates, [-1, tf.shape(updates)[-1]])
    summed = tf.scatter_nd(index, flat_updates, shape)  # [B, L, D]
    counts = tf.scatter_nd(
        index, tf.ones_like(row), tf.stack([batch_size, length])
    )  # [B, L]
    not_first = tf.concat(
        [
            tf.zeros([batch_size, 1], tf.int32),
            tf.ones([batch_size, length - 1], tf.int32),
        ],
        axis=1,
    )  # [B, L]
    counts *= not_first
    counts_3d = tf.cast(counts[:, :, None], sequence.dtype)  # [B, L, 1]
    if sequence.dtype.is_integer:
        averaged = tf.math.floordiv(summed, tf.maximum(counts_3d, 1))
    else:
        averaged = summed / tf.maximum(counts_3d, 1)
    updated_mask = tf.minimum(counts, 1)  # [B, L]
    updated_3d = tf.minimum(counts_3d, 1)
    updated = (1 - updated_3d) * sequence + updated_3d * averaged
    if not depth_dimension:
        updated = updated[:, :, 0]
    return updated, updated_mask


def candidates_mask(input_ids, input_mask, special_ids):
    """1 where a position may be masked: a real token that is not special."""
    candidates = tf.cast(input_mask, tf.bool)
    for token_id in special_ids:
        candidates &= tf.not_equal(input_ids, token_id)
    return candidates  # [B, L] bool


def _uniform(shape, seed):
    # Philox on every device. XLA numbers its stream differently, so
    # jit_compile changes the draws (not their distribution).
    return tf.random.stateless_uniform(shape, seed, alg="philox")


def _gumbel(uniform):
    """`-log(-log(u + 1e-9) + 1e-9)`: the original's Gumbel noise."""
    return -tf.math.log(-tf.math.log(uniform + 1e-9) + 1e-9)


def _draw_positions(seeds, sample_logits, n, without_replacement):
    """Per example: N positions from `sample_logits` and N uniforms."""
    length = tf.shape(sample_logits)[1]

    def draw(args):
        seed, logits = args
        if without_replacement:
            # Gumbel top-k: N distinct positions.
            u = _uniform([length + n], seed)
            noisy = logits + _gumbel(u[:length])  # [L]
            positions = tf.math.top_k(noisy, k=n).indices
            replace_u = u[length:]
        else:
            # A Gumbel-max per slot: N independent draws, distributed as
            # the original's tf.random.categorical (which XLA, hence TPUs,
            # cannot compile statelessly).
            u = _uniform([n, length + 1], seed)
            noisy = logits[None] + _gumbel(u[:, :length])  # [N, L]
            positions = tf.argmax(noisy, axis=-1, output_type=tf.int32)
            replace_u = u[:, length]
        return positions, replace_u  # [N], [N]

    return tf.map_fn(
        draw,
        (seeds, sample_logits),
        fn_output_signature=(
            tf.TensorSpec([n], tf.int32),
            tf.TensorSpec([n], tf.float32),
        ),
    )  # [B, N], [B, N]


def mask(
    inputs,
    mask_prob,
    max_predictions_per_seq,
    cls_id,
    sep_id,
    mask_id,
    seeds,
    without_replacement=False,
):
    """Chooses positions to predict and replaces 85% of them with [MASK].

    Per example: candidates are real tokens other than [CLS], [SEP],
    [MASK]; `num_to_predict = max(1, min(N, round(num_tokens * mask_prob)))`
    with round-half-to-even and [CLS]/[SEP] counted in num_tokens. The N
    positions are drawn uniformly from the candidates with replacement
    (duplicates possible, as the original); slots past num_to_predict point
    at position 0 with id 0 and weight 0. Each slot independently becomes
    [MASK] with probability 0.85, else keeps its token.

    Args:
        inputs: dict with `input_ids` and `input_mask` int32 [B, L].
        mask_prob: share of tokens to predict.
        max_predictions_per_seq: N.
        cls_id, sep_id, mask_id: vocabulary ids of the special tokens.
        seeds: int [B, 2], one stateless seed per example.
        without_replacement: draw distinct positions (the fix the authors
            suggested in issue #41); off by default for parity.

    Returns:
        A copy of `inputs` with masked `input_ids` and `masked_lm_positions`
        [B, N] int32, `masked_lm_ids` [B, N] int32, `masked_lm_weights`
        [B, N] float32.
    """
    n = max_predictions_per_seq
    input_ids, input_mask = inputs["input_ids"], inputs["input_mask"]
    special_ids = (sep_id, cls_id, mask_id)
    candidates = candidates_mask(input_ids, input_mask, special_ids)  # [B, L]
    num_tokens = tf.cast(tf.reduce_sum(input_mask, axis=-1), tf.float32)  # [B]
    num_to_predict = tf.maximum(
        1, tf.minimum(n, tf.cast(tf.round(num_tokens * mask_prob), tf.int32))
    )  # [B]
    num_candidates = tf.reduce_sum(tf.cast(candidates, tf.int32), axis=-1)
    if without_replacement:
        num_to_predict = tf.minimum(num_to_predict, num_candidates)
    # Deviation from reference: an example with no candidate at all (e.g.
    # "[CLS] [SEP]") gets no prediction; the original draws an out-of-range
    # position there.
    num_to_predict *= tf.cast(num_candidates > 0, tf.int32)
    masked_lm_weights = tf.sequence_mask(
        num_to_predict, n, tf.float32
    )  # [B, N]

    candidates_float = tf.cast(candidates, tf.float32)
    sample_prob = candidates_float / tf.maximum(
        tf.reduce_sum(candidates_float, axis=-1, keepdims=True), 1.0
    )
    sample_logits = tf.math.log(sample_prob)  # [B, L], -inf off candidates
    positions, replace_u = _draw_positions(
        tf.cast(seeds, tf.int64), sample_logits, n, without_replacement
    )
    weights_int = tf.cast(masked_lm_weights, tf.int32)
    masked_lm_positions = positions * weights_int  # [B, N]
    masked_lm_ids = (
        gather_positions(input_ids, masked_lm_positions) * weights_int
    )  # [B, N]

    replace_positions = masked_lm_positions * tf.cast(
        replace_u < MASK_SHARE, tf.int32
    )  # [B, N]
    masked_ids, _ = scatter_update(
        input_ids,
        tf.fill(tf.shape(replace_positions), mask_id),
        replace_positions,
    )
    outputs = dict(inputs)
    outputs.update(
        input_ids=tf.stop_gradient(masked_ids),
        masked_lm_positions=masked_lm_positions,
        masked_lm_ids=masked_lm_ids,
        masked_lm_weights=masked_lm_weights,
    )
    return outputs


def unmask(inputs):
    """The original `input_ids`: `masked_lm_ids` written back at their slots."""
    unmasked, _ = scatter_update(
        inputs["input_ids"],
        inputs["masked_lm_ids"],
        inputs["masked_lm_positions"],
    )
    return unmasked  # [B, L]


def sample_ids(logits, seeds, disallow=None):
    """Gumbel-max sample of an id from softmax(logits) per [B, N] slot.

    As the original's `sample_from_softmax`: `logits - 1000 * disallow`,
    noise `-log(-log(u + 1e-9) + 1e-9)` with u ~ U[0, 1), argmax. The
    original takes the argmax of the softmax of the noisy logits; softmax
    keeps the order, so the argmax of the noisy logits is the same id
    without a softmax over [B, N, V]. `seeds` int [B, 2] key the noise per
    example. Returns int32 ids [B, N].
    """
    if disallow is not None:
        logits -= 1000.0 * disallow
    slot_shape = tf.shape(logits)[1:]  # [N, V]

    def draw(args):
        # Noise, sum and argmax per example: no [B, N, V] noise tensor.
        seed, example_logits = args
        noise = _gumbel(_uniform(slot_shape, seed))  # [N, V]
        noisy = example_logits + tf.cast(noise, example_logits.dtype)
        return tf.argmax(noisy, axis=-1, output_type=tf.int32)  # [N]

    sampled = tf.map_fn(
        draw,
        (tf.cast(seeds, tf.int64), logits),
        fn_output_signature=tf.TensorSpec(logits.shape[1:2], tf.int32),
    )  # [B, N]
    return tf.stop_gradient(sampled)


def sample_from_softmax(logits, seeds, disallow=None):
    """`sample_ids` as the original returns it: a float one-hot [B, N, V]."""
    sampled = sample_ids(logits, seeds, disallow)
    return tf.one_hot(sampled, tf.shape(logits)[-1], dtype=logits.dtype)


def fake_data(
    masked,
    mlm_logits,
    seeds,
    disallow_correct=False,
    temperature=1.0,
    every_sample_fake=False,
):
    """Port of run_pretraining.py `_get_fake_data`: generator samples put
    in at the masked positions, and the discriminator's labels.

    Args:
        masked: the output of `mask`.
        mlm_logits: float32 [B, N, V], the generator's.
        seeds: int [B, 2], one stateless seed per example.
        disallow_correct: never sample the original token.
        temperature: the logits are divided by it before sampling.
        every_sample_fake: label every replaced position fake, even when
            the sample is the original token (Electric); else only changed
            positions are fake.

    Returns:
        (fake input_ids [B, L], labels [B, L] int32, sampled ids [B, N]).
    """
    original_ids = unmask(masked)  # [B, L]
    disallow = None
    if disallow_correct:
        disallow = tf.one_hot(
            masked["masked_lm_ids"], tf.shape(mlm_logits)[-1]
        )  # [B, N, V]
    if temperature != 1.0:
        mlm_logits = mlm_logits / temperature
    sampled_tokids = sample_ids(mlm_logits, seeds, disallow)  # [B, N]
    updated_ids, updated_mask = scatter_update(
        original_ids, sampled_tokids, masked["masked_lm_positions"]
    )  # [B, L], [B, L]
    if every_sample_fake:
        return updated_ids, updated_mask, sampled_tokids
    changed = tf.cast(tf.not_equal(updated_ids, original_ids), tf.int32)
    return updated_ids, updated_mask * changed, sampled_tokids
