"""Extractive question answering: SQuAD 1.1 / 2.0 and MRQA.

Port of finetune/qa/qa_tasks.py (`QATask`): reading SQuAD JSON and MRQA
JSON-lines into examples (whitespace doc tokens, `char_to_word_offset`,
answer checks). The doc-stride windows and their features are in
finetuning/qa_features.py; decoding and scoring in finetuning/qa_metrics.py.
"""

import json
import logging

import tensorflow as tf

from electra_tf import errors
from electra_tf.finetuning import qa_features
from electra_tf.finetuning import qa_metrics
from electra_tf.finetuning import task

logger = logging.getLogger(__name__)


class QAExample(task.Example):
    """A question over a whitespace-tokenised paragraph.

    `start_position`/`end_position` are doc-token indices of the answer
    (training only; -1 for unanswerable questions).
    """

    def __init__(
        self,
        task_name,
        eid,
        qas_id,
        qid,
        question_text,
        doc_tokens,
        orig_answer_text=None,
        start_position=None,
        end_position=None,
        is_impossible=False,
    ):
        super().__init__(task_name)
        self.eid = eid
        self.qas_id = qas_id
        self.qid = qid
        self.question_text = question_text
        self.doc_tokens = doc_tokens
        self.orig_answer_text = orig_answer_text
        self.start_position = start_position
        self.end_position = end_position
        self.is_impossible = is_impossible


SQUAD_FORMAT = (
    'SQuAD files are {"data": [{"paragraphs": [{"context": str, "qas": '
    '[{"id": str, "question": str, "answers": [{"text": str, '
    '"answer_start": int}]}]}]}]}'
)
MRQA_FORMAT = (
    'MRQA lines are {"context": str, "qas": [{"qid": str, "question": str, '
    '"answers": [str], "detected_answers": [{"text": str, "char_spans": '
    "[[int, int]]}]}]}"
)


def _kind_name(kind):
    names = {str: "a string", int: "an integer", list: "a list"}
    return names.get(kind, "an object")


def _require(obj, key, kind, where, form):
    """`obj[key]`, or a `DataError` naming the file position and format."""
    value = obj.get(key) if isinstance(obj, dict) else None
    if isinstance(value, bool) or not isinstance(value, kind):
        found = "missing" if value is None else f"a {type(value).__name__}"
        raise errors.DataError(
            f"{where}: {key!r} is {found}, not {_kind_name(kind)}; fix the "
            f"file ({form})."
        )
    return value


def _load_json(text, where, form):
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise errors.DataError(
            f"{where} is not valid JSON ({e.msg} at line {e.lineno} column "
            f"{e.colno}); fix the file ({form})."
        ) from None


def is_whitespace(c):
    return c in " \t\r\n" or ord(c) == 0x202F


def _doc_tokens(paragraph_text):
    """Whitespace-split words and the word index of every character."""
    doc_tokens = []
    char_to_word_offset = []
    prev_is_whitespace = True
    for c in paragraph_text:
        if is_whitespace(c):
            prev_is_whitespace = True
        else:
            if prev_is_whitespace:
                doc_tokens.append(c)
            else:
                doc_tokens[-1] += c
            prev_is_whitespace = False
        char_to_word_offset.append(len(doc_tokens) - 1)
    return doc_tokens, char_to_word_offset


class QATask(task.Task):
    """A span-extraction QA task; `v2` adds unanswerable questions.

    Examples are cached per split so that eids agree between the
    featurised records and scoring. `example_failures[split]` counts
    training answers that could not be located in their paragraph.
    """

    head_type = "span"

    def __init__(self, config, name, tokenizer, v2=False):
        super().__init__(config, name, tokenizer)
        self.v2 = v2
        self._examples = {}
        self.example_failures = {}

    def cache_settings(self):
        return {
            "max_query_length": self.config.max_query_length,
            "doc_stride": self.config.doc_stride,
        }

    def get_examples(self, split):
        if split not in self._examples:
            examples = []
            self.example_failures[split] = 0
            for where, paragraph in self._read_paragraphs(split):
                self._add_examples(examples, paragraph, split, where)
            failures = self.example_failures[split]
            if failures:
                logger.warning(
                    "%s %s: skipped %d question(s) whose answer text does not "
                    "match its offsets (as the original does); see above.",
                    self.name,
                    split,
                    failures,
                )
            if failures and not examples:
                raise errors.DataError(
                    f"{self.name} {split}: none of the {failures} answers "
                    "matches its character offsets in the context; check "
                    "answer_start / char_spans of the data file."
                )
            logger.info("%s %s: %d examples", self.name, split, len(examples))
            self._examples[split] = examples
        return self._examples[split]

    def _read_paragraphs(self, split):
        raise NotImplementedError

    def _fail(self, split, qa, message):
        self.example_failures[split] += 1
        qid = qa.get("id", qa.get("qid"))
        logger.error("%s %s question %s: %s", self.name, split, qid, message)

    def _check_qa(self, qa, split, where):
        """The fields of a question that `split` needs, or a `DataError`."""
        form = self._format
        _require(qa, "question", str, where, form)
        _require(qa, self._id_key, str, where, form)
        impossible = self.v2 and qa.get("is_impossible")
        if split == "train" and not impossible:
            if "detected_answers" in qa:
                for answer in _require(
                    qa, "detected_answers", list, where, form
                ):
                    _require(answer, "text", str, where, form)
                    spans = _require(answer, "char_spans", list, where, form)
                    if not spans or not all(
                        isinstance(span, list)
                        and len(span) == 2
                        and all(type(i) is int for i in span)
                        for span in spans
                    ):
                        raise errors.DataError(
                            f"{where}: 'char_spans' must be [[start, end], "
                            f"...], got {spans!r}; fix the file ({form})."
                        )
            else:
                for answer in _require(qa, "answers", list, where, form):
                    _require(answer, "text", str, where, form)
                    _require(answer, "answer_start", int, where, form)
        elif split != "train" and "test" not in split:
            # what the official evaluation scripts read
            answers = _require(qa, "answers", list, where, form)
            for answer in answers:
                if not isinstance(answer, str):
                    _require(answer, "text", str, where, form)
            if not answers and not self.v2:
                raise errors.DataError(
                    f"{where}: 'answers' is empty; SQuAD 1.1 and MRQA "
                    "evaluation need at least one gold answer per question."
                )

    def _add_examples(self, examples, paragraph, split, where):
        form = self._format
        context = _require(paragraph, "context", str, where, form)
        qas = _require(paragraph, "qas", list, where, form)
        doc_tokens, char_to_word_offset = _doc_tokens(context)
        for q, qa in enumerate(qas):
            self._check_qa(qa, split, f"{where}.qas[{q}]")
            start_position = end_position = orig_answer_text = None
            is_impossible = False
            if split == "train":
                if self.v2:
                    is_impossible = bool(qa.get("is_impossible", False))
                if is_impossible:
                    start_position = end_position = -1
                    orig_answer_text = ""
                else:
                    if "detected_answers" in qa:  # MRQA
                        answers = qa["detected_answers"]
                        if answers:
                            offset = answers[0]["char_spans"][0][0]
                    else:  # SQuAD
                        answers = qa["answers"]
                        if answers:
                            offset = answers[0]["answer_start"]
                    if not answers:
                        self._fail(split, qa, "answerable but no answers")
                        continue
                    orig_answer_text = answers[0]["text"]
                    last_char = offset + len(orig_answer_text) - 1
                    if offset < 0 or last_char >= len(char_to_word_offset):
                        self._fail(split, qa, "answer outside the context")
                        continue
                    start_position = char_to_word_offset[offset]
                    end_position = char_to_word_offset[last_char]
                    span = doc_tokens[start_position : end_position + 1]
                    actual = " ".join(span)
                    cleaned = " ".join(orig_answer_text.split())
                    if actual.lower().find(cleaned.lower()) == -1:
                        self._fail(
                            split,
                            qa,
                            f"answer {cleaned!r} is not at its offset "
                            f"(found {actual!r})",
                        )
                        continue
            examples.append(
                QAExample(
                    task_name=self.name,
                    eid=len(examples),
                    qas_id=qa.get("id"),
                    qid=qa.get("qid"),
                    question_text=qa["question"],
                    doc_tokens=doc_tokens,
                    orig_answer_text=orig_answer_text,
                    start_position=start_position,
                    end_position=end_position,
                    is_impossible=is_impossible,
                )
            )

    def get_feature_specs(self):
        return [
            task.FeatureSpec(self.name + "_eid", []),
            task.FeatureSpec(self.name + "_start_positions", []),
            task.FeatureSpec(self.name + "_end_positions", []),
            task.FeatureSpec(self.name + "_is_impossible", []),
        ]

    def featurize(self, example, is_training, log=False, for_eval=False):
        """The windows of `example` (`qa_features.featurize`)."""
        return qa_features.featurize(
            example,
            self._tokenizer,
            self.config,
            self.name,
            self.task_id,
            is_training,
            log=log,
            for_eval=for_eval,
        )

    def get_scorer(self, split="dev"):
        return qa_metrics.SpanBasedQAScorer(self.config, self, split, self.v2)


class SQuADTask(QATask):
    """SQuAD JSON (`<split>.json`, `<split>-debug.json` in debug mode)."""

    _format = SQUAD_FORMAT
    _id_key = "id"

    def data_file(self, split):
        suffix = "-debug" if self.config.debug else ""
        return self.raw_file(split + suffix + ".json")

    def _read_paragraphs(self, split):
        """(position, paragraph) pairs; positions name the file."""
        path = self.data_file(split)
        with tf.io.gfile.GFile(path, "r") as f:
            dataset = _load_json(f.read(), path, SQUAD_FORMAT)
        data = _require(dataset, "data", list, path, SQUAD_FORMAT)
        for a, entry in enumerate(data):
            where = f"{path}: data[{a}]"
            paragraphs = _require(
                entry, "paragraphs", list, where, SQUAD_FORMAT
            )
            for p, paragraph in enumerate(paragraphs):
                yield f"{where}.paragraphs[{p}]", paragraph


class MRQATask(QATask):
    """MRQA JSON lines (`<split>.jsonl`, a `header` line skipped)."""

    _format = MRQA_FORMAT
    _id_key = "qid"

    def data_file(self, split):
        return self.raw_file(split + ".jsonl")

    def _read_paragraphs(self, split):
        """(position, paragraph) pairs; positions name file and line."""
        path = self.data_file(split)
        with tf.io.gfile.GFile(path, "r") as f:
            for i, line in enumerate(f):
                if self.config.debug and i > 10:
                    break
                if not line.strip():
                    continue
                where = f"{path} line {i + 1}"
                paragraph = _load_json(line, where, MRQA_FORMAT)
                if isinstance(paragraph, dict) and "header" in paragraph:
                    continue
                yield where, paragraph


def _squad(name, v2):
    return lambda config, tokenizer: SQuADTask(config, name, tokenizer, v2=v2)


def _mrqa(name):
    return lambda config, tokenizer: MRQATask(config, name, tokenizer)


QA_TASKS = {
    "squad": _squad("squad", True),
    "squadv1": _squad("squadv1", False),
    "newsqa": _mrqa("newsqa"),
    "naturalqs": _mrqa("naturalqs"),
    "triviaqa": _mrqa("triviaqa"),
    "searchqa": _mrqa("searchqa"),
}
