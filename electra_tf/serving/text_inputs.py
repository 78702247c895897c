"""Raw text -> model inputs inside the graph, as the fine-tuning tasks pack
them.

Tokenization is `TFTextTokenizer` (FullTokenizer's exact ids);
packing ports finetune/classification/classification_tasks.py
(`[CLS] a [SEP] (b [SEP])`, `_truncate_seq_pair`),
finetune/qa/qa_tasks.py `featurize` (query cut to `max_query_length`, the
passage's first window only) and finetune/tagging/tagging_tasks.py
`featurize` (first sub-token per word, its conservative truncation). Each
packer also says whether the text was cut (`truncated` [B] bool).
"""

import os

import tensorflow as tf
import tensorflow_text as tf_text

from electra_tf import tf_text_tokenizer, tokenization
from electra_tf.errors import MissingInputError

# Legend: B batch, L packed length, T tokens of a text, W words.

# finetune/qa/qa_tasks.py: is_whitespace splits the passage into words.
QA_WHITESPACE = "[ \\t\\r\\n\\x{202F}]+"


def require_vocab(description):
    """The model's vocab path; MissingInputError if it does not exist."""
    path = description.vocab_file
    if not path or not os.path.exists(path):
        raise MissingInputError(
            f"The vocab of '{description.path}' is missing (looked for "
            f"'{path}'); put the vocab.txt the model was trained with there "
            "or beside the checkpoint."
        )
    return path


def _ragged_take(ids, counts):
    """The first `counts[b]` items of each row of a ragged [B, (T)]."""
    positions = tf.ragged.range(tf.cast(ids.row_lengths(), tf.int32))
    return tf.ragged.boolean_mask(ids, positions < counts[:, None])


def _fill_like(rows, value):
    """A ragged int64 [B, (1)] of `value` (one per row of `rows`)."""
    return tf.RaggedTensor.from_tensor(
        tf.fill([rows.nrows(), 1], tf.constant(value, tf.int64))
    )


def truncate_pair_lengths(len_a, len_b, budget):
    """Lengths after `_truncate_seq_pair` (pop from the longer list, b on
    ties, until the sum fits `budget`), in closed form."""
    half_up = (budget + 1) // 2
    new_a = tf.minimum(len_a, tf.maximum(budget - len_b, half_up))
    return new_a, tf.minimum(len_b, budget - new_a)


class TextPacker(tf.Module):
    """Tokenizes and packs string tensors for the model.

    Args:
      vocab_file, do_lower_case, strip_accents: the model's tokenizer.
      max_seq_length: packed length limit (the model's maximum).
      max_query_length: question limit for QA.

    `pack(text_a, text_b=None, masked=False)` returns int32 `input_ids`, `input_mask`,
    `segment_ids` [B, L] (L = longest packed row, at most max_seq_length)
    and `truncated` [B].
    """

    def __init__(
        self,
        vocab_file,
        do_lower_case=True,
        strip_accents=True,
        max_seq_length=128,
        max_query_length=64,
        name=None,
    ):
        super().__init__(name=name)
        self.tokenizer = tf_text_tokenizer.TFTextTokenizer(
            vocab_file, do_lower_case, strip_accents
        )
        vocab = tokenization.load_vocab(vocab_file)
        inv = {i: t for t, i in vocab.items()}
        size = max(vocab.values()) + 1
        self.vocab_tokens = tf.constant([inv.get(i, "") for i in range(size)])
        self.cls_id = vocab["[CLS]"]
        self.sep_id = vocab["[SEP]"]
        self.mask_id = vocab["[MASK]"]
        self.max_seq_length = max_seq_length
        self.max_query_length = max_query_length

    def tokens(self, ids):
        """Vocab strings of int ids (any shape)."""
        return tf.gather(self.vocab_tokens, tf.cast(ids, tf.int32))

    def _to_inputs(self, pieces, segments, pad_to=None):
        """Concatenates ragged parts [B, (n)] -> int32 features padded to
        the longest row, or to `pad_to`."""
        ids = tf.concat(pieces, axis=1)
        shape = None if pad_to is None else [None, pad_to]
        segment_ids = tf.concat(
            [tf.ones_like(p, tf.int32) * s for p, s in zip(pieces, segments)],
            axis=1,
        )
        return {
            "input_ids": tf.cast(
                ids.to_tensor(0, shape=shape), tf.int32
            ),  # [B, L]
            "input_mask": tf.ones_like(ids, tf.int32).to_tensor(0, shape=shape),
            "segment_ids": segment_ids.to_tensor(0, shape=shape),
        }

    def tokenize_masked(self, texts):
        """Ids of texts [B] in which each literal `[MASK]` is the mask id."""
        # Deviation from reference: the original tokenizer splits "[MASK]"
        # into "[", "mask", "]"; fill-mask needs the token itself.
        parts = tf.strings.split(texts, "[MASK]")  # [B, (S)]
        pieces = self.tokenizer.tokenize(parts.flat_values)  # [sum S, (P)]
        index = tf.ragged.range(parts.row_lengths())
        not_last = (index < parts.row_lengths()[:, None] - 1).flat_values
        mask = tf.ragged.boolean_mask(
            tf.fill(
                [tf.size(not_last), 1], tf.constant(self.mask_id, tf.int64)
            ),
            not_last[:, None],
        )
        return parts.with_flat_values(
            tf.concat([pieces, mask], axis=1)
        ).merge_dims(
            1, 2
        )  # [B, (T)]

    def pack(self, text_a, text_b=None, masked=False):
        if masked:
            ids_a = self.tokenize_masked(text_a)  # [B, (T)]
        else:
            ids_a = self.tokenizer.tokenize(text_a)  # [B, (T)]
        len_a = tf.cast(ids_a.row_lengths(), tf.int32)
        cls, sep = _fill_like(ids_a, self.cls_id), _fill_like(
            ids_a, self.sep_id
        )
        if text_b is None:
            keep_a = tf.minimum(len_a, self.max_seq_length - 2)
            features = self._to_inputs(
                [cls, _ragged_take(ids_a, keep_a), sep], [0, 0, 0]
            )
            features["truncated"] = keep_a < len_a
            return features
        ids_b = self.tokenizer.tokenize(text_b)
        len_b = tf.cast(ids_b.row_lengths(), tf.int32)
        keep_a, keep_b = truncate_pair_lengths(
            len_a, len_b, self.max_seq_length - 3
        )
        # As the original, a b without tokens packs as a single text.
        has_b = len_b > 0
        keep_a = tf.where(
            has_b, keep_a, tf.minimum(len_a, self.max_seq_length - 2)
        )
        sep_b = tf.ragged.boolean_mask(sep, has_b[:, None])
        features = self._to_inputs(
            [
                cls,
                _ragged_take(ids_a, keep_a),
                sep,
                _ragged_take(ids_b, keep_b),
                sep_b,
            ],
            [0, 0, 0, 1, 1],
        )
        features["truncated"] = (keep_a < len_a) | (keep_b < len_b)
        return features

    def pack_qa(self, question, context):
        """`[CLS] question [SEP] passage [SEP]`, the passage's first window.

        Also returns, for decoding: `doc_offset` [B] (position of the first
        passage token), `doc_length` [B], `token_word` [B, T'] (word index of
        each kept passage token), `word_begin`/`word_end` [B, W] (byte
        offsets of the passage words) and the cleaned `context` [B].
        """
        context = tf.strings.unicode_transcode(
            context, "UTF-8", "UTF-8", errors="ignore"
        )
        query = self.tokenizer.tokenize(question)
        len_q = tf.minimum(
            tf.cast(query.row_lengths(), tf.int32), self.max_query_length
        )
        query = _ragged_take(query, len_q)
        words, begin, end = tf_text.regex_split_with_offsets(
            context, QA_WHITESPACE
        )  # [B, (W)]
        pieces = self.tokenizer.tokenize(words.flat_values)  # [sum W, (P)]
        doc = words.with_flat_values(pieces)  # [B, (W), (P)]
        word_index = tf.ragged.range(words.row_lengths())  # [B, (W)]
        token_word = doc.with_flat_values(
            tf.gather(word_index.flat_values, pieces.value_rowids())
        ).merge_dims(
            1, 2
        )  # [B, (T)]
        doc = doc.merge_dims(1, 2)  # [B, (T)]
        len_doc = tf.cast(doc.row_lengths(), tf.int32)
        keep = tf.minimum(len_doc, self.max_seq_length - len_q - 3)
        cls, sep = _fill_like(query, self.cls_id), _fill_like(
            query, self.sep_id
        )
        # Padded to max_seq_length as the original: the span head's beam
        # (top-k over positions) needs at least beam_size positions.
        features = self._to_inputs(
            [cls, query, sep, _ragged_take(doc, keep), sep],
            [0, 0, 0, 1, 1],
            pad_to=self.max_seq_length,
        )
        features["truncated"] = keep < len_doc
        decode = {
            "doc_offset": len_q + 2,
            "doc_length": keep,
            "token_word": tf.cast(
                _ragged_take(token_word, keep).to_tensor(0), tf.int32
            ),
            "word_begin": tf.cast(begin.to_tensor(0), tf.int32),
            "word_end": tf.cast(end.to_tensor(0), tf.int32),
            "context": context,
        }
        return features, decode

    def pack_words(self, text):
        """Tagging inputs: whitespace words, each word's sub-tokens, the
        original's truncation; `labeled_positions` [B, W] of the tagged
        (first) sub-tokens, `words` [B, W] and `num_tagged` [B]."""
        words = tf_text.regex_split(
            text, self.tokenizer._classes["split_space"]
        )  # [B, (W)]
        # Deviation from reference: tagging_tasks.py tokenizes each word
        # without spacing CJK ideographs; here a word's pieces come from
        # the full tokenizer, which does (differs only inside CJK words).
        pieces = self.tokenizer.tokenize(words.flat_values)  # [sum W, (P)]
        cls, sep = _fill_like(words, self.cls_id), _fill_like(
            words, self.sep_id
        )
        items = tf.concat(
            [
                tf.expand_dims(cls, 2),
                words.with_flat_values(pieces),
                tf.expand_dims(sep, 2),
            ],
            axis=1,
        )  # [B, (W + 2), (P)]
        n_items = tf.cast(items.row_lengths(), tf.int32)  # W + 2
        item_len = tf.cast(items.row_lengths(axis=2), tf.int32).to_tensor(0)
        starts = tf.math.cumsum(item_len, axis=1, exclusive=True)
        valid = tf.range(tf.shape(starts)[1])[None, :] < n_items[:, None]
        # An item is kept while n_items + tokens so far + 1 <= max length.
        kept = valid & (starts + n_items[:, None] + 1 <= self.max_seq_length)
        n_kept = tf.reduce_sum(tf.cast(kept, tf.int32), axis=1)
        ids = _ragged_take(items, n_kept).merge_dims(1, 2)
        extra_sep = tf.ragged.boolean_mask(sep, (n_kept < n_items)[:, None])
        features = self._to_inputs([ids, extra_sep], [1, 1])
        # Tagged words: the kept items among 1 .. W.
        n_words = n_items - 2
        num_tagged = tf.maximum(tf.minimum(n_kept, n_items - 1) - 1, 0)
        positions = tf.RaggedTensor.from_tensor(starts[:, 1:], num_tagged)
        features["labeled_positions"] = positions.to_tensor(0)
        features["truncated"] = num_tagged < n_words
        return features, {
            "words": words.to_tensor(""),
            "num_tagged": num_tagged,
        }
