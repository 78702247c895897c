"""`python -m electra_tf.pipeline TASK --model DIR [--input FILE]`: run a
model on text lines, one JSON line per input (see
electra_tf/serving/pipeline_cli.py and README, "Pipelines").

`electra_tf.pipeline(task, model_dir)` is the same name: once this module
is imported it replaces the package attribute, so the module itself is
callable and forwards to `serving.pipelines.pipeline`.
"""

import sys
import types

from electra_tf.errors import run_cli
from electra_tf.serving.pipeline_cli import main
from electra_tf.serving.pipelines import pipeline

__all__ = ["pipeline", "main"]


class _CallableModule(types.ModuleType):
    def __call__(self, task, model_dir, **kwargs):
        return pipeline(task, model_dir, **kwargs)


sys.modules[__name__].__class__ = _CallableModule

if __name__ == "__main__":
    run_cli(main)
