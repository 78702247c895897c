"""Learns a WordPiece vocab from a directory of text files.

    python build_vocab.py --corpus-dir CORPUS --vocab-file vocab.txt \
        [--vocab-size 30522] [--no-lower-case] [--no-strip-accents]

The vocab starts with [PAD], [UNK], [CLS], [SEP], [MASK]; see
electra_tf/vocab_builder.py.
"""

import argparse
import os
import sys

from electra_tf import cli

# Before anything imports TensorFlow.
cli.import_tensorflow_quietly(whole_run=False)

from electra_tf import vocab_builder  # noqa: E402
from electra_tf.errors import OutputExistsError, run_cli  # noqa: E402
from electra_tf.pretraining import build_cli, build_dataset  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    build_cli.add_corpus_flags(parser, "Where to write the vocab.")
    parser.add_argument("--vocab-size", type=int, default=30522,
                        help="Maximum vocab size (the learner stays within "
                        "5%% below it).")
    parser.add_argument("--max-lines", type=int, default=None,
                        help="Count words in the first N lines only.")
    build_cli.add_tokenizer_flags(parser)
    parser.add_argument("--overwrite", action="store_true",
                        help="Replace an existing --vocab-file.")
    args = parser.parse_args(argv)
    if os.path.exists(args.vocab_file) and not args.overwrite:
        raise OutputExistsError(
            f"{args.vocab_file} exists; pass --overwrite to replace it.")
    n = vocab_builder.build_vocab(
        build_dataset.corpus_files(args.corpus_dir),
        args.vocab_file,
        vocab_size=args.vocab_size,
        do_lower_case=args.do_lower_case,
        strip_accents=args.strip_accents,
        max_lines=args.max_lines,
    )
    print(f"Wrote {n} tokens to {args.vocab_file}", file=sys.stderr)


if __name__ == "__main__":
    run_cli(main)
