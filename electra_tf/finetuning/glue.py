"""GLUE task machinery: reading, featurising and labelling TSV examples.

Port of finetune/classification/classification_tasks.py: `read_tsv`,
`_load_glue` (column indices, headers, dummy test labels, eids),
`_truncate_seq_pair` and the `[CLS] a [SEP] (b [SEP])` featurisation. The
eight tasks themselves, each a column layout, are in glue_tasks.py.
"""

import csv
import logging

import tensorflow as tf

from electra_tf import errors
from electra_tf.finetuning import scorers
from electra_tf.finetuning import task

logger = logging.getLogger(__name__)


class InputExample(task.Example):
    """A single- or pair-sentence example; `label` is a string or float;
    `line` is its 1-based line in the TSV file."""

    def __init__(
        self, eid, task_name, text_a, text_b=None, label=None, line=None
    ):
        super().__init__(task_name)
        self.eid = eid
        self.text_a = text_a
        self.text_b = text_b
        self.label = label
        self.line = line


def read_tsv(input_file, max_lines=None):
    """Rows of a tab-separated file; quotes are literal characters."""
    with tf.io.gfile.GFile(input_file, "r") as f:
        reader = csv.reader(f, delimiter="\t", quotechar=None)
        lines = []
        for i, line in enumerate(reader):
            if max_lines and i >= max_lines:
                break
            lines.append(line)
        return lines


def _truncate_seq_pair(tokens_a, tokens_b, max_length):
    """Pops the last token of the longer list (b on ties) until they fit."""
    while len(tokens_a) + len(tokens_b) > max_length:
        if len(tokens_a) > len(tokens_b):
            tokens_a.pop()
        else:
            tokens_b.pop()


class SingleOutputTask(task.Task):
    """A task with one prediction per example, read from GLUE TSV files."""

    text_pairs = True  # examples have a text_b; False for single sentences

    def __init__(self, config, name, tokenizer):
        super().__init__(config, name, tokenizer)
        # split -> number of rows that could not be parsed and were skipped
        self.malformed_rows = {}

    def data_file(self, split):
        return self.raw_file(self._file_split(split) + ".tsv")

    def get_examples(self, split):
        path = self.data_file(split)
        lines = read_tsv(path, max_lines=100 if self.config.debug else None)
        self.malformed_rows[split] = 0
        examples = self._create_examples(lines, split)
        if self.malformed_rows[split]:
            logger.warning(
                "%s %s: skipped %d malformed row(s) of %s (as the original "
                "does); see the errors logged above.",
                self.name,
                split,
                self.malformed_rows[split],
                path,
            )
        return examples

    def _file_split(self, split):
        return split

    def check_split(self, split):
        super().check_split(split)
        if "test" in split or "diagnostic" in split:
            return  # dummy labels
        for example in self.get_examples(split):
            problem = self._label_problem(example)
            if problem:
                raise errors.DataError(
                    f"{self.data_file(split)} line {example.line}: "
                    f"{problem}; fix the label column of that row."
                )

    def _label_problem(self, example):
        """Why the example's label cannot be used, or None."""
        raise NotImplementedError

    def _add_features(self, features, example):
        problem = self._label_problem(example)
        if problem:
            raise errors.DataError(
                f"Task '{self.name}' example {example.eid}: {problem}; fix "
                "the label column of the TSV file."
            )
        self._add_label(features, example)

    def _create_examples(self, lines, split):
        raise NotImplementedError

    def _get_dummy_label(self):
        raise NotImplementedError

    def _load_glue(
        self,
        lines,
        split,
        text_a_loc,
        text_b_loc,
        label_loc,
        skip_first_line=False,
        eid_offset=0,
        swap=False,
    ):
        """Examples from TSV rows; rows that fail to parse are counted."""
        examples = []
        for i, line in enumerate(lines):
            if i == 0 and skip_first_line:
                continue
            try:
                eid = i - (1 if skip_first_line else 0) + eid_offset
                text_a = line[text_a_loc]
                text_b = None if text_b_loc is None else line[text_b_loc]
                if "test" in split or "diagnostic" in split:
                    label = self._get_dummy_label()
                else:
                    label = line[label_loc]
            except IndexError:
                # The error count covers both passes of double_unordered.
                if not swap:
                    self.malformed_rows[split] += 1
                    logger.error(
                        "%s %s: row %d has %d column(s), too few; skipped: %r",
                        self.name,
                        split,
                        i,
                        len(line),
                        line,
                    )
                continue
            if swap:
                text_a, text_b = text_b, text_a
            examples.append(
                InputExample(eid, self.name, text_a, text_b, label, i + 1)
            )
        return examples

    def featurize(self, example, is_training, log=False):
        tokens_a = self._tokenizer.tokenize(example.text_a)
        tokens_b = None
        if example.text_b:
            tokens_b = self._tokenizer.tokenize(example.text_b)
        max_len = self.config.max_seq_length
        if tokens_b:
            _truncate_seq_pair(tokens_a, tokens_b, max_len - 3)
        else:
            tokens_a = tokens_a[: max_len - 2]
        tokens = ["[CLS]"] + tokens_a + ["[SEP]"]
        segment_ids = [0] * len(tokens)
        if tokens_b:
            tokens += tokens_b + ["[SEP]"]
            segment_ids += [1] * (len(tokens_b) + 1)
        input_ids = self._tokenizer.convert_tokens_to_ids(tokens)
        input_mask = [1] * len(input_ids)
        pad = [0] * (max_len - len(input_ids))
        features = {
            "input_ids": input_ids + pad,
            "input_mask": input_mask + pad,
            "segment_ids": segment_ids + pad,
            "task_id": self.task_id,
            self.name + "_eid": example.eid,
        }
        self._add_features(features, example)
        if log:
            logger.info(
                "%s example %d: tokens %s, features %s",
                self.name,
                example.eid,
                " ".join(tokens),
                features,
            )
        return [features]

    def _add_label(self, features, example):
        raise NotImplementedError


class ClassificationTask(SingleOutputTask):
    """Softmax classification over `label_list` from the `[CLS]` vector."""

    head_type = "classification"

    def __init__(self, config, name, tokenizer, label_list):
        super().__init__(config, name, tokenizer)
        self.label_list = list(label_list)

    @property
    def num_labels(self):
        return len(self.label_list)

    def _get_dummy_label(self):
        return self.label_list[0]

    def get_feature_specs(self):
        return [
            task.FeatureSpec(self.name + "_eid", []),
            task.FeatureSpec(self.name + "_label_ids", []),
        ]

    def _label_problem(self, example):
        if example.label not in self.label_list:
            return f"label {example.label!r} is not one of {self.label_list}"
        return None

    def _add_label(self, features, example):
        label_id = self.label_list.index(example.label)
        features[self.name + "_label_ids"] = label_id

    def get_scorer(self, split="dev"):
        return scorers.AccuracyScorer()


class RegressionTask(SingleOutputTask):
    """A real-valued score in [min_value, max_value], trained on label / max."""

    head_type = "regression"

    def __init__(self, config, name, tokenizer, min_value, max_value):
        super().__init__(config, name, tokenizer)
        self.min_value = min_value
        self.max_value = max_value

    def _get_dummy_label(self):
        return 0.0

    def get_feature_specs(self):
        return [
            task.FeatureSpec(self.name + "_eid", []),
            task.FeatureSpec(self.name + "_targets", [], is_int_feature=False),
        ]

    def _label_problem(self, example):
        try:
            label = float(example.label)
        except ValueError:
            label = None
        if label is None or not self.min_value <= label <= self.max_value:
            return (
                f"score {example.label!r} is not a number in "
                f"[{self.min_value}, {self.max_value}]"
            )
        return None

    def _add_label(self, features, example):
        label = float(example.label)
        target = (label - self.min_value) / self.max_value
        features[self.name + "_targets"] = target

    def get_scorer(self, split="dev"):
        return scorers.RegressionScorer()
