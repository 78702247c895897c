"""Task objects from task names.

Port of finetune/task_builder.py (spec 7.1): every task shares one
`FullTokenizer(config.vocab_file, do_lower_case=config.do_lower_case)`.
"""

from electra_tf import tokenization
from electra_tf.finetuning import chunking
from electra_tf.finetuning import glue
from electra_tf.finetuning import squad

TASKS = {**glue.GLUE_TASKS, **squad.QA_TASKS, **chunking.TAGGING_TASKS}


def get_task(config, task_name, tokenizer):
    if task_name not in TASKS:
        raise ValueError(
            f"Unknown task {task_name!r}; known tasks: {', '.join(TASKS)}."
        )
    return TASKS[task_name](config, tokenizer)


def get_tasks(config, tokenizer=None):
    """The tasks of `config.task_names`, in order (the order gives task ids)."""
    if len(set(config.task_names)) != len(config.task_names):
        raise ValueError(f"task_names has duplicates: {config.task_names}.")
    if tokenizer is None:
        tokenizer = tokenization.FullTokenizer(
            config.vocab_file, do_lower_case=config.do_lower_case
        )
    return [get_task(config, name, tokenizer) for name in config.task_names]
