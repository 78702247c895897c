"""electra-tf: ELECTRA for TensorFlow 2 / Keras 3, faithful to google-research/electra."""

__version__ = "0.1.0"
