"""Task objects from task names.

Port of finetune/task_builder.py (`get_tasks`): every task shares one
`FullTokenizer(config.vocab_file, do_lower_case=config.do_lower_case)`.
"""

import tensorflow as tf

from electra_tf import errors
from electra_tf import tokenization
from electra_tf.finetuning import chunking
from electra_tf.finetuning import glue
from electra_tf.finetuning import squad

TASKS = {**glue.GLUE_TASKS, **squad.QA_TASKS, **chunking.TAGGING_TASKS}


def get_task(config, task_name, tokenizer):
    if task_name not in TASKS:
        raise errors.ConfigError(
            f"Unknown task {task_name!r} in task_names; use one of "
            f"{', '.join(TASKS)}."
        )
    return TASKS[task_name](config, tokenizer)


def get_tasks(config, tokenizer=None):
    """The tasks of `config.task_names`, in order (the order gives task ids)."""
    if len(set(config.task_names)) != len(config.task_names):
        raise errors.ConfigError(
            f"task_names has duplicates: {config.task_names}; name each "
            "task once."
        )
    if tokenizer is None:
        if not tf.io.gfile.exists(config.vocab_file):
            raise errors.MissingInputError(
                f"The vocab file {config.vocab_file} does not exist; put "
                "the pre-trained model's vocab.txt in <data-dir>/models/"
                "<model-name>/ or <data-dir>/, or set the vocab_file hparam."
            )
        tokenizer = tokenization.FullTokenizer(
            config.vocab_file, do_lower_case=config.do_lower_case
        )
    return [get_task(config, name, tokenizer) for name in config.task_names]


def splits_used(config, task):
    """The splits a run of `config` reads for `task`: train, dev and, when
    test outputs are written (GLUE and SQuAD 2.0, see `ModelRunner.
    write_test_outputs`), the test splits."""
    splits = []
    if config.do_train:
        splits.append("train")
    if config.do_eval:
        splits.append("dev")
        writes_test = task.name in glue.GLUE_TASKS or task.name == "squad"
        if config.write_test_outputs and writes_test:
            splits += task.get_test_splits()
    return splits


def check_inputs(config, tasks):
    """Reads and checks every split the run uses before training starts.

    Deviation from reference: the original reads dev and test data only
    after training, so a bad dev file is found hours into a run.
    """
    for t in tasks:
        for split in splits_used(config, t):
            t.check_split(split)
