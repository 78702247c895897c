"""`python -m electra_tf.pipeline TASK --model DIR [--input FILE]`: run a
model on text lines, one JSON line per input (see
electra_tf/serving/pipeline_cli.py and README, "Pipelines").

`electra_tf.pipeline(task, model_dir)` is the same name: once this module
is imported it replaces the package attribute, so the module itself is
callable and forwards to `serving.pipelines.pipeline`.
"""

import sys
import types

from electra_tf import cli, errors


def pipeline(task, model_dir, **kwargs):
    """`serving.pipelines.pipeline`: a callable running `task` on text."""
    from electra_tf.serving import pipelines

    return pipelines.pipeline(task, model_dir, **kwargs)


def main(argv=None):
    """The pipeline CLI; TensorFlow loads after its start-up lines are muted."""
    cli.import_tensorflow_quietly()
    from electra_tf.serving import pipeline_cli

    return pipeline_cli.main(argv)


class _CallableModule(types.ModuleType):
    def __call__(self, task, model_dir, **kwargs):
        return pipeline(task, model_dir, **kwargs)


sys.modules[__name__].__class__ = _CallableModule

if __name__ == "__main__":
    errors.run_cli(main)
