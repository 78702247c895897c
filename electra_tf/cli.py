"""Set-up shared by the run scripts: a quiet TensorFlow, logs on stdout.

stderr is kept for the one-line error of `errors.run_cli`, so the scripts
log progress and warnings to stdout, and TensorFlow's C++ start-up lines
(oneDNN, CUDA probing) are dropped.
"""

import logging
import os
import sys


def import_tensorflow_quietly():
    """Imports TensorFlow and probes devices with C++ logging on stderr
    silenced; returns the `tensorflow` module.

    TF_CPP_MIN_LOG_LEVEL=2 does not cover the lines absl writes before it
    is initialised, so file descriptor 2 points at /dev/null meanwhile.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.stderr.flush()
    saved = os.dup(2)
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 2)
    try:
        import tensorflow as tf

        tf.config.list_physical_devices()
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(null)
    tf.get_logger().setLevel("ERROR")
    return tf


def log_to_stdout(level=logging.INFO):
    """Logging, Python warnings included, goes to stdout at `level`."""
    logging.basicConfig(
        level=level,
        stream=sys.stdout,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        force=True,
    )
    logging.captureWarnings(True)
