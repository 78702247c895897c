"""Best answer span of one QA window, in the graph.

Port of the candidate filter and ranking of finetune/qa/qa_metrics.py
`write_predictions` for a single window: with joint prediction the
candidates are the beam's (start, end) pairs scored by start + end log
probabilities, otherwise the top `n_best_size` starts and ends by logit;
a span must lie in the passage, end >= start and be at most
`max_answer_length` tokens. The text is the passage between the first and
last word of the span (the Python pipeline also runs `get_final_text`).
"""

import tensorflow as tf

# Legend: B batch, K beam (or n-best), L sequence, W passage words.


def _candidates(out, settings):
    """Start, end [B, K, K] and their scores."""
    if settings["joint_prediction"]:
        starts = out["start_top_index"]  # [B, K]
        start_scores = out["start_top_log_probs"]
        ends = out["end_top_index"]  # [B, K, K]
        end_scores = out["end_top_log_probs"]
    else:
        k = settings["n_best_size"]
        start_scores, starts = tf.math.top_k(out["start_logits"], k)
        end_top, end_idx = tf.math.top_k(out["end_logits"], k)
        ends = tf.tile(end_idx[:, None], [1, k, 1])
        end_scores = tf.tile(end_top[:, None], [1, k, 1])
    starts = tf.broadcast_to(starts[:, :, None], tf.shape(ends))
    scores = start_scores[:, :, None] + end_scores
    return starts, ends, scores


def decode(out, info, settings):
    """`answer_text`, `answer_start`/`answer_end` (characters, end
    exclusive), `score` and `null_score` [B] from the span head's outputs
    and `TextPacker.pack_qa`'s decoding info."""
    starts, ends, scores = _candidates(out, settings)
    first = info["doc_offset"][:, None, None]
    last = first + info["doc_length"][:, None, None] - 1
    valid = (
        (starts >= first)
        & (ends <= last)
        & (ends >= starts)
        & (ends - starts + 1 <= settings["max_answer_length"])
    )
    batch = tf.shape(scores)[0]
    flat_scores = tf.reshape(tf.where(valid, scores, -1e30), [batch, -1])
    best = tf.argmax(flat_scores, axis=-1, output_type=tf.int32)  # [B]
    found = tf.reduce_any(tf.reshape(valid, [batch, -1]), axis=-1)
    pick = lambda x: tf.gather(tf.reshape(x, [batch, -1]), best, batch_dims=1)
    start_tok = pick(starts) - info["doc_offset"]
    end_tok = pick(ends) - info["doc_offset"]
    token_word = info["token_word"]  # [B, T]
    safe = lambda i: tf.clip_by_value(i, 0, tf.shape(token_word)[1] - 1)
    first_word = tf.gather(token_word, safe(start_tok), batch_dims=1)
    last_word = tf.gather(token_word, safe(end_tok), batch_dims=1)
    begin = tf.gather(info["word_begin"], first_word, batch_dims=1)  # bytes
    end = tf.gather(info["word_end"], last_word, batch_dims=1)
    begin = tf.where(found, begin, 0)
    end = tf.where(found, end, 0)
    context = info["context"]
    # Deviation from reference: qa_metrics.get_final_text trims the words'
    # text to the predicted sub-tokens; in the graph the answer is the whole
    # words (the Python pipeline runs get_final_text).
    text = tf.strings.substr(context, begin, end - begin)
    char_start = tf.strings.length(
        tf.strings.substr(context, tf.zeros_like(begin), begin),
        unit="UTF8_CHAR",
    )
    char_end = char_start + tf.strings.length(text, unit="UTF8_CHAR")
    if settings["answerable_classifier"]:
        null_score = out["answerable_logit"]
    else:
        null_score = out["start_logits"][:, 0] + out["end_logits"][:, 0]
    return {
        "answer_text": text,
        "answer_start": char_start,
        "answer_end": char_end,
        "score": tf.where(found, pick(scores), -1e30),
        "null_score": null_score,
    }
