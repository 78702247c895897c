"""The original `FinetuningConfig` (configure_finetuning.py)."""

import dataclasses
from typing import Optional

from electra_tf.config.hparams import HparamError
from electra_tf.config.paths import FinetuningOutputs, finetuning_paths
from electra_tf.config.run import RunConfig


# Tasks whose single-task defaults are those of question answering.
def _is_qa(task_name):
    return "squad" in task_name or "qa" in task_name


@dataclasses.dataclass(frozen=True)
class FinetuningConfig(RunConfig, FinetuningOutputs):
    """The original `FinetuningConfig` (configure_finetuning.py).

    Build it with
    `FinetuningConfig.from_hparams(model_name, data_dir, hparams)`.

    Example:
      >>> hparams = {"task_names": ["rte"]}
      >>> c = FinetuningConfig.from_hparams("m", "/data", hparams)
      >>> c.num_train_epochs, c.results_txt
      (10.0, '/data/models/m/results/rte_results.txt')
    """

    # general
    log_examples: bool = False
    num_trials: int = 1
    do_train: bool = True
    do_eval: bool = True
    keep_all_models: bool = True
    # tasks
    task_names: list = dataclasses.field(default_factory=lambda: ["chunk"])
    # optimization
    learning_rate: float = 1e-4
    weight_decay_rate: float = 0.01
    layerwise_lr_decay: float = 0.8
    num_train_epochs: float = 3.0
    warmup_proportion: float = 0.1
    save_checkpoints_steps: int = 1000000
    iterations_per_loop: int = 1000
    use_tfrecords_if_existing: bool = True
    # writing model outputs to disk
    write_test_outputs: bool = False
    n_writes_test: int = 5
    # sizing
    max_seq_length: int = 128
    train_batch_size: int = 32
    eval_batch_size: int = 32
    predict_batch_size: int = 32
    double_unordered: bool = True
    # QA
    max_query_length: int = 64
    doc_stride: int = 128
    n_best_size: int = 20
    max_answer_length: int = 30
    answerable_classifier: bool = True
    answerable_uses_start_logits: bool = True
    answerable_weight: float = 0.5
    joint_prediction: bool = True
    beam_size: int = 20
    qa_na_threshold: float = -2.75
    # locations (derived from data_dir / model_name / task_names unless given)
    vocab_file: Optional[str] = None
    init_checkpoint: Optional[str] = None
    model_dir: Optional[str] = None
    results_txt: Optional[str] = None
    results_pkl: Optional[str] = None
    preprocessed_data_dir: Optional[str] = None
    # additions of this port (README, "Deviations")
    layerwise_lr_decay_corrected: bool = False

    @classmethod
    def _derive(cls, v, hparams):
        # 1. paths (using task_names from the hparams)
        task_names = hparams.get("task_names", v["task_names"])
        if isinstance(task_names, str) or not task_names:
            raise HparamError(
                "task_names must be a non-empty list of task names, "
                f"got {task_names!r}."
            )
        v.update(
            finetuning_paths(
                v["data_dir"], v["model_name"], ",".join(task_names)
            )
        )
        # 2. user hparams
        v.update(hparams)
        # 3. single-task defaults
        if len(v["task_names"]) == 1:
            task = v["task_names"][0]
            if task in ("rte", "sts"):
                v["num_train_epochs"] = 10.0
            elif _is_qa(task):
                v.update(
                    max_seq_length=512,
                    num_train_epochs=2.0,
                    write_test_outputs=False,
                )
            elif task == "chunk":
                v["max_seq_length"] = 256
            else:
                v["num_train_epochs"] = 3.0
        # 4. model-size defaults
        if v["model_size"] == "large":
            v.update(learning_rate=5e-5, layerwise_lr_decay=0.9)
        elif v["model_size"] == "small":
            v["embedding_size"] = 128
        # 5. debug mode
        if v["debug"]:
            v.update(
                save_checkpoints_steps=1000000,
                use_tfrecords_if_existing=False,
                num_trials=1,
                iterations_per_loop=1,
                train_batch_size=32,
                num_train_epochs=3.0,
                log_examples=True,
            )
            # Deviation from reference: the original reads `debug` before
            # the hparams are applied, so debug mode never drops the
            # init checkpoint nor suffixes the tfrecord dir
            # (configure_finetuning.py: `FinetuningConfig.__init__`).
            v["init_checkpoint"] = None
            v["preprocessed_data_dir"] += "-debug"
        # 6. (from_hparams) user hparams again

    def validate(self):
        if not (self.do_train or self.do_eval):
            raise HparamError(
                "At least one of do_train or do_eval must be True."
            )
        for name in self.task_names:
            if not isinstance(name, str):
                raise HparamError(
                    f"hparam task_names has {name!r}, a "
                    f"{type(name).__name__}; use a list of task name strings."
                )
        super().validate()
