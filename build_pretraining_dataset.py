"""Writes text files out as TFRecords that ELECTRA can be pre-trained on.

Same flags as google-research/electra's build_pretraining_dataset.py, plus
--seed, --num-out-files, --overwrite and --quiet. The algorithm lives in
electra_tf/pretraining/build_dataset.py.
"""

import argparse

from electra_tf import cli

# Before anything imports TensorFlow.
cli.import_tensorflow_quietly(whole_run=False)

from electra_tf.errors import run_cli  # noqa: E402
from electra_tf.pretraining import build_cli, build_dataset  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    build_cli.add_corpus_flags(parser, "WordPiece vocab, one token per line.")
    parser.add_argument("--output-dir", required=True,
                        help="Where to write the tfrecords.")
    # Deviation from reference: the original's `type=bool` took any value,
    # even "False", as true; here a value is parsed strictly.
    parser.add_argument("--blanks-separate-docs", dest="blanks_separate_docs",
                        nargs="?", const=True, type=build_cli.parse_bool,
                        help="Blank lines end documents (default).")
    parser.add_argument("--no-blanks-separate-docs",
                        dest="blanks_separate_docs", action="store_false",
                        help="Blank lines are skipped; a file is a document.")
    build_cli.add_shard_flags(
        parser, "Delete a non-empty --output-dir first.")
    parser.set_defaults(blanks_separate_docs=True)
    args = parser.parse_args(argv)
    options = build_dataset.BuildOptions(
        input_files=build_dataset.corpus_files(args.corpus_dir),
        vocab_file=args.vocab_file,
        output_dir=args.output_dir,
        blanks_separate_docs=args.blanks_separate_docs,
        **build_cli.shard_options(args),
    )
    return build_dataset.build(options, overwrite=args.overwrite,
                               show_progress=not args.quiet)


if __name__ == "__main__":
    run_cli(main)
