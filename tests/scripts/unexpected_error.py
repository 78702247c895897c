"""A CLI whose main raises a bug, after TensorFlow was imported quietly and
logging sent to stdout: the bug must keep its traceback."""

import logging

from electra_tf import cli, errors

cli.import_tensorflow_quietly()
cli.log_to_stdout()
logging.getLogger("x").warning("to stdout")


def main():
    raise RuntimeError("a bug")


errors.run_cli(main)
