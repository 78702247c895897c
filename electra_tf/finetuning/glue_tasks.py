"""The eight GLUE tasks: labels, file splits and TSV column layouts.

Port of the task classes of finetune/classification/classification_tasks.py,
including `double_unordered` (a swapped copy of MRPC and STS train pairs).
"""

from electra_tf.finetuning import glue
from electra_tf.finetuning import scorers


class MNLI(glue.ClassificationTask):
    """Multi-NLI: dev is dev_matched; three test splits."""

    def __init__(self, config, tokenizer):
        labels = ["contradiction", "entailment", "neutral"]
        super().__init__(config, "mnli", tokenizer, labels)

    def _file_split(self, split):
        return "dev_matched" if split == "dev" else split

    def _create_examples(self, lines, split):
        if split == "diagnostic":
            return self._load_glue(lines, split, 1, 2, None, True)
        return self._load_glue(lines, split, 8, 9, -1, True)

    def get_test_splits(self):
        return ["test_matched", "test_mismatched", "diagnostic"]


class _DoubledPairTask:
    """Mixin: with double_unordered, train gets a swapped (b, a) copy."""

    def cache_settings(self):
        return {"double_unordered": self.config.double_unordered}

    def _with_swapped(self, lines, split, *columns):
        examples = self._load_glue(lines, split, *columns, True)
        if self.config.double_unordered and split == "train":
            examples += self._load_glue(
                lines, split, *columns, True, len(examples), True
            )
        return examples


class MRPC(_DoubledPairTask, glue.ClassificationTask):
    """Microsoft Research Paraphrase Corpus."""

    def __init__(self, config, tokenizer):
        super().__init__(config, "mrpc", tokenizer, ["0", "1"])

    def _create_examples(self, lines, split):
        return self._with_swapped(lines, split, 3, 4, 0)


class CoLA(glue.ClassificationTask):
    """Corpus of Linguistic Acceptability (train/dev files have no header)."""

    text_pairs = False

    def __init__(self, config, tokenizer):
        super().__init__(config, "cola", tokenizer, ["0", "1"])

    def _create_examples(self, lines, split):
        test = split == "test"
        return self._load_glue(lines, split, 1 if test else 3, None, 1, test)

    def get_scorer(self, split="dev"):
        return scorers.MCCScorer()


class SST(glue.ClassificationTask):
    """Stanford Sentiment Treebank (SST-2)."""

    text_pairs = False

    def __init__(self, config, tokenizer):
        super().__init__(config, "sst", tokenizer, ["0", "1"])

    def _create_examples(self, lines, split):
        if "test" in split:
            return self._load_glue(lines, split, 1, None, None, True)
        return self._load_glue(lines, split, 0, None, 1, True)


class QQP(glue.ClassificationTask):
    """Quora Question Pairs."""

    def __init__(self, config, tokenizer):
        super().__init__(config, "qqp", tokenizer, ["0", "1"])

    def _create_examples(self, lines, split):
        test = split == "test"
        return self._load_glue(
            lines, split, 1 if test else 3, 2 if test else 4, 5, True
        )


class _EntailmentTask(glue.ClassificationTask):
    """Sentence pairs labelled entailment or not, in columns 1, 2 and 3."""

    def __init__(self, config, name, tokenizer):
        labels = ["entailment", "not_entailment"]
        super().__init__(config, name, tokenizer, labels)

    def _create_examples(self, lines, split):
        return self._load_glue(lines, split, 1, 2, 3, True)


class RTE(_EntailmentTask):
    """Recognizing Textual Entailment."""

    def __init__(self, config, tokenizer):
        super().__init__(config, "rte", tokenizer)


class QNLI(_EntailmentTask):
    """Question NLI."""

    def __init__(self, config, tokenizer):
        super().__init__(config, "qnli", tokenizer)


class STS(_DoubledPairTask, glue.RegressionTask):
    """Semantic Textual Similarity Benchmark, scores 0-5."""

    def __init__(self, config, tokenizer):
        super().__init__(config, "sts", tokenizer, 0.0, 5.0)

    def _create_examples(self, lines, split):
        if split == "test":
            return self._load_glue(lines, split, -2, -1, None, True)
        return self._with_swapped(lines, split, -3, -2, -1)


GLUE_TASKS = {
    "cola": CoLA,
    "sst": SST,
    "mrpc": MRPC,
    "sts": STS,
    "qqp": QQP,
    "mnli": MNLI,
    "qnli": QNLI,
    "rte": RTE,
}
