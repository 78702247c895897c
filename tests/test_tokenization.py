"""Tokenizer tests: exact ids on hard cases for the reference path, the
memoised path and the tensorflow-text path, on the bundled BERT vocab."""

import doctest
import hashlib
import os
import sys

import pytest
import tensorflow as tf

from electra_tf import tf_text_tokenizer, tokenization
from electra_tf.tf_text_tokenizer import TFTextTokenizer
from electra_tf.tokenization import (
    BasicTokenizer,
    FullTokenizer,
    WordpieceTokenizer,
    default_vocab_file,
    load_vocab,
)

# (text, expected wordpieces, expected ids) with the bundled uncased vocab,
# lower-casing and accent stripping on (the released models' settings).
HARD_CASES = {
    "accents": (
        "Crème brûlée à Zürich, naïve façade",
        "cr ##eme br ##ule ##e a zurich , naive facade",
        [13675, 21382, 7987, 9307, 2063, 1037, 10204, 1010, 15743, 8508],
    ),
    # Ideographs are split one per token; kana/hangul are not (hangul is
    # decomposed into jamo by NFD).
    "cjk": (
        "中文字符 and 日本語 ひらがな 한국",
        "中 文 [UNK] [UNK] and 日 本 語 ひ ##ら ##か ##な "
        "ᄒ ##ᅡ ##ᆫ ##ᄀ ##ᅮ ##ᆨ",
        [1746, 1861, 100, 100, 1998, 1864, 1876, 1950, 1673, 30211, 30177,
         30193, 1469, 30006, 30021, 29991, 30014, 30020],
    ),
    "emoji": (
        "emoji 😀👍🏽 ok 🧑\u200d🌾",
        "em ##oj ##i [UNK] ok [UNK]",
        [7861, 29147, 2072, 100, 7929, 100],
    ),
    # NUL, C0 controls, DEL, zero-width space, BOM, soft hyphen and U+FFFD
    # are dropped, so the letters around them join into one word.
    "control_format": (
        "ctrl\x00a\x01b\x7fc\u200bd\ufeffe\u00adf\ufffdg",
        "ct ##rl ##ab ##cd ##ef ##g",
        [14931, 12190, 7875, 19797, 12879, 2290],
    ),
    # \t \n \r, NBSP, ideographic space and U+2028 separate words; \x0b is a
    # control character and is dropped.
    "whitespace": (
        "tab\tnew\nline\rcr\x0bvt nbsp\u00a0x\u3000y\u2028z",
        "tab new line cr ##v ##t n ##bs ##p x y z",
        [21628, 2047, 2240, 13675, 2615, 2102, 1050, 5910, 2361, 1060, 1061,
         1062],
    ),
    "url": (
        "See https://www.example.com/path?q=1&r=two#frag now.",
        "see https : / / www . example . com / path ? q = 1 & r = two # fra "
        "##g now .",
        [2156, 16770, 1024, 1013, 1013, 7479, 1012, 2742, 1012, 4012, 1013,
         4130, 1029, 1053, 1027, 1015, 1004, 1054, 1027, 2048, 1001, 25312,
         2290, 2085, 1012],
    ),
    "numbers": (
        "3.14159 1,000,000 -42 1e10 $5.99 ¾ ² ①",
        "3 . 141 ##59 1 , 000 , 000 - 42 1 ##e ##10 $ 5 . 99 ¾ ² [UNK]",
        [1017, 1012, 15471, 28154, 1015, 1010, 2199, 1010, 2199, 1011, 4413,
         1015, 2063, 10790, 1002, 1019, 1012, 5585, 1093, 1082, 100],
    ),
    # Python's str.lower: dotted capital I, final sigma, sharp s kept,
    # fullwidth letters and ligatures not folded (unlike NFKC case folding).
    "unicode_case": (
        "İstanbul ΟΔΟΣ. straße Ａｂｃ ﬁ",
        "istanbul ο ##δ ##ος . st ##raße [UNK] ﬁ",
        [9960, 1169, 29722, 15297, 1012, 2358, 27807, 100, 1984],
    ),
    # GREEK VARIA (a symbol) decomposes under NFD into the grave accent,
    # which is ASCII punctuation, so it becomes a token of its own.
    "nfd_makes_punctuation": ("x\u1fefy", "x ` y", [1060, 1036, 1061]),
    "greedy_longest_match": (
        "unaffable", "una ##ffa ##ble", [14477, 20961, 3468]),
    "empty": (" \t\u3000\x00 ", "", []),
    "long_word_200_chars": ("a" * 200, None, [13360] + [11057] * 98 + [2050]),
    "long_word_201_chars": ("a" * 201, "[UNK]", [100]),
    # 201 characters after accent stripping is still too long.
    "long_accented_word": ("\u00e9" * 201, "[UNK]", [100]),
    # The original decodes bytes as UTF-8 dropping malformed sequences.
    "invalid_utf8": (
        b"ok\xffbad trunc\xe2\x82x \xed\xa0\x80sur \xc0\x80",
        "ok ##bad tr ##un ##c ##x sur",
        [7929, 9024, 19817, 4609, 2278, 2595, 7505],
    ),
}


@pytest.fixture(scope="module")
def full_tokenizer():
    return FullTokenizer(default_vocab_file())


@pytest.fixture(scope="module")
def tf_tokenizer():
    return TFTextTokenizer(default_vocab_file())


def _tf_ids(tokenizer, texts):
    return tokenizer.tokenize(tf.constant(texts)).to_list()


def test_bundled_vocab_is_the_bert_uncased_vocab():
    with open(default_vocab_file(), "rb") as f:
        data = f.read()
    assert hashlib.md5(data).hexdigest() == "64800d5d8528ce344256daf115d4965e"
    vocab = load_vocab(default_vocab_file())
    assert len(vocab) == 30522
    specials = [vocab[t] for t in tokenization.SPECIAL_TOKENS]
    assert specials == [0, 100, 101, 102, 103]


@pytest.mark.parametrize("name", sorted(HARD_CASES))
def test_reference_path_hard_cases(full_tokenizer, name):
    text, pieces, ids = HARD_CASES[name]
    tokens = full_tokenizer.tokenize(text)
    if pieces is not None:
        assert tokens == pieces.split()
    assert full_tokenizer.convert_tokens_to_ids(tokens) == ids
    assert full_tokenizer.convert_ids_to_tokens(ids) == tokens


@pytest.mark.parametrize("name", sorted(HARD_CASES))
def test_memoised_path_hard_cases(full_tokenizer, name):
    text, _, ids = HARD_CASES[name]
    assert full_tokenizer.tokenize_to_ids(text) == ids
    # a second call is served from the word cache
    assert full_tokenizer.tokenize_to_ids(text) == ids


def test_tf_text_path_hard_cases(tf_tokenizer):
    names = sorted(HARD_CASES)
    texts = [HARD_CASES[n][0] for n in names]
    texts = [t if isinstance(t, bytes) else t.encode("utf-8") for t in texts]
    got = _tf_ids(tf_tokenizer, texts)
    for name, ids in zip(names, got):
        assert ids == HARD_CASES[name][2], name


def test_accent_and_case_switches():
    text = "Crème BRÛLÉE"
    vocab = load_vocab(default_vocab_file())
    no_strip = FullTokenizer(default_vocab_file(), strip_accents=False)
    # lower-cased, accents kept: "crème" and "brûlée" are not in the vocab
    assert no_strip.basic_tokenizer.tokenize(text) == ["crème", "brûlée"]
    assert no_strip.tokenize(text) == ["[UNK]", "[UNK]"]
    cased = FullTokenizer(default_vocab_file(), do_lower_case=False)
    # strip_accents has no effect without lower-casing (as in the original)
    assert cased.basic_tokenizer.tokenize(text) == ["Crème", "BRÛLÉE"]
    for tok in (no_strip, cased):
        tf_tok = TFTextTokenizer(
            default_vocab_file(),
            do_lower_case=tok.basic_tokenizer.do_lower_case,
            strip_accents=tok.basic_tokenizer.strip_accents,
        )
        ids = tok.convert_tokens_to_ids(tok.tokenize(text))
        assert ids == [vocab["[UNK]"]] * 2
        assert tok.tokenize_to_ids(text) == ids
        assert _tf_ids(tf_tok, [text]) == [ids]


def test_original_helper_methods():
    basic = BasicTokenizer()
    assert basic._clean_text("a\x00b\tc\u200bd\u3000e") == "ab cd e"
    assert basic._tokenize_chinese_chars("a中b") == "a 中 b"
    assert basic._run_strip_accents("crème") == "creme"
    assert basic._run_split_on_punc("a.b!!c") == ["a", ".", "b", "!", "!", "c"]
    assert tokenization.whitespace_tokenize("  a\u2028b \n") == ["a", "b"]


def test_wordpiece_on_a_small_vocab():
    vocab = {"[UNK]": 0, "un": 1, "##aff": 2, "##able": 3, "runn": 4,
             "##ing": 5}
    wp = WordpieceTokenizer(vocab, max_input_chars_per_word=10)
    assert wp.tokenize("unaffable running unrunnable") == [
        "un", "##aff", "##able", "runn", "##ing", "[UNK]"]
    assert wp.tokenize("a" * 11) == ["[UNK]"]


def test_load_vocab_rules(tmp_path):
    path = tmp_path / "vocab.txt"
    # surrounding whitespace stripped, CRLF, a duplicate (later id wins),
    # invalid UTF-8 bytes dropped, last line without newline
    path.write_bytes(b"[PAD]\r\n  [UNK] \nhello\nwor\xffld\nhello\n[CLS]")
    vocab = load_vocab(str(path))
    assert vocab == {"[PAD]": 0, "[UNK]": 1, "hello": 4, "world": 3, "[CLS]": 5}


def test_tf_text_vocab_with_duplicates_and_blank_lines(tmp_path):
    path = tmp_path / "vocab.txt"
    lines = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "ab", "", "##",
             "##c", "ab", "x"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    ref = FullTokenizer(str(path))
    tf_tok = TFTextTokenizer(str(path))
    texts = ["abc ab x abx", "ab##c"]
    want = [ref.convert_tokens_to_ids(ref.tokenize(t)) for t in texts]
    assert want == [[9, 8, 9, 10, 1], [9, 1, 1, 1]]
    assert _tf_ids(tf_tok, texts) == want


def test_missing_special_tokens_raise(tmp_path):
    path = tmp_path / "vocab.txt"
    path.write_text("[UNK]\nhello\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"\[PAD\].*build_vocab.py"):
        TFTextTokenizer(str(path))


def test_tf_text_path_in_tf_data_and_saved_model(tf_tokenizer, tmp_path):
    texts = ["Héllo, unaffable!", "中文 ok"]
    want = [[7592, 1010, 14477, 20961, 3468, 999], [1746, 1861, 7929]]
    ds = tf.data.Dataset.from_tensor_slices(texts).batch(2)
    ds = ds.map(lambda t: tf_tokenizer.tokenize(t).to_tensor())
    assert next(iter(ds)).numpy().tolist() == [
        want[0], want[1] + [0, 0, 0]]

    module = tf.Module()
    module.tokenizer = tf_tokenizer
    module.serve = tf.function(
        lambda t: tf_tokenizer.tokenize(t).to_tensor(),
        input_signature=[tf.TensorSpec([None], tf.string)],
    )
    tf.saved_model.save(module, str(tmp_path / "m"))
    reloaded = tf.saved_model.load(str(tmp_path / "m"))
    assert reloaded.serve(tf.constant(texts)).numpy().tolist() == [
        want[0], want[1] + [0, 0, 0]]


def test_all_paths_agree_on_bundled_corpus(full_tokenizer, tf_tokenizer):
    corpus_dir = os.path.join(
        os.path.dirname(default_vocab_file()), "corpus")
    lines = []
    for name in sorted(os.listdir(corpus_dir))[-3:]:
        with open(os.path.join(corpus_dir, name), encoding="utf-8") as f:
            lines += f.read().splitlines()[:300]
    ref = [full_tokenizer.convert_tokens_to_ids(full_tokenizer.tokenize(x))
           for x in lines]
    assert sum(map(len, ref)) > 10000
    assert [full_tokenizer.tokenize_to_ids(x) for x in lines] == ref
    assert _tf_ids(tf_tokenizer, lines) == ref


def test_docstring_examples():
    result = doctest.testmod(tokenization, optionflags=doctest.ELLIPSIS)
    assert result.attempted >= 3 and result.failed == 0
    result = doctest.testmod(tf_text_tokenizer)
    assert result.attempted >= 3 and result.failed == 0


@pytest.mark.slow
def test_every_code_point_agrees(full_tokenizer, tf_tokenizer):
    """Each Unicode scalar value alone and inside a word: the memoised path
    equals the reference, and the tf-text path equals both."""
    code_points = [
        cp for cp in range(sys.maxunicode + 1) if not 0xD800 <= cp <= 0xDFFF
    ]
    for template in ("{}", "A{}b"):
        texts = [template.format(chr(cp)) for cp in code_points]
        fast = [full_tokenizer.tokenize_to_ids(t) for t in texts]
        if template == "{}":
            ref = [full_tokenizer.convert_tokens_to_ids(
                full_tokenizer.tokenize(t)) for t in texts]
            assert fast == ref
        got = _tf_ids(tf_tokenizer, [t.encode("utf-8") for t in texts])
        bad = [hex(cp) for cp, a, b in zip(code_points, fast, got) if a != b]
        assert not bad, f"{template}: {bad[:20]}"


@pytest.mark.parametrize("chunk_size", [1, 2, 3, 7, 1 << 22])
def test_read_lines_matches_gfile_lines(tmp_path, chunk_size):
    path = tmp_path / "lines.txt"
    path.write_bytes(b"a\r\nb\rc\n\n\r\nd\xff\n\r\rlast")
    want = [line[:-1] if line.endswith(b"\n") else line
            for line in tf.io.gfile.GFile(str(path), "rb")]
    assert want == [b"a", b"bc", b"", b"", b"d\xff", b"last"]
    assert list(tokenization.read_lines(str(path), chunk_size)) == want


def test_why_fast_bert_tokenizer_alone_is_not_used(full_tokenizer):
    """TFTextTokenizer's docstring says tf_text.FastBertTokenizer differs
    from the original; these are those differences (if this fails, the
    docstring is stale)."""
    import tensorflow_text as tf_text

    with open(default_vocab_file(), encoding="utf-8") as f:
        vocab = f.read().splitlines()
    fast_bert = tf_text.FastBertTokenizer(
        vocab, token_out_type=tf.int64, lower_case_nfd_strip_accents=True)
    cases = {
        "Ａｂｃ": [100],  # NFKC folds fullwidth letters to "abc"
        "straße": [2358, 27807],  # case folding turns ß into "ss"
        "a\x01b": [11113],  # control characters become spaces, not dropped
        b"ok\xffbad": [7929, 9024],  # invalid UTF-8 makes the word [UNK]
    }
    for text, ref_ids in cases.items():
        assert full_tokenizer.tokenize_to_ids(text) == ref_ids
        got = fast_bert.tokenize(tf.constant([text])).flat_values
        assert got.numpy().tolist() != ref_ids, text
