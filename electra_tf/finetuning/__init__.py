"""Fine-tuning: tasks, featurisation, scorers and the run.

`run(config)` is the whole of the original run_finetuning.py for a
`FinetuningConfig` (see finetuning/runner.py); the heads and models are in
models/finetuner.py.
"""

from electra_tf.finetuning.runner import run

__all__ = ["run"]
