"""Preprocesses the OpenWebText corpus for ELECTRA pre-training.

Same flags as google-research/electra's
build_openwebtext_pretraining_dataset.py, plus --seed, --num-out-files,
--overwrite and --quiet. Reads <data-dir>/vocab.txt and the archives in
<data-dir>/openwebtext/, writes <data-dir>/pretrain_tfrecords/.
"""

import argparse

from electra_tf import cli

# Before anything imports TensorFlow.
cli.import_tensorflow_quietly(whole_run=False)

from electra_tf.errors import run_cli  # noqa: E402
from electra_tf.pretraining import (  # noqa: E402
    build_cli,
    openwebtext,
)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", required=True,
                        help="Holds vocab.txt and openwebtext/.")
    build_cli.add_shard_flags(
        parser, "Delete a non-empty pretrain_tfrecords/ first.")
    args = parser.parse_args(argv)
    options = openwebtext.options_for(
        args.data_dir, **build_cli.shard_options(args)
    )
    return openwebtext.build(options, overwrite=args.overwrite,
                             show_progress=not args.quiet)


if __name__ == "__main__":
    run_cli(main)
