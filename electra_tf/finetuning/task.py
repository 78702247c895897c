"""The fine-tuning task interface and feature specs.

Port of finetune/task.py (`Task`, `Example`) and finetune/feature_spec.py
(`FeatureSpec`, `get_shared_feature_specs`). A task reads
its raw files, turns examples into feature dicts and names its scorer and
its kind of head; the model side (heads, losses) lives in
models/head_kinds.py.
"""

import logging
import os

import numpy as np
import tensorflow as tf

from electra_tf import errors

logger = logging.getLogger(__name__)


class FeatureSpec:
    """One model input stored in the fine-tuning TFRecords.

    Args:
      name: feature key, e.g. "input_ids" or "rte_label_ids".
      shape: fixed shape ([] for scalars).
      is_int_feature: int64 in the record (int32 after parsing), else float32.
    """

    def __init__(self, name, shape, is_int_feature=True):
        self.name = name
        self.shape = list(shape)
        self.is_int_feature = is_int_feature

    def get_parsing_spec(self):
        dtype = tf.int64 if self.is_int_feature else tf.float32
        return tf.io.FixedLenFeature(self.shape, dtype)

    def get_default_values(self):
        dtype = np.int64 if self.is_int_feature else np.float32
        return np.zeros(self.shape, dtype)

    def __repr__(self):
        kind = "int" if self.is_int_feature else "float"
        return f"FeatureSpec({self.name!r}, {self.shape}, {kind})"


def get_shared_feature_specs(config):
    """Inputs every task provides: the encoder inputs and the task index."""
    return [
        FeatureSpec("input_ids", [config.max_seq_length]),
        FeatureSpec("input_mask", [config.max_seq_length]),
        FeatureSpec("segment_ids", [config.max_seq_length]),
        FeatureSpec("task_id", []),
    ]


class Example:
    """A raw example of one task; subclasses add their fields."""

    def __init__(self, task_name):
        self.task_name = task_name


class Task:
    """A fine-tuning task: raw data -> examples -> feature dicts -> scores.

    Subclasses implement `get_examples`, `featurize`, `get_feature_specs`,
    `get_scorer` and name their kind of head in `head_type` (a key of
    `models.head_kinds.HEAD_KINDS`).

    Args:
      config: the `FinetuningConfig`.
      name: the task name as used in `task_names`.
      tokenizer: a `tokenization.FullTokenizer` shared by all tasks.
    """

    head_type = None

    def __init__(self, config, name, tokenizer):
        self.config = config
        self.name = name
        self._tokenizer = tokenizer

    @property
    def task_id(self):
        return list(self.config.task_names).index(self.name)

    def get_test_splits(self):
        return ["test"]

    def get_examples(self, split):
        raise NotImplementedError

    def check_split(self, split):
        """Reads `split` and raises `DataError` if the run could not use it
        (no examples; subclasses check labels): done for every split a run
        uses before its first training step."""
        if not self.get_examples(split):
            raise errors.DataError(
                f"Task '{self.name}': the {split} split has no examples; "
                f"check its file in {self.config.raw_data_dir(self.name)}."
            )

    def featurize(self, example, is_training, log=False):
        """A list of feature dicts (QA windows make several per example)."""
        raise NotImplementedError

    def get_feature_specs(self):
        raise NotImplementedError

    def get_scorer(self, split="dev"):
        raise NotImplementedError

    def cache_settings(self):
        """Task settings that shape the features, for the TFRecord cache key."""
        return {}

    def raw_file(self, filename):
        """Path of a raw data file; a clear error if the file is missing."""
        directory = self.config.raw_data_dir(self.name)
        path = os.path.join(directory, filename)
        if not tf.io.gfile.exists(path):
            if not tf.io.gfile.isdir(directory):
                problem = f"the task directory {directory} does not exist"
            else:
                problem = f"{path} does not exist"
            raise errors.MissingInputError(
                f"Task '{self.name}': {problem}. Put the raw data in "
                f"<data-dir>/finetuning_data/{self.name}/ named as the "
                "original expects (README, 'Fine-tuning data')."
            )
        return path

    def __repr__(self):
        return f"Task({self.name})"
