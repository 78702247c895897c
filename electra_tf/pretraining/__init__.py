"""Pre-training: `run(config)` trains or evaluates as run_pretraining.py.

`run` lives in `runner` and is imported on first use, so that the light
modules of this package (masking, data, build_dataset) import without the
model and training code.
"""

import importlib


def __getattr__(name):
    if name == "run":
        return importlib.import_module("electra_tf.pretraining.runner").run
    raise AttributeError(
        f"module 'electra_tf.pretraining' has no attribute '{name}'"
    )
