"""Set-up shared by the run scripts: a quiet TensorFlow, logs on stdout.

stderr is kept for the one-line error of `errors.run_cli`, so the scripts
log progress and warnings to stdout, and TensorFlow's C++ start-up lines
(oneDNN, CUDA probing) are dropped.
"""

import logging
import os
import sys


def import_tensorflow_quietly():
    """Imports TensorFlow with its C++ logging kept off stderr; returns the
    `tensorflow` module.

    TF_CPP_MIN_LOG_LEVEL=2 (the default set here) does not cover the lines
    absl writes before it is initialised, nor some run-time ones, so while
    the level is 2 or more, file descriptor 2 (where C++ code writes) points
    at /dev/null and Python's `sys.stderr` keeps the real stderr. Set
    TF_CPP_MIN_LOG_LEVEL=0 to see TensorFlow's C++ logs.
    """
    level = os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if level.isdigit() and int(level) >= 2:
        _native_stderr_to_devnull()
    import tensorflow as tf

    tf.get_logger().setLevel("ERROR")
    return tf


def _native_stderr_to_devnull():
    sys.stderr.flush()
    real = os.dup(2)
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 2)
    os.close(null)
    sys.stderr = os.fdopen(
        real, "w", buffering=1, encoding="utf-8", errors="backslashreplace"
    )


def log_to_stdout(level=logging.INFO):
    """Logging, Python warnings included, goes to stdout at `level`."""
    logging.basicConfig(
        level=level,
        stream=sys.stdout,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        force=True,
    )
    logging.captureWarnings(True)
