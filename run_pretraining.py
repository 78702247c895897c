"""Pre-trains (or evaluates) an ELECTRA model (the original's CLI).

    python run_pretraining.py --data-dir DIR --model-name NAME \
        --hparams '{"model_size": "small", "num_train_steps": 1000000}'

Reads `<data-dir>/pretrain_tfrecords/pretrain_data.tfrecord*` and
`<data-dir>/vocab.txt`; checkpoints go to `<data-dir>/models/<model-name>`
and a re-run resumes from them. Without `--data-dir`, the bundled State of
the Union corpus is turned into pre-training data once (cached) and used,
and the run ends with what it learned (electra_tf/pretraining/summary.py).
`--hparams` is a JSON dict or the path of a `.json` file. Progress goes to
stdout; a bad input ends the run with one `error:` line on stderr (exit 2).
"""

import argparse
import logging
import os

from electra_tf import cli
from electra_tf import errors
from electra_tf.config import PretrainingConfig


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--data-dir",
        default=None,
        help="Location of data files (tfrecords, vocab, model weights). "
        "Default: the bundled corpus, built once into a cache directory.",
    )
    parser.add_argument(
        "--model-name", required=True, help="The name of the model being trained."
    )
    parser.add_argument(
        "--hparams", default="{}", help="JSON dict of hyperparameters or a .json path."
    )
    args = parser.parse_args(argv)
    cli.log_to_stdout(logging.WARNING)
    config = None
    if args.data_dir:  # bad hparams fail before TensorFlow starts
        config = PretrainingConfig.from_hparams(
            args.model_name, args.data_dir, args.hparams
        )
    cli.import_tensorflow_quietly()
    from electra_tf.pretraining import runner
    from electra_tf.pretraining.default_data import ensure_default_data

    if config is None:
        config = PretrainingConfig.from_hparams(
            args.model_name, ensure_default_data(), args.hparams
        )
    print(f"Model directory: {os.path.abspath(config.model_dir)}", flush=True)
    log = lambda line: print(line, flush=True)  # noqa: E731
    runner.run(config, log=log)
    if args.data_dir is None and config.do_train:
        from electra_tf.pretraining import summary

        summary.summarize(config, log=log)


if __name__ == "__main__":
    errors.run_cli(main)
