"""Where runs read and write, derived from `data_dir` and `model_name` in the
original's layout (configure_pretraining.py, configure_finetuning.py).

    <data_dir>/vocab.txt, pretrain_tfrecords/, finetuning_data/<task>/
    <data_dir>/models/<model_name>/                   pre-trained model
        results/<prefix>_results.{txt,pkl}            run results
        results/<tasks>_qa/<task>_{eval,preds,null_odds}.json
        finetuning_models/<tasks>_model_<trial>/      fine-tuned models
        finetuning_tfrecords/<tasks>_tfrecords/       featurized tasks
        test_predictions/<task>_<split>_<trial>_predictions.pkl
"""

import os


def pretrained_dir(data_dir, model_name):
    """`<data_dir>/models/<model_name>`, the pre-trained model's directory.

    Example:
      >>> pretrained_dir("/data", "m")
      '/data/models/m'
    """
    return os.path.join(data_dir, "models", model_name)


def results_files(model_dir, prefix):
    """{results_txt, results_pkl}: `<model_dir>/results/<prefix>_results.*`."""
    results_dir = os.path.join(model_dir, "results")
    return {
        f"results_{ext}": os.path.join(results_dir, f"{prefix}_results.{ext}")
        for ext in ("txt", "pkl")
    }


def pretraining_paths(data_dir, model_name):
    """PretrainingConfig's locations (configure_pretraining.py)."""
    model_dir = pretrained_dir(data_dir, model_name)
    return dict(
        pretrain_tfrecords=os.path.join(
            data_dir, "pretrain_tfrecords", "pretrain_data.tfrecord*"
        ),
        vocab_file=os.path.join(data_dir, "vocab.txt"),
        model_dir=model_dir,
        **results_files(model_dir, "unsup"),
    )


def finetuning_paths(data_dir, model_name, tasks):
    """FinetuningConfig's locations for the comma-joined `tasks`
    (configure_finetuning.py); the vocab is the pre-trained model's if it
    has one."""
    pretrained = pretrained_dir(data_dir, model_name)
    model_vocab = os.path.join(pretrained, "vocab.txt")
    return dict(
        vocab_file=(
            model_vocab
            if os.path.exists(model_vocab)
            else os.path.join(data_dir, "vocab.txt")
        ),
        init_checkpoint=pretrained,
        model_dir=os.path.join(
            pretrained, "finetuning_models", tasks + "_model"
        ),
        preprocessed_data_dir=os.path.join(
            pretrained, "finetuning_tfrecords", tasks + "_tfrecords"
        ),
        **results_files(pretrained, tasks),
    )


class FinetuningOutputs:
    """FinetuningConfig's per-task and per-trial paths (needs `data_dir`,
    `model_name`, `model_dir` and `task_names`)."""

    @property
    def tasks_string(self):
        return ",".join(self.task_names)

    def raw_data_dir(self, task_name):
        return os.path.join(self.data_dir, "finetuning_data", task_name)

    def trial_model_dir(self, trial):
        return f"{self.model_dir}_{trial}"

    def _output_file(self, *parts):
        return os.path.join(
            pretrained_dir(self.data_dir, self.model_name), *parts
        )

    def _qa_file(self, task_name, kind):
        return self._output_file(
            "results", self.tasks_string + "_qa", f"{task_name}_{kind}.json"
        )

    def qa_eval_file(self, task_name):
        return self._qa_file(task_name, "eval")

    def qa_preds_file(self, task_name):
        return self._qa_file(task_name, "preds")

    def qa_na_file(self, task_name):
        return self._qa_file(task_name, "null_odds")

    def test_predictions(self, task_name, split, trial):
        return self._output_file(
            "test_predictions", f"{task_name}_{split}_{trial}_predictions.pkl"
        )
