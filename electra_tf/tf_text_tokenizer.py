"""FullTokenizer's ids as a TensorFlow graph (tf.data, exported models).

tf_text.FastWordpieceTokenizer after regex pre-tokenisation whose character
classes are generated from Python's own Unicode tables through the reference
predicates in tokenization.py; tests/test_tokenization.py checks it against
FullTokenizer on every code point.
"""

import functools
import sys
import unicodedata

import tensorflow as tf
import tensorflow_text as tf_text

from electra_tf.tokenization import (
    CJK_RANGES,
    _is_punctuation,
    check_vocab,
    load_vocab,
)


class TFTextTokenizer(tf.Module):
    """The FullTokenizer algorithm as a TensorFlow graph (tf.data, SavedModel).

    Pre-tokenisation is done with `tf.strings` regexes whose character classes
    are generated from Python's `unicodedata` (the tables the reference path
    uses), lower-casing with `tf.strings.lower` (ICU) plus fix-ups for the
    characters where ICU's case table differs from Python's, accents with
    `tf_text.normalize_utf8(NFD)`, and WordPiece with
    `tf_text.FastWordpieceTokenizer`; words longer than 200 characters become
    `[UNK]` before WordPiece, as in the original.

    Known differences from the reference path: none with this TensorFlow.
    tests/test_tokenization.py checks every Unicode code point alone and in a
    word, invalid UTF-8 (dropped by `unicode_transcode(errors="ignore")` as by
    Python's decoder) and the bundled corpus.
    `tf_text.FastBertTokenizer` alone is not used because it case-folds with
    NFKC (fullwidth letters, ligatures, superscripts, final sigma and
    "\u00df" change), turns control characters into spaces instead of
    dropping them and maps a word with invalid UTF-8 to `[UNK]`.

    Args:
      vocab_file: as for FullTokenizer.
      do_lower_case, strip_accents: as for FullTokenizer.

    Call `tokenize(texts)` on a string tensor [B] to get int64 ids as a
    RaggedTensor [B, (T)].

    Example:
      >>> from electra_tf.tokenization import default_vocab_file
      >>> tok = TFTextTokenizer(default_vocab_file())
      >>> tok.tokenize(["Héllo, unaffable!"]).to_list()
      [[7592, 1010, 14477, 20961, 3468, 999]]
    """

    def __init__(self, vocab_file, do_lower_case=True, strip_accents=True,
                 name=None):
        super().__init__(name=name)
        vocab = load_vocab(vocab_file)
        check_vocab(vocab, vocab_file)
        self.do_lower_case = do_lower_case
        self.strip_accents = strip_accents
        self.unk_id = vocab["[UNK]"]
        self._classes = _unicode_classes()
        self._lower_fixups = (
            _lower_fixups(self._classes["lower_candidates"])
            if do_lower_case
            else ()
        )
        # Ids are line numbers; a line whose token was overwritten by a later
        # duplicate, an empty line and a bare "##" can never match in the
        # reference, so they get placeholders that no word can equal.
        inv_vocab = {i: t for t, i in vocab.items()}
        size = max(vocab.values()) + 1
        tokens = []
        for i in range(size):
            token = inv_vocab.get(i, "")
            tokens.append(token if token not in ("", "##") else f" {i} ")
        self.wordpiece = tf_text.FastWordpieceTokenizer(
            vocab=tokens,
            suffix_indicator="##",
            max_bytes_per_word=4 * _MAX_WORD_CHARS,
            token_out_type=tf.int64,
            unknown_token="[UNK]",
            no_pretokenization=True,
        )

    def basic_tokenize(self, texts):
        """BasicTokenizer.tokenize on a string tensor [B] -> words [B, (W)]."""
        c = self._classes
        x = tf.strings.unicode_transcode(
            texts, "UTF-8", "UTF-8", errors="ignore"
        )
        x = tf.strings.regex_replace(x, c["control"], "")
        x = tf.strings.regex_replace(x, c["clean_space"], " ")
        x = tf.strings.regex_replace(x, c["cjk"], r" \0 ")
        if self.do_lower_case:
            x = tf.strings.lower(x, encoding="utf-8")
            for upper, lower in self._lower_fixups:
                x = tf.strings.regex_replace(x, upper, lower)
            if self.strip_accents:
                x = tf_text.normalize_utf8(x, "NFD")
                x = tf.strings.regex_replace(x, c["mn"], "")
        return tf_text.regex_split(
            x, c["split_space"] + "|(" + c["punct"] + ")", c["punct"]
        )

    def tokenize(self, texts):
        """FullTokenizer ids for a string tensor [B] -> int64 [B, (T)]."""
        words = self.basic_tokenize(tf.convert_to_tensor(texts))  # [B, (W)]
        too_long = (
            tf.strings.length(words.flat_values, unit="UTF8_CHAR")
            > _MAX_WORD_CHARS
        )
        flat = tf.where(too_long, "[UNK]", words.flat_values)
        pieces = self.wordpiece.tokenize(flat)  # [words, (P)]
        return words.with_flat_values(pieces).merge_dims(1, 2)


_MAX_WORD_CHARS = 200


def _char_class(predicate, code_points):
    """RE2 character class of the code points satisfying `predicate`."""
    ranges = []
    for cp in code_points:
        if predicate(cp):
            if ranges and ranges[-1][1] == cp - 1:
                ranges[-1][1] = cp
            else:
                ranges.append([cp, cp])
    parts = [
        f"\\x{{{lo:X}}}" if lo == hi else f"\\x{{{lo:X}}}-\\x{{{hi:X}}}"
        for lo, hi in ranges
    ]
    return "[" + "".join(parts) + "]"


@functools.lru_cache(maxsize=None)
def _unicode_classes():
    """Character classes of the reference predicates over all code points
    that valid UTF-8 can hold (computed once, ~1 s)."""
    code_points = [
        cp for cp in range(sys.maxunicode + 1) if not 0xD800 <= cp <= 0xDFFF
    ]
    category = [unicodedata.category(chr(cp)) for cp in code_points]
    cat = dict(zip(code_points, category))
    return {
        "control": _char_class(
            lambda cp: cp in (0, 0xFFFD)
            or (cat[cp][0] == "C" and chr(cp) not in "\t\n\r"),
            code_points,
        ),
        "clean_space": _char_class(
            lambda cp: chr(cp) in " \t\n\r" or cat[cp] == "Zs", code_points
        ),
        "cjk": _char_class(
            lambda cp: any(lo <= cp <= hi for lo, hi in CJK_RANGES),
            code_points,
        ),
        "split_space": _char_class(lambda cp: chr(cp).isspace(), code_points)
        + "+",
        "punct": _char_class(lambda cp: _is_punctuation(chr(cp)), code_points),
        "mn": _char_class(lambda cp: cat[cp] == "Mn", code_points),
        "lower_candidates": tuple(
            cp for cp in code_points if chr(cp).lower() != chr(cp)
        ),
    }


@functools.lru_cache(maxsize=None)
def _lower_fixups(candidates):
    """(pattern, replacement) for characters that ICU lower-cases unlike
    Python's `str.lower` (case mappings newer than TensorFlow's ICU)."""
    chars = [chr(cp) for cp in candidates]
    icu = tf.strings.lower(
        tf.constant([c.encode("utf-8") for c in chars]), encoding="utf-8"
    ).numpy()
    return tuple(
        (f"\\x{{{ord(c):X}}}", c.lower())
        for c, lowered in zip(chars, icu)
        if lowered.decode("utf-8") != c.lower()
    )
