"""Span <-> tag conversion for sequence tagging.

Port of finetune/tagging/tagging_utils.py: `get_span_labels` and `get_tags`.
Chunking converts the CoNLL BIO tags to spans and back to BIOES;
the entity-level scorer compares span sets.
"""


def _split_tag(tag):
    """(prefix, type) of a tag such as "B-NP"; "O" has no prefix."""
    if tag == "O":
        return None, "O"
    prefix, sep, kind = tag.partition("-")
    if not sep or not kind:
        raise ValueError(
            f"Tag '{tag}' is not 'O' nor '<prefix>-<type>' (e.g. 'B-NP'); "
            "fix the tag column of the tagging file."
        )
    return prefix, kind


def get_span_labels(sentence_tags, inv_label_mapping=None):
    """Spans (start, end, type) of a tag sequence, scanned as the original.

    `I-`/`E-` tags continue the open span (an `I-` after `O` opens one, a
    type change inside `I-` tags does not close it); `B-`, `S-` and `O`
    close the open span. With `inv_label_mapping`, tags are label ids.
    """
    if inv_label_mapping:
        sentence_tags = [inv_label_mapping[i] for i in sentence_tags]
    spans = []
    last = "O"
    start = -1
    for i, tag in enumerate(sentence_tags):
        prefix, _ = _split_tag(tag)
        if (prefix in ("S", "B") or tag == "O") and last != "O":
            spans.append((start, i - 1, _split_tag(last)[1]))
        if prefix in ("B", "S") or last == "O":
            start = i
        last = tag
    if len(sentence_tags) and sentence_tags[-1] != "O":
        spans.append(
            (start, len(sentence_tags) - 1, _split_tag(sentence_tags[-1])[1])
        )
    return spans


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
