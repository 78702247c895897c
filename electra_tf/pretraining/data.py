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
import re

import tensorflow as tf

from electra_tf.errors import DataError

FEATURES = ("input_ids", "input_mask", "segment_ids")


def parse_example(serialized, max_seq_length):
    """Parses pre-training examples (one string or a batch [B]) into
    {input_ids, input_mask, segment_ids} int32 [L] or [B, L].

    >>> from electra_tf.pretraining.records import create_int_feature
    >>> feature = {
    ...     "input_ids": create_int_feature([2, 7, 3, 0]),
    ...     "input_mask": create_int_feature([1, 1, 1, 0]),
    ...     "segment_ids": create_int_feature([0, 0, 0, 0]),
    ... }
    >>> example = tf.train.Example(features=tf.train.Features(feature=feature))
    >>> parsed = parse_example(tf.constant(example.SerializeToString()), 4)
    >>> parsed["input_ids"].numpy().tolist(), parsed["input_ids"].dtype.name
    ([2, 7, 3, 0], 'int32')
    """
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
        raise DataError(
            f"No pre-training files match {file_patterns!r}; build them with "
            "build_pretraining_dataset.py or set pretrain_tfrecords to "
            "comma-separated globs of existing files."
        )
    return files


def check_files(files, max_seq_length, vocab_size=None):
    """Returns the non-empty files after `check_records` on each; fails
    early, naming the file, if the data cannot be used: no records at all,
    a first record lacking a feature or of another length than
    `max_seq_length`, a corrupt file, or ids of another vocab."""
    non_empty = [f for f in files if tf.io.gfile.stat(f).length > 0]
    if not non_empty:
        raise DataError(
            f"The {len(files)} pre-training file(s) ({files[0]}, ...) hold "
            "no records; rebuild them with build_pretraining_dataset.py on "
            "a corpus with text."
        )
    path = non_empty[0]
    record = _first_record(path)
    example = tf.train.Example.FromString(record)
    for name in FEATURES:
        feature = example.features.feature.get(name)
        if feature is None:
            raise DataError(
                f"{path}: records lack the feature {name!r} (expected "
                f"{', '.join(FEATURES)}); rebuild the data with "
                "build_pretraining_dataset.py."
            )
        length = len(feature.int64_list.value)
        if length != max_seq_length:
            raise DataError(
                f"{path}: feature {name!r} has {length} values but "
                f"max_seq_length is {max_seq_length}; rebuild with "
                f"--max-seq-length {max_seq_length} or set max_seq_length "
                f"to {length}."
            )
    for path in non_empty:
        check_records(path, max_seq_length, vocab_size)
    return non_empty


def _first_record(path):
    try:
        return next(iter(tf.data.TFRecordDataset(path).take(1))).numpy()
    except (StopIteration, tf.errors.DataLossError):
        check_records(path, None)  # raises, naming the offset
        raise


# (path, size, mtime, max_seq_length) -> largest input id, so that the
# training and evaluation pipelines of one run read each file once.
_CHECKED = {}


def check_records(path, max_seq_length, vocab_size=None):
    """Reads every record of a TFRecord file (CRCs checked by TensorFlow's
    reader, in C++) and raises DataError naming the file and the byte offset
    when it is corrupt or truncated, or the largest id when it is not below
    `vocab_size` (data built with another vocab). Returns the largest
    input id (None without `max_seq_length`)."""
    stat = tf.io.gfile.stat(path)
    key = (path, stat.length, stat.mtime_nsec, max_seq_length)
    if key not in _CHECKED:
        _CHECKED[key] = _scan(path, stat.length, max_seq_length)
    max_id = _CHECKED[key]
    if vocab_size is not None and max_id is not None and max_id >= vocab_size:
        raise DataError(
            f"{path}: holds input id {max_id} but the vocab has {vocab_size} "
            "ids; the data was built with another vocab. Rebuild it with "
            "this model's vocab, or set vocab_size to the vocab the data "
            "was built with."
        )
    return max_id


def _scan(path, size, max_seq_length):
    """(bytes framed by whole records, largest input id) of one file."""
    d = tf.data.TFRecordDataset(path).batch(1024)
    if max_seq_length is None:
        d = d.map(lambda r: (_framed_bytes(r), tf.constant(-1, tf.int64)))
    else:
        spec = {"input_ids": tf.io.FixedLenFeature([max_seq_length], tf.int64)}
        d = d.map(
            lambda r: (
                _framed_bytes(r),
                tf.reduce_max(tf.io.parse_example(r, spec)["input_ids"]),
            )
        )
    zero = tf.constant(0, tf.int64)
    try:
        framed, max_id = d.reduce(
            (zero, tf.constant(-1, tf.int64)),
            lambda s, b: (s[0] + b[0], tf.maximum(s[1], b[1])),
        )
    except tf.errors.DataLossError as e:
        offset = re.search(r"(?:record|bytes) at (\d+)", e.message)
        where = f"at byte {offset.group(1)}" if offset else "(offset unknown)"
        raise DataError(
            f"{path}: corrupt TFRecord data {where} of {size:,} bytes; "
            "rebuild the file (build_pretraining_dataset.py) or remove it."
        ) from None
    except tf.errors.InvalidArgumentError as e:
        first = e.message.strip().splitlines()[0]
        raise DataError(
            f"{path}: a record is not a pre-training example of "
            f"max_seq_length {max_seq_length} ({first}); rebuild the data "
            "with build_pretraining_dataset.py."
        ) from None
    framed = int(framed)
    if framed != size:
        # TensorFlow's reader stops silently at a cut record header.
        raise DataError(
            f"{path}: truncated or corrupt TFRecord data at byte {framed:,} "
            f"of {size:,} (the bytes after the last whole record do not "
            "form a record); rebuild the file or remove it."
        )
    return int(max_id) if max_seq_length is not None else None


def _framed_bytes(records):
    # A TFRecord is length (8 bytes), its CRC (4), the data, its CRC (4).
    lengths = tf.strings.length(records, unit="BYTE")
    return tf.reduce_sum(tf.cast(lengths, tf.int64) + 16)


def make_dataset(file_patterns, batch_size, max_seq_length, seed=0,
                 input_context=None, vocab_size=None):
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
      input_context: a `tf.distribute.InputContext`; files (or, with fewer
        files than pipelines, records) are split across pipelines.
      vocab_size: when given, every file is checked to hold no id >= it.

    Every file is read once before training (`check_records`): a corrupt,
    truncated or other-vocab shard fails here, naming the file.
    """
    # Empty shards (a small corpus spread over many files) are left out:
    # a repeated stream of empty files would never yield a record.
    files = check_files(
        expand_file_patterns(file_patterns), max_seq_length, vocab_size
    )
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
    pretrain_tfrecords, train/eval_batch_size, max_seq_length, seed,
    vocab_size).

    Evaluation reads the training files too (as the original) but with
    seed + 2, so that it does not replay the first training batches.
    """
    return make_dataset(
        config.pretrain_tfrecords,
        config.train_batch_size if is_training else config.eval_batch_size,
        config.max_seq_length,
        seed=config.seed if is_training else config.seed + 2,
        input_context=input_context,
        vocab_size=config.vocab_size,
    )
