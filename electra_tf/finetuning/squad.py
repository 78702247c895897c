"""Extractive question answering: SQuAD 1.1 / 2.0 and MRQA.

Port of finetune/qa/qa_tasks.py (`QATask`): reading SQuAD JSON and MRQA
JSON-lines into examples (whitespace doc tokens, `char_to_word_offset`,
answer checks), `_improve_answer_span`, the doc-stride windows with
`_check_is_max_context`, and the QA features. Decoding and scoring are in
finetuning/qa_metrics.py.
"""

import collections
import json
import logging

import tensorflow as tf

from electra_tf import errors
from electra_tf.finetuning import qa_metrics
from electra_tf.finetuning import task

logger = logging.getLogger(__name__)

DocSpan = collections.namedtuple("DocSpan", ["start", "length"])


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


def _check_is_max_context(doc_spans, cur_span_index, position):
    """Whether span `cur_span_index` gives token `position` the most context.

    Score = min(left, right context) + 0.01 x span length; first best wins.
    """
    best_score = None
    best_span_index = None
    for span_index, doc_span in enumerate(doc_spans):
        end = doc_span.start + doc_span.length - 1
        if position < doc_span.start or position > end:
            continue
        left = position - doc_span.start
        right = end - position
        score = min(left, right) + 0.01 * doc_span.length
        if best_score is None or score > best_score:
            best_score = score
            best_span_index = span_index
    return cur_span_index == best_span_index


def _improve_answer_span(
    doc_tokens, input_start, input_end, tokenizer, orig_answer_text
):
    """Tightest sub-token span whose text equals the tokenised answer."""
    tok_answer_text = " ".join(tokenizer.tokenize(orig_answer_text))
    for new_start in range(input_start, input_end + 1):
        for new_end in range(input_end, new_start - 1, -1):
            text_span = " ".join(doc_tokens[new_start : new_end + 1])
            if text_span == tok_answer_text:
                return new_start, new_end
    return input_start, input_end


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
        config = self.config
        tokenizer = self._tokenizer
        query_tokens = tokenizer.tokenize(example.question_text)
        query_tokens = query_tokens[: config.max_query_length]

        tok_to_orig_index = []
        orig_to_tok_index = []
        all_doc_tokens = []
        for i, token in enumerate(example.doc_tokens):
            orig_to_tok_index.append(len(all_doc_tokens))
            for sub_token in tokenizer.tokenize(token):
                tok_to_orig_index.append(i)
                all_doc_tokens.append(sub_token)

        tok_start = tok_end = None
        if is_training and not example.is_impossible:
            tok_start = orig_to_tok_index[example.start_position]
            if example.end_position < len(example.doc_tokens) - 1:
                tok_end = orig_to_tok_index[example.end_position + 1] - 1
            else:
                tok_end = len(all_doc_tokens) - 1
            tok_start, tok_end = _improve_answer_span(
                all_doc_tokens,
                tok_start,
                tok_end,
                tokenizer,
                example.orig_answer_text,
            )

        # [CLS], [SEP] and [SEP]
        max_tokens_for_doc = config.max_seq_length - len(query_tokens) - 3
        if max_tokens_for_doc <= 0:
            raise ValueError(
                f"max_seq_length {config.max_seq_length} leaves no room for "
                f"the passage after a {len(query_tokens)}-token question; "
                "raise max_seq_length or lower max_query_length."
            )
        doc_spans = []
        start_offset = 0
        while start_offset < len(all_doc_tokens):
            length = min(len(all_doc_tokens) - start_offset, max_tokens_for_doc)
            doc_spans.append(DocSpan(start=start_offset, length=length))
            if start_offset + length == len(all_doc_tokens):
                break
            start_offset += min(length, config.doc_stride)

        all_features = []
        for doc_span_index, doc_span in enumerate(doc_spans):
            tokens = ["[CLS]"] + query_tokens + ["[SEP]"]
            segment_ids = [0] * len(tokens)
            token_to_orig_map = {}
            token_is_max_context = {}
            for i in range(doc_span.length):
                split_token_index = doc_span.start + i
                orig_index = tok_to_orig_index[split_token_index]
                token_to_orig_map[len(tokens)] = orig_index
                token_is_max_context[len(tokens)] = _check_is_max_context(
                    doc_spans, doc_span_index, split_token_index
                )
                tokens.append(all_doc_tokens[split_token_index])
                segment_ids.append(1)
            tokens.append("[SEP]")
            segment_ids.append(1)
            input_ids = tokenizer.convert_tokens_to_ids(tokens)
            input_mask = [1] * len(input_ids)
            pad = [0] * (config.max_seq_length - len(input_ids))

            features = {
                "task_id": self.task_id,
                self.name + "_eid": 1000 * example.eid + doc_span_index,
                "input_ids": input_ids + pad,
                "input_mask": input_mask + pad,
                "segment_ids": segment_ids + pad,
            }
            if for_eval:
                name = self.name
                features[name + "_doc_span_index"] = doc_span_index
                features[name + "_tokens"] = tokens
                features[name + "_token_to_orig_map"] = token_to_orig_map
                features[name + "_token_is_max_context"] = token_is_max_context
            if is_training:
                start_position = end_position = 0
                doc_end = doc_span.start + doc_span.length - 1
                if (
                    not example.is_impossible
                    and tok_start >= doc_span.start
                    and tok_end <= doc_end
                ):
                    doc_offset = len(query_tokens) + 2
                    start_position = tok_start - doc_span.start + doc_offset
                    end_position = tok_end - doc_span.start + doc_offset
                name = self.name
                features[name + "_start_positions"] = start_position
                features[name + "_end_positions"] = end_position
                features[name + "_is_impossible"] = int(example.is_impossible)
            if log:
                logger.info(
                    "%s example %d span %d: tokens %s",
                    self.name,
                    example.eid,
                    doc_span_index,
                    " ".join(tokens),
                )
            all_features.append(features)
        return all_features

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
