"""Fine-tunes an ELECTRA model on downstream tasks (the original's CLI).

    python run_finetuning.py --data-dir DIR --model-name NAME \
        --hparams '{"model_size": "small", "task_names": ["rte"]}'

`--hparams` is a JSON dict or the path of a `.json` file. Raw data is read
from `<data-dir>/finetuning_data/<task>/`, the pre-trained model from
`<data-dir>/models/<model-name>`; results go to
`<data-dir>/models/<model-name>/results/`. Logs go to stdout; a bad input
ends the run with one `error:` line on stderr (exit 2).
"""

import argparse

from electra_tf import cli
from electra_tf import errors
from electra_tf.config import FinetuningConfig


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--data-dir",
        required=True,
        help="Location of data files (model weights, etc).",
    )
    parser.add_argument(
        "--model-name",
        required=True,
        help="The name of the model being fine-tuned.",
    )
    parser.add_argument(
        "--hparams",
        default="{}",
        help="JSON dict of hyperparameters or a .json path.",
    )
    args = parser.parse_args(argv)
    cli.log_to_stdout()
    config = FinetuningConfig.from_hparams(
        args.model_name, args.data_dir, args.hparams
    )
    cli.import_tensorflow_quietly()
    import electra_tf.finetuning

    electra_tf.finetuning.run(config, log=lambda line: print(line, flush=True))


if __name__ == "__main__":
    errors.run_cli(main)
