"""Preprocesses the OpenWebText corpus for ELECTRA pre-training.

Same flags as google-research/electra's
build_openwebtext_pretraining_dataset.py, plus --seed, --num-out-files,
--overwrite and --quiet. Reads <data-dir>/vocab.txt and the archives in
<data-dir>/openwebtext/, writes <data-dir>/pretrain_tfrecords/.
"""

import argparse
import sys

from electra_tf.pretraining import openwebtext


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", required=True,
                        help="Holds vocab.txt and openwebtext/.")
    parser.add_argument("--max-seq-length", default=128, type=int,
                        help="Tokens per example.")
    parser.add_argument("--num-processes", default=1, type=int,
                        help="Parallel worker processes.")
    parser.add_argument("--do-lower-case", dest="do_lower_case",
                        action="store_true", help="Lower-case (default).")
    parser.add_argument("--no-lower-case", dest="do_lower_case",
                        action="store_false", help="Keep the case.")
    parser.add_argument("--do-strip-accents", "--strip-accents",
                        dest="strip_accents", action="store_true",
                        help="Strip accents when lower-casing (default).")
    parser.add_argument("--no-strip-accents", dest="strip_accents",
                        action="store_false", help="Keep accents.")
    # additions of this port
    parser.add_argument("--num-out-files", default=1000, type=int,
                        help="Number of output shards (original: 1000).")
    parser.add_argument("--seed", default=None, type=int,
                        help="Seed; job j uses random.Random(seed + j).")
    parser.add_argument("--overwrite", action="store_true",
                        help="Delete a non-empty pretrain_tfrecords/ first.")
    parser.add_argument("--quiet", action="store_true",
                        help="No progress line or summary.")
    parser.set_defaults(do_lower_case=True, strip_accents=True)
    args = parser.parse_args(argv)
    options = openwebtext.options_for(
        args.data_dir,
        max_seq_length=args.max_seq_length,
        num_processes=args.num_processes,
        do_lower_case=args.do_lower_case,
        strip_accents=args.strip_accents,
        num_out_files=args.num_out_files,
        seed=args.seed,
    )
    return openwebtext.build(options, overwrite=args.overwrite,
                             show_progress=not args.quiet)


if __name__ == "__main__":
    try:
        main()
    except (ValueError, FileNotFoundError, FileExistsError) as e:
        sys.exit(f"error: {e}")
