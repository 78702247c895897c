"""TensorFlow's saved_model_cli with the tensorflow-text ops loaded, so that
`run` can execute an export's in-graph tokenizer: takes its arguments."""

import sys

import tensorflow_text  # noqa: F401 (registers the tokenizer ops)
from tensorflow.python.tools import saved_model_cli

sys.argv[0] = "saved_model_cli"
saved_model_cli.main()
