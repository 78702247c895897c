"""Fine-tuning data: the tasks of a run, their checked inputs, their
featurised records cached as TFRecords, and the tf.data pipeline.

Port of finetune/task_builder.py (`get_tasks`: every task shares one
`FullTokenizer`) and finetune/preprocessing.py (`Preprocessor`): all tasks'
examples of a split are featurised into
`<preprocessed_data_dir>/<sorted task names>_<split>.tfrecord` with a
`.metadata` JSON, padded with all-zero records whose
`task_id` is `len(task_names)` up to a multiple of the batch size; records
are parsed with fixed-length specs and int64 cast to int32.
"""

import hashlib
import json
import logging
import os
import random

import numpy as np
import tensorflow as tf

from electra_tf import errors
from electra_tf import tokenization
from electra_tf.finetuning import chunking
from electra_tf.finetuning import glue_tasks
from electra_tf.finetuning import squad
from electra_tf.finetuning import task as task_lib

logger = logging.getLogger(__name__)

# Bump when featurisation or the cache key changes so that older caches
# are rebuilt.
CACHE_FORMAT_VERSION = 2

TASKS = {**glue_tasks.GLUE_TASKS, **squad.QA_TASKS, **chunking.TAGGING_TASKS}


def get_task(config, task_name, tokenizer):
    if task_name not in TASKS:
        raise errors.ConfigError(
            f"Unknown task {task_name!r} in task_names; use one of "
            f"{', '.join(TASKS)}."
        )
    return TASKS[task_name](config, tokenizer)


def get_tasks(config, tokenizer=None):
    """The tasks of `config.task_names`, in order (the order gives task ids)."""
    if len(set(config.task_names)) != len(config.task_names):
        raise errors.ConfigError(
            f"task_names has duplicates: {config.task_names}; name each "
            "task once."
        )
    if tokenizer is None:
        if not tf.io.gfile.exists(config.vocab_file):
            raise errors.MissingInputError(
                f"The vocab file {config.vocab_file} does not exist; put "
                "the pre-trained model's vocab.txt in <data-dir>/models/"
                "<model-name>/ or <data-dir>/, or set the vocab_file hparam."
            )
        tokenizer = tokenization.FullTokenizer(
            config.vocab_file, do_lower_case=config.do_lower_case
        )
    return [get_task(config, name, tokenizer) for name in config.task_names]


def splits_used(config, task):
    """The splits a run of `config` reads for `task`: train, dev and, when
    test outputs are written (GLUE and SQuAD 2.0, see `ModelRunner.
    write_test_outputs`), the test splits."""
    splits = []
    if config.do_train:
        splits.append("train")
    if config.do_eval:
        splits.append("dev")
        writes_test = task.name in glue_tasks.GLUE_TASKS or task.name == "squad"
        if config.write_test_outputs and writes_test:
            splits += task.get_test_splits()
    return splits


def check_inputs(config, tasks):
    """Reads and checks every split the run uses before training starts.

    Deviation from reference: the original reads dev and test data only
    after training, so a bad dev file is found hours into a run.
    """
    for t in tasks:
        for split in splits_used(config, t):
            t.check_split(split)


def _file_identity(path, chunk_size=1 << 24):
    """SHA-1 of a file's bytes, or None if it does not exist."""
    if not path or not tf.io.gfile.exists(path):
        return None
    digest = hashlib.sha1()
    with tf.io.gfile.GFile(path, "rb") as f:
        for chunk in iter(lambda: f.read(chunk_size), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _raw_files(directory):
    """{file name: SHA-1 of its bytes} of a task's raw data directory.

    Content, not size and mtime: an edit that keeps both must still
    rebuild the features.
    """
    if not tf.io.gfile.isdir(directory):
        return {}
    out = {}
    for name in sorted(tf.io.gfile.listdir(directory)):
        path = os.path.join(directory, name)
        if not tf.io.gfile.isdir(path):
            out[name] = _file_identity(path)
    return out


class Preprocessor:
    """Writes, reuses and reads the featurised records of a set of tasks.

    Args:
      config: the `FinetuningConfig`.
      tasks: the `Task` objects of `config.task_names`, in that order.
    """

    def __init__(self, config, tasks):
        self._config = config
        self._tasks = tasks
        self._name_to_task = {t.name: t for t in tasks}
        self.feature_specs = task_lib.get_shared_feature_specs(config)
        for t in tasks:
            self.feature_specs += t.get_feature_specs()
        self._parsing_spec = {
            spec.name: spec.get_parsing_spec() for spec in self.feature_specs
        }
        if len(self._parsing_spec) != len(self.feature_specs):
            raise ValueError(
                f"Duplicate feature names in {self.feature_specs}."
            )

    def prepare_train(self):
        """(path of the train records, number of training steps)."""
        path, n_examples = self._serialize_dataset(self._tasks, True, "train")
        batch_size = self._config.train_batch_size
        steps = int(n_examples // batch_size * self._config.num_train_epochs)
        return path, steps

    def prepare_predict(self, tasks, split):
        """(path of the records of `split` for `tasks`, number of batches)."""
        path, n_examples = self._serialize_dataset(tasks, False, split)
        return path, n_examples // self._config.eval_batch_size

    def cache_settings(self, tasks, is_training, split):
        """Everything that shapes the records; a change rebuilds the cache."""
        config = self._config
        settings = {
            "format": CACHE_FORMAT_VERSION,
            "split": split,
            "is_training": is_training,
            "task_names": list(config.task_names),
            "batch_size": self._batch_size(is_training),
            "max_seq_length": config.max_seq_length,
            "do_lower_case": config.do_lower_case,
            "vocab_sha1": _file_identity(config.vocab_file),
            "debug": config.debug,
            "tasks": {
                t.name: dict(
                    t.cache_settings(),
                    raw_files=_raw_files(config.raw_data_dir(t.name)),
                )
                for t in tasks
            },
        }
        if is_training:
            settings["shuffle_seed"] = config.seed
        # A JSON round trip makes tuples lists, as read back from disk.
        return json.loads(json.dumps(settings))

    def _batch_size(self, is_training):
        # Deviation from reference: the original pads prediction data to
        # eval_batch_size but batches it with predict_batch_size
        # (run_finetuning.py: `ModelRunner.__init__`); here both use
        # eval_batch_size.
        if is_training:
            return self._config.train_batch_size
        return self._config.eval_batch_size

    def _serialize_dataset(self, tasks, is_training, split):
        name = "_".join(sorted(t.name for t in tasks)) + "_" + split
        prefix = os.path.join(self._config.preprocessed_data_dir, name)
        tfrecords_path = prefix + ".tfrecord"
        metadata_path = prefix + ".metadata"
        settings = self.cache_settings(tasks, is_training, split)
        if self._config.use_tfrecords_if_existing and tf.io.gfile.exists(
            metadata_path
        ):
            with tf.io.gfile.GFile(metadata_path, "r") as f:
                metadata = json.load(f)
            # Deviation from reference: the original reuses the records
            # whenever the metadata exists (`_serialize_dataset`); here only
            # when the settings that shape them are unchanged.
            if metadata.get("settings") == settings and tf.io.gfile.exists(
                tfrecords_path
            ):
                logger.info("Reusing cached %s", tfrecords_path)
                return tfrecords_path, metadata["n_examples"]
            logger.info("Settings changed since %s was written", name)
        examples = []
        for t in tasks:
            examples += t.get_examples(split)
        if not examples:
            names = ", ".join(t.name for t in tasks)
            dirs = ", ".join(self._config.raw_data_dir(t.name) for t in tasks)
            raise errors.DataError(
                f"The {split} split of {names} has no examples; check the "
                f"files in {dirs}."
            )
        if is_training:
            random.Random(self._config.seed).shuffle(examples)
        tf.io.gfile.makedirs(self._config.preprocessed_data_dir)
        tmp_path = tfrecords_path + ".tmp"
        n_examples = self.serialize_examples(
            examples, is_training, tmp_path, self._batch_size(is_training)
        )
        tf.io.gfile.rename(tmp_path, tfrecords_path, overwrite=True)
        with tf.io.gfile.GFile(metadata_path, "w") as f:
            json.dump({"n_examples": n_examples, "settings": settings}, f)
        logger.info("Wrote %d records to %s", n_examples, tfrecords_path)
        return tfrecords_path, n_examples

    def serialize_examples(
        self, examples, is_training, output_file, batch_size
    ):
        """Featurises and writes `examples`, then the padding records."""
        n_examples = 0
        with tf.io.TFRecordWriter(output_file) as writer:
            for index, example in enumerate(examples):
                log = self._config.log_examples and index < 1
                task = self._name_to_task[example.task_name]
                for features in task.featurize(example, is_training, log=log):
                    record = self.make_tf_example(**features)
                    writer.write(record.SerializeToString())
                    n_examples += 1
            padding_id = len(self._config.task_names)
            while n_examples % batch_size:
                padding = self.make_tf_example(task_id=padding_id)
                writer.write(padding.SerializeToString())
                n_examples += 1
        return n_examples

    def make_tf_example(self, **features):
        """A tf.train.Example of all specs; absent features are zeros."""
        for key in features:
            if key not in self._parsing_spec:
                raise ValueError(
                    f"Unknown feature {key!r}; known: "
                    f"{sorted(self._parsing_spec)}."
                )
        out = {}
        for spec in self.feature_specs:
            values = features.get(spec.name, spec.get_default_values())
            values = np.reshape(np.asarray(values), [-1])
            if spec.is_int_feature:
                values = tf.train.Int64List(value=values.astype(np.int64))
                feature = tf.train.Feature(int64_list=values)
            else:
                values = tf.train.FloatList(value=values.astype(np.float32))
                feature = tf.train.Feature(float_list=values)
            out[spec.name] = feature
        return tf.train.Example(features=tf.train.Features(feature=out))

    def decode_tfrecord(self, record):
        """Parses one record; int64 features become int32."""
        example = tf.io.parse_single_example(record, self._parsing_spec)
        return {
            name: tf.cast(t, tf.int32) if t.dtype == tf.int64 else t
            for name, t in example.items()
        }

    def make_dataset(self, path, is_training, seed=None, input_context=None):
        """Batches of feature dicts; training repeats and shuffles (100).

        With a `tf.distribute.InputContext`, this pipeline's share of the
        records in per-replica batches (see `distribution.DistributedInput`).
        """
        d = tf.data.TFRecordDataset(path)
        batch_size = self._batch_size(is_training)
        if input_context is not None:
            d = d.shard(
                input_context.num_input_pipelines,
                input_context.input_pipeline_id,
            )
            batch_size = input_context.get_per_replica_batch_size(batch_size)
        if is_training:
            d = d.repeat().shuffle(buffer_size=100, seed=seed)
        d = d.map(self.decode_tfrecord, num_parallel_calls=tf.data.AUTOTUNE)
        d = d.batch(batch_size, drop_remainder=True)
        return d.prefetch(tf.data.AUTOTUNE)
