"""The doc-stride windows of a QA example and their features.

Port of the featurisation of finetune/qa/qa_tasks.py (`QATask.featurize`,
`_check_is_max_context`, `_improve_answer_span`): the question (at most
`max_query_length` tokens), then windows of the wordpieced paragraph that
start every `doc_stride` tokens; each window's gold span, or [CLS] when the
answer is not in it.
"""

import collections
import logging

logger = logging.getLogger(__name__)

DocSpan = collections.namedtuple("DocSpan", ["start", "length"])


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


def _doc_spans(num_tokens, max_tokens_for_doc, doc_stride):
    """Windows of at most `max_tokens_for_doc` tokens, `doc_stride` apart,
    until one reaches the end."""
    doc_spans = []
    start_offset = 0
    while start_offset < num_tokens:
        length = min(num_tokens - start_offset, max_tokens_for_doc)
        doc_spans.append(DocSpan(start=start_offset, length=length))
        if start_offset + length == num_tokens:
            break
        start_offset += min(length, doc_stride)
    return doc_spans


def featurize(
    example,
    tokenizer,
    config,
    name,
    task_id,
    is_training,
    log=False,
    for_eval=False,
):
    """Feature dicts of `example` (a `squad.QAExample`), one per window.

    `name` prefixes the task's features; `for_eval` adds the window's
    tokens and maps back to doc words (for n-best decoding).
    """
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
    doc_spans = _doc_spans(
        len(all_doc_tokens), max_tokens_for_doc, config.doc_stride
    )
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
            "task_id": task_id,
            name + "_eid": 1000 * example.eid + doc_span_index,
            "input_ids": input_ids + pad,
            "input_mask": input_mask + pad,
            "segment_ids": segment_ids + pad,
        }
        if for_eval:
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
            features[name + "_start_positions"] = start_position
            features[name + "_end_positions"] = end_position
            features[name + "_is_impossible"] = int(example.is_impossible)
        if log:
            logger.info(
                "%s example %d span %d: tokens %s",
                name,
                example.eid,
                doc_span_index,
                " ".join(tokens),
            )
        all_features.append(features)
    return all_features
