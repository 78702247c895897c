"""WordPiece vocab learning for a user's own corpus (an addition of this
port; the original ships only the BERT vocab).

Words are counted with the reference BasicTokenizer (so the vocab fits the
tokenizer that will use it), then `tensorflow_text`'s WordPiece learner
(`tools/wordpiece_vocab/wordpiece_tokenizer_learner_lib.learn`, the engine of
`bert_vocab_from_dataset`) picks the pieces. The file starts with [PAD],
[UNK], [CLS], [SEP], [MASK] (ids 0-4).
"""

import collections
import sys

import tensorflow as tf
from tensorflow_text.tools.wordpiece_vocab import (
    wordpiece_tokenizer_learner_lib as learner,
)

from electra_tf import tokenization
from electra_tf.errors import ConfigError, DataError


def count_words(files, do_lower_case=True, strip_accents=True,
                max_lines=None):
    """Counts of BasicTokenizer words over the lines of `files`."""
    basic = tokenization.BasicTokenizer(do_lower_case, strip_accents)
    table = tokenization.CleanTable(basic)
    raw = collections.Counter()
    n = 0
    for path in files:
        for line in tokenization.read_lines(path):
            raw.update(
                line.decode("utf-8", "ignore").translate(table).split()
            )
            n += 1
            if max_lines and n >= max_lines:
                break
        if max_lines and n >= max_lines:
            break
    counts = collections.Counter()
    for word, count in raw.items():
        for token in basic.tokenize(word):
            counts[token] += count
    return counts


def learn_vocab(word_counts, vocab_size=30522, **learn_params):
    """Vocab (list of tokens) of at most `vocab_size` entries: the special
    tokens, every character seen (alone and as a `##` suffix), then
    pieces by frequency."""
    vocab = learner.learn(
        dict(word_counts),
        vocab_size,
        list(tokenization.SPECIAL_TOKENS),
        **learn_params,
    )
    # WordPiece never looks up the bare joiner "##".
    return [token for token in vocab if token != "##"]


def build_vocab(files, vocab_file, vocab_size=30522, do_lower_case=True,
                strip_accents=True, max_lines=None):
    """Learns a vocab from text files and writes it one token per line;
    returns the number of tokens. A size below what the corpus needs is an
    error; a size the corpus cannot fill gives a warning saying why."""
    counts = count_words(files, do_lower_case, strip_accents, max_lines)
    if not counts:
        raise DataError(
            "The corpus has no words; give text files with content."
        )
    vocab = learn_vocab(counts, vocab_size)
    if len(vocab) > vocab_size:
        raise ConfigError(
            f"--vocab-size {vocab_size} is too small for this corpus: the "
            f"smallest vocab it allows has {len(vocab)} tokens (the 5 "
            "special tokens and every character seen, alone and as a ## "
            f"suffix); pass --vocab-size {len(vocab)} or more."
        )
    if len(vocab) < 0.95 * vocab_size:
        print(
            f"WARNING: the vocab has {len(vocab):,} tokens, fewer than "
            f"--vocab-size {vocab_size:,}: the corpus has only "
            f"{len(counts):,} distinct words, and no further piece is frequent "
            "enough to add; use a larger corpus for a vocab of this size.",
            file=sys.stderr,
        )
    with tf.io.gfile.GFile(vocab_file, "w") as f:
        f.write("".join(token + "\n" for token in vocab))
    return len(vocab)
