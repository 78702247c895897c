"""CoNLL-2000 chunking as span-level sequence tagging.

Port of finetune/tagging/tagging_tasks.py (`TaggingTask`): the CoNLL column
reader, BIO -> spans -> BIOES labels (with tagging_utils.py `get_tags`), the
label mapping pickle, `tokenize_and_align` (always lower-cased, no CJK
splitting) and the tagging features (first sub-token positions, segment id
1 for every token, the original truncation heuristic).
"""

import logging
import os
import pickle

import tensorflow as tf

from electra_tf import errors
from electra_tf.finetuning import scorers
from electra_tf.finetuning import task

logger = logging.getLogger(__name__)

LABEL_ENCODING = "BIOES"


def get_tags(span_labels, length, encoding):
    """Tag sequence of `length` for the spans, in an encoding such as BIOES."""
    tags = ["O"] * length
    for start, end, kind in span_labels:
        for i in range(start, end + 1):
            tags[i] = "I-" + kind
        if "E" in encoding:
            tags[end] = "E-" + kind
        if "B" in encoding:
            tags[start] = "B-" + kind
        if "S" in encoding and start == end:
            tags[start] = "S-" + kind
    return tags


class TaggingExample(task.Example):
    """Words of a sentence and their label ids (BIOES tags, mapped)."""

    def __init__(self, eid, task_name, words, tags, label_mapping):
        super().__init__(task_name)
        self.eid = eid
        self.words = words
        spans = scorers.get_span_labels(tags)
        labels = get_tags(spans, len(words), LABEL_ENCODING)
        self.labels = [label_mapping[label] for label in labels]


def tokenize_and_align(tokenizer, words, cased=False):
    """Wordpieces of `[CLS] words [SEP]`, one list per word.

    Each word is cleaned, lower-cased and accent-stripped unless `cased`
    (the original never sets it), split on punctuation and wordpieced.
    """
    basic = tokenizer.basic_tokenizer
    tokenized_words = []
    for word in ["[CLS]"] + list(words) + ["[SEP]"]:
        word = basic._clean_text(word)
        if word in ("[CLS]", "[SEP]"):
            word_toks = [word]
        else:
            if not cased:
                word = basic._run_strip_accents(word.lower())
            word_toks = basic._run_split_on_punc(word)
        tokenized_word = []
        for word_tok in word_toks:
            tokenized_word += tokenizer.wordpiece_tokenizer.tokenize(word_tok)
        tokenized_words.append(tokenized_word)
    return tokenized_words


class TaggingTask(task.Task):
    """Span-level tagging read from CoNLL files (`<split>.txt`).

    The label set is the sorted union of the BIOES tags of the train, dev and
    test files that exist, pickled once under `preprocessed_data_dir`.
    """

    head_type = "tagging"

    def __init__(self, config, name, tokenizer):
        super().__init__(config, name, tokenizer)
        self.label_mapping_path = os.path.join(
            config.preprocessed_data_dir,
            ("debug_" if config.debug else "") + name + "_label_mapping.pkl",
        )
        self._label_mapping = None

    @property
    def num_labels(self):
        return len(self.get_label_mapping())

    def cache_settings(self):
        return {"label_mapping": sorted(self.get_label_mapping().items())}

    def get_examples(self, split):
        sentences = self._get_labeled_sentences(split)
        label_mapping = self.get_label_mapping(split, sentences)
        examples = []
        for i, (words, tags) in enumerate(sentences):
            try:
                examples.append(
                    TaggingExample(i, self.name, words, tags, label_mapping)
                )
            except KeyError as e:
                raise errors.DataError(
                    f"Task '{self.name}' {split} sentence {i}: tag "
                    f"{e.args[0]!r} is not in the label mapping "
                    f"{self.label_mapping_path} "
                    f"({sorted(label_mapping)}). Delete that file to rebuild "
                    "it from the current data."
                ) from None
        return examples

    def get_label_mapping(self, provided_split=None, provided_sentences=None):
        """Tag -> id: built from the raw files once, then read back."""
        if self._label_mapping is not None:
            return self._label_mapping
        if tf.io.gfile.exists(self.label_mapping_path):
            with tf.io.gfile.GFile(self.label_mapping_path, "rb") as f:
                self._label_mapping = pickle.load(f)
            return self._label_mapping
        logger.info("Writing label mapping for task %s", self.name)
        tags = set()
        directory = self.config.raw_data_dir(self.name)
        for split in ("train", "dev", "test"):
            if not tf.io.gfile.exists(os.path.join(directory, split + ".txt")):
                continue
            if split == provided_split:
                sentences = provided_sentences
            else:
                sentences = self._get_labeled_sentences(split)
            for _, sentence_tags in sentences:
                spans = scorers.get_span_labels(sentence_tags)
                n = len(sentence_tags)
                tags.update(get_tags(spans, n, LABEL_ENCODING))
        if not tags:
            self.raw_file("train.txt")  # a clear error if nothing is there
            raise errors.DataError(
                f"Task '{self.name}': the CoNLL files in {directory} contain "
                "no tagged words."
            )
        mapping = {label: i for i, label in enumerate(sorted(tags))}
        tf.io.gfile.makedirs(os.path.dirname(self.label_mapping_path))
        with tf.io.gfile.GFile(self.label_mapping_path, "wb") as f:
            pickle.dump(mapping, f, protocol=pickle.HIGHEST_PROTOCOL)
        self._label_mapping = mapping
        return mapping

    def _get_labeled_sentences(self, split):
        """(words, tags) per sentence: first and last column of each line."""
        sentences = []
        sentence = []
        with tf.io.gfile.GFile(self.raw_file(split + ".txt"), "r") as f:
            for line in f:
                fields = line.strip().split()
                if not fields:
                    if sentence:
                        words, tags = zip(*sentence)
                        sentences.append((words, tags))
                        sentence = []
                        if self.config.debug and len(sentences) > 100:
                            return sentences
                    continue
                if fields[0] == "-DOCSTART-":
                    continue
                sentence.append((fields[0], fields[-1]))
        # Deviation from reference: the original drops a last sentence
        # that is not followed by a blank line.
        if sentence:
            words, tags = zip(*sentence)
            sentences.append((words, tags))
        return sentences

    def featurize(self, example, is_training, log=False):
        max_len = self.config.max_seq_length
        vocab = self._tokenizer.vocab
        words_to_tokens = tokenize_and_align(self._tokenizer, example.words)
        input_ids = []
        tagged_positions = []
        for word_tokens in words_to_tokens:
            # The original's conservative truncation: room for one token per
            # remaining word is assumed even after words were consumed.
            if len(words_to_tokens) + len(input_ids) + 1 > max_len:
                input_ids.append(vocab["[SEP]"])
                break
            if "[CLS]" not in word_tokens and "[SEP]" not in word_tokens:
                tagged_positions.append(len(input_ids))
            input_ids += [vocab[token] for token in word_tokens]

        def pad(values):
            return list(values) + [0] * (max_len - len(values))

        features = {
            "input_ids": pad(input_ids),
            "input_mask": pad([1] * len(input_ids)),
            "segment_ids": pad([1] * len(input_ids)),
            "task_id": self.task_id,
            self.name + "_eid": example.eid,
            self.name + "_labels": pad(example.labels[:max_len]),
            self.name + "_labels_mask": pad([1.0] * len(tagged_positions)),
            self.name + "_labeled_positions": pad(tagged_positions),
        }
        if log:
            logger.info("%s example %d: %s", self.name, example.eid, features)
        return [features]

    def get_feature_specs(self):
        length = [self.config.max_seq_length]
        return [
            task.FeatureSpec(self.name + "_eid", []),
            task.FeatureSpec(self.name + "_labels", length),
            task.FeatureSpec(
                self.name + "_labels_mask", length, is_int_feature=False
            ),
            task.FeatureSpec(self.name + "_labeled_positions", length),
        ]

    def get_scorer(self, split="dev"):
        return scorers.EntityLevelF1Scorer(self.get_label_mapping())


class Chunking(TaggingTask):
    """CoNLL-2000 text chunking."""

    def __init__(self, config, tokenizer):
        super().__init__(config, "chunk", tokenizer)


TAGGING_TASKS = {"chunk": Chunking}
