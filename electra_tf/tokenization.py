"""Port of model/tokenization.py: BERT's WordPiece tokenizer with ELECTRA's
`strip_accents` switch, under the original names.

Three paths give the same ids:
- `FullTokenizer.tokenize` + `convert_tokens_to_ids`: the original algorithm,
  character by character (the reference).
- `FullTokenizer.tokenize_to_ids`: the same function memoised per
  whitespace-separated word, with the per-character cleaning done by
  `str.translate`; the data builder uses it (several times faster).
- `tf_text_tokenizer.TFTextTokenizer`: a tensorflow-text graph for `tf.data`
  and exported models, built from this module's predicates.
"""

import itertools
import os
import re
import unicodedata
from typing import NamedTuple

import tensorflow as tf

from electra_tf.errors import ConfigError, DataError, MissingInputError

SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")


def default_vocab_file():
    """Path of the bundled English uncased BERT vocab (30,522 tokens)."""
    return os.path.join(os.path.dirname(__file__), "resources", "vocab.txt")


def convert_to_unicode(text):
    """Returns `text` as str; bytes are decoded as UTF-8, dropping bad bytes."""
    if isinstance(text, str):
        return text
    if isinstance(text, bytes):
        return text.decode("utf-8", "ignore")
    raise ValueError(f"Unsupported string type: {type(text)}")


def load_vocab(vocab_file):
    """Reads a vocab file into an ordered {token: id} dict.

    Each line stripped of surrounding whitespace is a token whose id is its
    0-based line number; a later duplicate overwrites the earlier id; bytes
    that are not UTF-8 are dropped (all as in the original).
    """
    vocab = {}
    for index, line in enumerate(read_lines(vocab_file)):
        vocab[convert_to_unicode(line).strip()] = index
    return vocab


def read_lines(path, chunk_size=1 << 22):
    """Yields the lines of a file as bytes, as `tf.io.gfile.GFile` line
    iteration gives them to the original (split on b"\\n", every b"\\r"
    dropped), without the b"\\n"; reads in chunks, so it is fast."""
    pending = b""
    with tf.io.gfile.GFile(path, "rb") as f:
        while True:
            chunk = f.read(chunk_size)
            if not chunk:
                break
            lines = (pending + chunk.replace(b"\r", b"")).split(b"\n")
            pending = lines.pop()
            yield from lines
    if pending:
        yield pending


def check_vocab(vocab, vocab_file):
    """Raises DataError naming the missing special tokens of a vocab."""
    missing = [t for t in SPECIAL_TOKENS if t not in vocab]
    if missing or vocab.get("[PAD]") != 0:
        raise DataError(
            f"Vocab file {vocab_file} lacks the special tokens {missing} or "
            f"does not have [PAD] on line 1 (id 0). ELECTRA needs "
            f"{', '.join(SPECIAL_TOKENS)} with [PAD] first; build a vocab "
            "with build_vocab.py or use electra_tf/resources/vocab.txt."
        )


class SpecialIds(NamedTuple):
    """Vocabulary ids of the tokens pre-training masking treats apart."""

    cls: int
    sep: int
    mask: int


def special_ids(vocab_file, vocab_size=None):
    """`SpecialIds` of [CLS], [SEP] and [MASK] in `vocab_file`; checks the
    vocab's special tokens and that it fits `vocab_size` embeddings.

    >>> special_ids(default_vocab_file(), 30522)
    SpecialIds(cls=101, sep=102, mask=103)
    """
    if not vocab_file or not tf.io.gfile.exists(vocab_file):
        raise MissingInputError(
            f"Vocab file '{vocab_file}' not found: pre-training needs it for "
            "the ids of [CLS], [SEP] and [MASK]. Set the `vocab_file` hparam "
            "or put vocab.txt in the data dir."
        )
    vocab = load_vocab(vocab_file)
    check_vocab(vocab, vocab_file)
    if vocab_size is not None and len(vocab) > vocab_size:
        raise ConfigError(
            f"Vocab file '{vocab_file}' has {len(vocab)} tokens but "
            f"vocab_size is {vocab_size}; set the `vocab_size` hparam to at "
            "least the vocab's size."
        )
    return SpecialIds(vocab["[CLS]"], vocab["[SEP]"], vocab["[MASK]"])


def convert_by_vocab(vocab, items):
    """Maps each item through `vocab` (a missing item raises KeyError)."""
    return [vocab[item] for item in items]


def convert_tokens_to_ids(vocab, tokens):
    return convert_by_vocab(vocab, tokens)


def convert_ids_to_tokens(inv_vocab, ids):
    return convert_by_vocab(inv_vocab, ids)


def whitespace_tokenize(text):
    """Splits on Python whitespace (`str.split()`), as the original."""
    return text.split()


class FullTokenizer:
    """Basic tokenization followed by WordPiece (the original's FullTokenizer).

    Args:
      vocab_file: one token per line; the line number is the id.
      do_lower_case: lower-case the input (and strip accents if asked).
      strip_accents: NFD-normalise and drop combining marks; only effective
        together with `do_lower_case`, as in the original.

    Example:
      >>> tok = FullTokenizer(default_vocab_file())
      >>> tok.tokenize("Héllo, unaffable!")
      ['hello', ',', 'una', '##ffa', '##ble', '!']
      >>> tok.tokenize_to_ids("Héllo, unaffable!")
      [7592, 1010, 14477, 20961, 3468, 999]
    """

    def __init__(self, vocab_file, do_lower_case=True, strip_accents=True):
        self.vocab = load_vocab(vocab_file)
        self.inv_vocab = {v: k for k, v in self.vocab.items()}
        self.basic_tokenizer = BasicTokenizer(
            do_lower_case=do_lower_case, strip_accents=strip_accents
        )
        self.wordpiece_tokenizer = WordpieceTokenizer(vocab=self.vocab)
        self._word_ids = {}
        self._clean_table = CleanTable(self.basic_tokenizer)

    def tokenize(self, text):
        return [
            sub_token
            for token in self.basic_tokenizer.tokenize(text)
            for sub_token in self.wordpiece_tokenizer.tokenize(token)
        ]

    def convert_tokens_to_ids(self, tokens):
        return convert_by_vocab(self.vocab, tokens)

    def convert_ids_to_tokens(self, ids):
        return convert_by_vocab(self.inv_vocab, ids)

    def tokenize_to_ids(self, text):
        """`convert_tokens_to_ids(tokenize(text))`, memoised per word.

        Exact because every step after cleaning, CJK spacing and the
        whitespace split (lower-casing, accents, punctuation, WordPiece) is a
        function of one whitespace-separated word.
        """
        text = convert_to_unicode(text)
        if text.isascii():
            text = text.translate(_ASCII_CLEAN)
        else:
            text = text.translate(self._clean_table)
        cache = self._word_ids
        words = text.split()
        try:
            return list(_chain(map(cache.__getitem__, words)))
        except KeyError:
            if len(cache) + len(words) > _WORD_CACHE_SIZE:
                cache.clear()
            for word in words:
                if word not in cache:
                    cache[word] = self._word_to_ids(word)
            return list(_chain(map(cache.__getitem__, words)))

    def _word_to_ids(self, word):
        """Lower/strip, punctuation split and WordPiece of one clean word."""
        basic = self.basic_tokenizer
        if basic.do_lower_case:
            word = word.lower()
        if word.isascii():
            # NFD leaves ASCII as is; punctuation is the ASCII class only.
            pieces = _ASCII_PUNCT_SPLIT.findall(word)
        else:
            if basic.do_lower_case and basic.strip_accents:
                word = basic._run_strip_accents(word)
            pieces = whitespace_tokenize(
                " ".join(basic._run_split_on_punc(word))
            )
        tokens = []
        for piece in pieces:
            tokens.extend(self.wordpiece_tokenizer.tokenize(piece))
        return tuple(self.convert_tokens_to_ids(tokens))


class BasicTokenizer:
    """Cleaning, CJK spacing, whitespace split, lower-casing/accent stripping
    and punctuation splitting (the original's BasicTokenizer)."""

    def __init__(self, do_lower_case=True, strip_accents=True):
        self.do_lower_case = do_lower_case
        self.strip_accents = strip_accents

    def tokenize(self, text):
        text = convert_to_unicode(text)
        text = self._clean_text(text)
        # The original spaces CJK ideographs for every model (added for the
        # multilingual and Chinese BERT models; harmless for English).
        text = self._tokenize_chinese_chars(text)
        split_tokens = []
        for token in whitespace_tokenize(text):
            if self.do_lower_case:
                token = token.lower()
                if self.strip_accents:
                    token = self._run_strip_accents(token)
            split_tokens.extend(self._run_split_on_punc(token))
        return whitespace_tokenize(" ".join(split_tokens))

    def _run_strip_accents(self, text):
        """NFD-normalises and drops combining marks (category Mn)."""
        text = unicodedata.normalize("NFD", text)
        return "".join(c for c in text if unicodedata.category(c) != "Mn")

    def _run_split_on_punc(self, text):
        """Makes every punctuation character a token of its own."""
        output = []
        start_new_word = True
        for char in text:
            if _is_punctuation(char):
                output.append([char])
                start_new_word = True
            else:
                if start_new_word:
                    output.append([])
                start_new_word = False
                output[-1].append(char)
        return ["".join(x) for x in output]

    def _tokenize_chinese_chars(self, text):
        """Surrounds every CJK ideograph with spaces."""
        output = []
        for char in text:
            if self._is_chinese_char(ord(char)):
                output.extend((" ", char, " "))
            else:
                output.append(char)
        return "".join(output)

    def _is_chinese_char(self, cp):
        """True for code points in the CJK Unified Ideographs blocks.

        Hangul, Hiragana and Katakana are not included: those scripts separate
        words with spaces.
        """
        return any(lo <= cp <= hi for lo, hi in CJK_RANGES)

    def _clean_text(self, text):
        """Drops NUL, U+FFFD and control/format characters; maps whitespace
        to a single space each."""
        output = []
        for char in text:
            cp = ord(char)
            if cp == 0 or cp == 0xFFFD or _is_control(char):
                continue
            output.append(" " if _is_whitespace(char) else char)
        return "".join(output)


class WordpieceTokenizer:
    """Greedy longest-match-first WordPiece (the original's
    WordpieceTokenizer); a word longer than `max_input_chars_per_word`
    characters, or with a position no piece matches, becomes `unk_token`."""

    def __init__(self, vocab, unk_token="[UNK]", max_input_chars_per_word=200):
        self.vocab = vocab
        self.unk_token = unk_token
        self.max_input_chars_per_word = max_input_chars_per_word

    def tokenize(self, text):
        output_tokens = []
        for token in whitespace_tokenize(convert_to_unicode(text)):
            if len(token) > self.max_input_chars_per_word:
                output_tokens.append(self.unk_token)
                continue
            sub_tokens = []
            start = 0
            while start < len(token):
                end = len(token)
                cur_substr = None
                while start < end:
                    substr = token[start:end]
                    if start > 0:
                        substr = "##" + substr
                    if substr in self.vocab:
                        cur_substr = substr
                        break
                    end -= 1
                if cur_substr is None:
                    sub_tokens = [self.unk_token]
                    break
                sub_tokens.append(cur_substr)
                start = end
            output_tokens.extend(sub_tokens)
        return output_tokens


CJK_RANGES = (
    (0x4E00, 0x9FFF),
    (0x3400, 0x4DBF),
    (0x20000, 0x2A6DF),
    (0x2A700, 0x2B73F),
    (0x2B740, 0x2B81F),
    (0x2B820, 0x2CEAF),
    (0xF900, 0xFAFF),
    (0x2F800, 0x2FA1F),
)


def _is_whitespace(char):
    """Space, tab, newline, carriage return and category Zs."""
    if char in " \t\n\r":
        return True
    return unicodedata.category(char) == "Zs"


def _is_control(char):
    """Category C* except tab, newline and carriage return (whitespace)."""
    if char in "\t\n\r":
        return False
    return unicodedata.category(char).startswith("C")


def _is_punctuation(char):
    """All non-alphanumeric printable ASCII, and Unicode category P*."""
    cp = ord(char)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(char).startswith("P")


# ASCII-only text: C0 controls and DEL are dropped, tab/newline/CR become
# spaces (what _clean_text does to them); nothing ASCII is CJK.
_ASCII_CLEAN = {cp: None for cp in list(range(32)) + [127]}
_ASCII_CLEAN.update({ord("\t"): " ", ord("\n"): " ", ord("\r"): " "})
_WORD_CACHE_SIZE = 1 << 20
_chain = itertools.chain.from_iterable
_ASCII_PUNCT_SPLIT = re.compile(r"[!-/:-@\[-`{-~]|[^!-/:-@\[-`{-~]+")


class CleanTable(dict):
    """`str.translate` table doing BasicTokenizer's _clean_text and
    _tokenize_chinese_chars per character, filled lazily from them:
    `text.translate(CleanTable(basic)).split()` are the words that the
    reference lower-cases and splits further."""

    def __init__(self, basic_tokenizer):
        super().__init__()
        self._basic = basic_tokenizer

    def __missing__(self, cp):
        char = chr(cp)
        value = self._basic._tokenize_chinese_chars(
            self._basic._clean_text(char)
        )
        self[cp] = value
        return value
