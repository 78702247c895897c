"""The builders' command-line parts: the flags their scripts share.

The flags follow the original's build_pretraining_dataset.py; --seed,
--num-out-files, --overwrite and --quiet are additions of this port.
"""

import argparse


def add_tokenizer_flags(parser):
    """Adds the original's case and accent flags to an argparse parser."""
    parser.add_argument("--do-lower-case", dest="do_lower_case",
                        action="store_true", help="Lower-case (default).")
    parser.add_argument("--no-lower-case", dest="do_lower_case",
                        action="store_false", help="Keep the case.")
    parser.add_argument("--do-strip-accents", "--strip-accents",
                        dest="strip_accents", action="store_true",
                        help="Strip accents when lower-casing (default).")
    parser.add_argument("--no-strip-accents", dest="strip_accents",
                        action="store_false", help="Keep accents.")
    parser.set_defaults(do_lower_case=True, strip_accents=True)


def add_shard_flags(parser, overwrite_help):
    """Adds the flags shared by the TFRecord builders' CLIs."""
    parser.add_argument("--max-seq-length", default=128, type=int,
                        help="Tokens per example.")
    parser.add_argument("--num-processes", default=1, type=int,
                        help="Parallel worker processes.")
    add_tokenizer_flags(parser)
    # additions of this port
    parser.add_argument("--num-out-files", default=1000, type=int,
                        help="Number of output shards (original: 1000).")
    parser.add_argument("--seed", default=None, type=int,
                        help="Seed; job j uses random.Random(seed + j), so "
                        "a build repeats exactly (default: unseeded).")
    parser.add_argument("--overwrite", action="store_true",
                        help=overwrite_help)
    parser.add_argument("--quiet", action="store_true",
                        help="No progress line or summary.")


# The flags of `add_shard_flags` that are BuildOptions fields.
SHARD_OPTIONS = ("max_seq_length", "num_processes", "do_lower_case",
                 "strip_accents", "num_out_files", "seed")


def shard_options(args):
    """{field: value} of the parsed `SHARD_OPTIONS` flags."""
    return {name: getattr(args, name) for name in SHARD_OPTIONS}


def add_corpus_flags(parser, vocab_help):
    """Adds --corpus-dir and --vocab-file (required)."""
    parser.add_argument("--corpus-dir", required=True,
                        help="Directory of text files.")
    parser.add_argument("--vocab-file", required=True, help=vocab_help)


def parse_bool(value):
    """Strict bool for flags given a value (`--blanks-separate-docs False`).

    Example:
      >>> parse_bool("False"), parse_bool("yes")
      (False, True)
    """
    lowered = value.lower()
    if lowered in ("1", "true", "yes"):
        return True
    if lowered in ("0", "false", "no"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {value!r}")
