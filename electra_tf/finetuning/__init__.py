"""Fine-tuning: tasks, featurisation, heads, scorers and the run.

`run(config)` is the whole of the original run_finetuning.py for a
`FinetuningConfig`; the task, data and scorer modules import no models.
"""


def run(config):
    """Fine-tunes and evaluates as `config` says (see finetuning/runner.py)."""
    # Imported here: the runner needs models/finetuner, which imports
    # finetuning/heads, so a module-level import would be circular.
    from electra_tf.finetuning import runner

    return runner.run(config)
