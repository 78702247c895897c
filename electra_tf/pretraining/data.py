"""Port of pretrain/pretrain_data.py: the pre-training input pipeline.

files (comma-separated globs) -> repeat -> shuffle(number of files) ->
interleave TFRecordDataset (cycle min(4, files)) -> shuffle(100) ->
batch(drop_remainder) -> parse -> prefetch; sharded per input pipeline with
`tf.distribute.InputContext`.

Deviation from reference: the original interleaves with `sloppy=True` when
training; here every step is seeded and deterministic, so a run repeats and
its iterator can be checkpointed with `tf.train.Checkpoint(iterator=...)` and
resumed at the same position.
"""

import os

import tensorflow as tf

FEATURES = ("input_ids", "input_mask", "segment_ids")


def parse_example(serialized, max_seq_length):
    """Parses pre-training examples (one string or a batch [B]) into
    {input_ids, input_mask, segment_ids} int32 [L] or [B, L]."""
    spec = {
        name: tf.io.FixedLenFeature([max_seq_length], tf.int64)
        for name in FEATURES
    }
    parse = tf.io.parse_example if serialized.shape.rank else (
        tf.io.parse_single_example)
    example = parse(serialized, spec)
    # TPUs only support int32; the model casts nothing.
    return {name: tf.cast(example[name], tf.int32) for name in FEATURES}


def expand_file_patterns(file_patterns):
    """Files matching comma-separated globs (each glob's matches sorted);
    a build's hidden temporary shards are skipped."""
    files = []
    for pattern in file_patterns.split(","):
        pattern = pattern.strip()
        if pattern:
            files.extend(
                path
                for path in sorted(tf.io.gfile.glob(pattern))
                if not os.path.basename(path).endswith(".incomplete")
            )
    if not files:
        raise ValueError(
            f"No pre-training files match {file_patterns!r}; build them with "
            "build_pretraining_dataset.py or set pretrain_tfrecords to "
            "comma-separated globs of existing files."
        )
    return files


def check_files(files, max_seq_length):
    """Returns the non-empty files; fails early, naming the file, if the
    data cannot be parsed: no records at all, or a first record lacking a
    feature or of another length than `max_seq_length`."""
    non_empty = [f for f in files if tf.io.gfile.stat(f).length > 0]
    if not non_empty:
        raise ValueError(
            f"The {len(files)} pre-training file(s) ({files[0]}, ...) hold "
            "no records; rebuild them with build_pretraining_dataset.py on "
            "a corpus with text."
        )
    path = non_empty[0]
    record = next(iter(tf.data.TFRecordDataset(path).take(1)))
    example = tf.train.Example.FromString(record.numpy())
    for name in FEATURES:
        feature = example.features.feature.get(name)
        if feature is None:
            raise ValueError(
                f"{path}: records lack the feature {name!r} (expected "
                f"{', '.join(FEATURES)}); rebuild the data with "
                "build_pretraining_dataset.py."
            )
        length = len(feature.int64_list.value)
        if length != max_seq_length:
            raise ValueError(
                f"{path}: feature {name!r} has {length} values but "
                f"max_seq_length is {max_seq_length}; rebuild with "
                f"--max-seq-length {max_seq_length} or set max_seq_length "
                f"to {length}."
            )
    return non_empty


def make_dataset(file_patterns, batch_size, max_seq_length, seed=0,
                 is_training=True, input_context=None):
    """An infinite, shuffled dataset of {input_ids, input_mask, segment_ids}
    int32 [B, L] batches (drop_remainder=True).

    Args:
      file_patterns: comma-separated globs of TFRecord files.
      batch_size: global batch size; with `input_context`, each input
        pipeline yields `get_per_replica_batch_size(batch_size)` rows.
      max_seq_length: length the data was built with.
      seed: seeds both shuffles; the same seed gives the same batches
        under the same TF global seed (tf.data combines the two; the
        runners set it from the config's `seed`).
      is_training: unused for the order (always deterministic here); kept
        for the original's signature.
      input_context: a `tf.distribute.InputContext`; files (or, with fewer
        files than pipelines, records) are split across pipelines.
    """
    del is_training
    # Empty shards (a small corpus spread over many files) are left out:
    # a repeated stream of empty files would never yield a record.
    files = check_files(expand_file_patterns(file_patterns), max_seq_length)
    num_pipelines, pipeline_id = 1, 0
    if input_context is not None:
        num_pipelines = input_context.num_input_pipelines
        pipeline_id = input_context.input_pipeline_id
        batch_size = input_context.get_per_replica_batch_size(batch_size)
    shard_files = len(files) >= num_pipelines

    d = tf.data.Dataset.from_tensor_slices(tf.constant(files))
    if shard_files:
        files = files[pipeline_id::num_pipelines]
        d = d.shard(num_pipelines, pipeline_id).repeat()
        d = d.shuffle(buffer_size=len(files), seed=seed)
    # Deviation from reference: deterministic (not sloppy) interleave, so a
    # run repeats and a checkpointed iterator resumes at the same record.
    d = d.interleave(
        tf.data.TFRecordDataset,
        cycle_length=min(4, len(files)),
        num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=True,
    )
    if not shard_files:
        # Fewer files than pipelines: each pipeline keeps every
        # num_pipelines-th record of one pass, then repeats that.
        d = d.shard(num_pipelines, pipeline_id).repeat()
    d = d.shuffle(buffer_size=100, seed=seed + 1)
    d = d.batch(batch_size, drop_remainder=True)
    d = d.map(
        lambda records: parse_example(records, max_seq_length),
        num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=True,
    )
    return d.prefetch(tf.data.AUTOTUNE)


def input_fn(config, is_training, input_context=None):
    """The pre-training dataset for a PretrainingConfig-like object (fields
    pretrain_tfrecords, train/eval_batch_size, max_seq_length, seed).

    Evaluation reads the training files too (as the original) but with
    seed + 2, so that it does not replay the first training batches.
    """
    return make_dataset(
        config.pretrain_tfrecords,
        config.train_batch_size if is_training else config.eval_batch_size,
        config.max_seq_length,
        seed=config.seed if is_training else config.seed + 2,
        is_training=is_training,
        input_context=input_context,
    )
