"""The fine-tuning run: trials, training, evaluation and the output files.

Port of run_finetuning.py (`run_finetuning`, `ModelRunner`,
`write_results`): for each trial the model directory is recreated, the model
is initialised from `init_checkpoint`, trained for `num_train_epochs` over
the cached records, evaluated on `dev` (results appended to
`results/<tasks>_results.{txt,pkl}`) and optionally run on the test splits.
Each trial has its own recorded seed; the medians over trials are logged
and written to `results/<tasks>_trials.json`. Everything the run reports
goes through its `log` callable, as in the pre-training run.
"""

import collections
import dataclasses
import json
import os
import pickle
import re
import shutil

import keras
import numpy as np
import tensorflow as tf

from electra_tf import checkpoints
from electra_tf.checkpoints import finetuned
from electra_tf.config import HparamError
from electra_tf.errors import OutputExistsError
from electra_tf.finetuning import preprocessing
from electra_tf.models.finetuner import FinetuningModel
from electra_tf.optimization import create_optimizer_for
from electra_tf.training import distribution
from electra_tf.training import loop
from electra_tf.training.metrics_writer import write_scalars

GLUE_TEST_TASKS = ("cola", "mrpc", "mnli", "sst", "rte", "qnli", "qqp", "sts")


def head_specs(tasks):
    """The task heads of a FinetuningModel, as saved beside its weights."""
    return [
        {
            "name": t.name,
            "head_type": t.head_type,
            "num_labels": getattr(t, "num_labels", None),
        }
        for t in tasks
    ]


def build_model(config, tasks):
    """The FinetuningModel of `config` with one head per task."""
    model_config = config.disc_config()
    if config.max_seq_length > model_config.max_position_embeddings:
        raise HparamError(
            f"max_seq_length {config.max_seq_length} exceeds the model's "
            f"max_position_embeddings {model_config.max_position_embeddings}."
        )
    return FinetuningModel.from_finetuning_config(config, head_specs(tasks))


class ModelRunner:
    """Trains and evaluates one trial.

    Args:
        config: the `FinetuningConfig`.
        tasks: the `Task` objects of `config.task_names`.
        model_dir: this trial's directory (checkpoints, TensorBoard events).
        seed: this trial's seed (dropout, initialisation, data shuffling).
        strategy: the tf.distribute strategy training runs under.
        log: called with each line the trial reports.
    """

    def __init__(self, config, tasks, model_dir, seed, strategy, log=print):
        self._log = log
        self._config = config
        self._tasks = tasks
        self._model_dir = model_dir
        self._seed = seed
        self._strategy = strategy
        self._chief = distribution.is_chief(strategy)
        self._preprocessor = preprocessing.Preprocessor(config, tasks)
        self.train_steps = 0
        if config.do_train:
            prepared = self._preprocessor.prepare_train()
            self._train_path, self.train_steps = prepared
            if self.train_steps <= 0:
                raise ValueError(
                    "The training data gives 0 training steps (fewer records "
                    "than train_batch_size x 1/num_train_epochs); lower "
                    "train_batch_size or add data."
                )
        with strategy.scope():
            self.model = build_model(config, tasks)
        if config.init_checkpoint:
            finetuned.init_from_checkpoint(
                self.model,
                config.init_checkpoint,
                require_heads=not config.do_train,
            )
        elif not config.do_train:
            raise HparamError(
                "do_train is false but init_checkpoint is not set: evaluation "
                "needs a fine-tuned checkpoint."
            )
        self._writer = None
        if self._chief:
            self._writer = tf.summary.create_file_writer(model_dir)
        self._predict_step = tf.function(
            lambda features: self.model(features, training=False),
            jit_compile=config.jit_compile,
        )

    def train(self):
        """Trains for `train_steps` steps with the shared training loop; the
        progress lines and TensorBoard scalars include the epoch."""
        config, strategy = self._config, self._strategy
        with strategy.scope():
            optimizer = create_optimizer_for(
                config, self.train_steps, self.model.config.num_hidden_layers
            )
        inputs = distribution.DistributedInput(
            strategy,
            lambda context: self._preprocessor.make_dataset(
                self._train_path, True, self._seed, context
            ),
        )
        steps_per_epoch = self.train_steps / config.num_train_epochs

        def loss_fn(features, step):
            # The sum over the (local) batch, as the original; the loop
            # averages the replicas' gradients as CrossShardOptimizer does.
            loss = self.model(features, training=True)["loss"]
            epoch = tf.cast(step + 1, tf.float32) / steps_per_epoch
            return {"loss": loss, "epoch": epoch}

        loop.train(
            strategy,
            self.model,
            optimizer,
            loss_fn,
            inputs,
            finetuned.ByNameCheckpointer(
                self.model, self._model_dir, self._chief
            ),
            self.train_steps,
            config.save_checkpoints_steps,
            config.train_batch_size,
            jit_compile=config.jit_compile,
            summary_dir=self._model_dir if self._chief else None,
            log=self._log,
        )

    def _predictions(self, tasks, split):
        """(task name, outputs) per record of `split`; padding skipped."""
        path, _ = self._preprocessor.prepare_predict(tasks, split)
        padding_id = len(self._config.task_names)
        for batch in self._preprocessor.make_dataset(path, False):
            outputs = self._predict_step(batch)
            task_ids = outputs["task_id"].numpy()
            by_task = {
                t.name: {k: v.numpy() for k, v in outputs[t.name].items()}
                for t in tasks
            }
            for i, task_id in enumerate(task_ids):
                if task_id == padding_id:
                    continue
                name = self._config.task_names[task_id]
                yield name, {k: v[i] for k, v in by_task[name].items()}

    def _scorer(self, task, split):
        """`task`'s scorer, updated with the model's outputs on `split`."""
        self._log(f"Evaluating {task.name} on {split}")
        scorer = task.get_scorer(split)
        n = 0
        for _, result in self._predictions([task], split):
            scorer.update(result)
            n += 1
        if not n:
            raise ValueError(
                f"The {split} split of {task.name} has no examples."
            )
        return scorer

    def evaluate_task(self, task, split="dev"):
        """`task`'s metrics on `split`, {name: value}."""
        scorer = self._scorer(task, split)
        self._log(f"{task.name}: {scorer.results_str()}")
        return dict(scorer.get_results())

    def evaluate(self):
        """{task: metrics} on dev, also written as TensorBoard scalars
        `dev/<task>/<metric>` at the last training step."""
        results = {task.name: self.evaluate_task(task) for task in self._tasks}
        if self._writer is not None:
            write_scalars(
                self._writer,
                self.train_steps,
                {
                    f"dev/{task_name}/{key}": value
                    for task_name, metrics in results.items()
                    for key, value in metrics.items()
                },
            )
        return results

    def write_test_outputs(self, trial):
        """GLUE logits / scores and SQuAD 2.0 answers on the test splits."""
        config = self._config
        for task in self._tasks:
            if task.name in GLUE_TEST_TASKS:
                for split in task.get_test_splits():
                    outputs = {}
                    for name, result in self._predictions([task], split):
                        key = "logits" if "logits" in result else "predictions"
                        outputs[int(result["eid"])] = result[key]
                    path = config.test_predictions(task.name, split, trial)
                    tf.io.gfile.makedirs(os.path.dirname(path))
                    with tf.io.gfile.GFile(path, "wb") as f:
                        pickle.dump(outputs, f, pickle.HIGHEST_PROTOCOL)
                    self._log(
                        f"Wrote {len(outputs)} {split} predictions to {path}"
                    )
            elif task.name == "squad":
                scorer = self._scorer(task, "test")
                preds, null_odds, _ = scorer.write_predictions()
                answers = {
                    q: "" if null_odds[q] > config.qa_na_threshold else a
                    for q, a in preds.items()
                }
                path = config.test_predictions(task.name, "test", trial)
                tf.io.gfile.makedirs(os.path.dirname(path))
                # As the original (run_finetuning.py: write_test_outputs):
                # JSON under the .pkl name.
                with tf.io.gfile.GFile(path, "w") as f:
                    json.dump(answers, f)
            else:
                self._log(
                    f"Skipping {task.name}: writing test predictions is "
                    "supported for GLUE and SQuAD 2.0 only (as the original)."
                )


def write_results(config, results):
    """`<tasks>_results.pkl` (every trial) and `.txt` (2 decimals)."""
    tf.io.gfile.makedirs(os.path.dirname(config.results_txt))
    with tf.io.gfile.GFile(config.results_pkl, "wb") as f:
        pickle.dump(results, f, protocol=pickle.HIGHEST_PROTOCOL)
    lines = []
    for trial_results in results:
        for task_name, task_results in trial_results.items():
            lines.append(
                task_name
                + ": "
                + " - ".join(f"{k}: {v:.2f}" for k, v in task_results.items())
            )
    with tf.io.gfile.GFile(config.results_txt, "w") as f:
        f.write("".join(line + "\n" for line in lines))


def median_results(results):
    """{task: {metric: median over trials}}."""
    values = collections.defaultdict(lambda: collections.defaultdict(list))
    for trial_results in results:
        for task_name, metrics in trial_results.items():
            for key, value in metrics.items():
                values[task_name][key].append(value)
    return {
        task_name: {k: float(np.median(v)) for k, v in metrics.items()}
        for task_name, metrics in values.items()
    }


def _write_trials(config, trials, results):
    path = config.results_txt.replace("_results.txt", "_trials.json")
    summary = {"trials": trials, "median": median_results(results)}
    with tf.io.gfile.GFile(path, "w") as f:
        json.dump(summary, f, indent=2, default=float)


def run(config, log=print):
    """Runs `num_trials` trials; returns the list of per-trial dev results.
    Each line the run reports goes to `log` (on the chief only).

    Sets the Keras precision policy for the run (restored afterwards; an
    "auto" `mixed_precision` resolved and logged first).
    """
    _check_not_input(config, config.model_dir)
    config = checkpoints.finetuning_config_for(config)
    strategy = distribution.strategy_from_config(config)
    if config.do_train:
        distribution.check_global_batch(config.train_batch_size, strategy)
    if not distribution.is_chief(strategy):
        log = lambda message: None  # noqa: E731 (only the chief reports)
    precision, why = distribution.resolve_precision(config.mixed_precision)
    log(distribution.precision_line(precision, why))
    config = dataclasses.replace(config, mixed_precision=precision)
    with distribution.precision_policy(precision):
        return _run_trials(config, strategy, log)


def _check_not_input(config, model_dir):
    """Refuses to replace the directory the run loads its weights from."""
    if not (config.do_train and config.init_checkpoint):
        return
    source = os.path.abspath(config.init_checkpoint)
    trials = re.escape(os.path.abspath(model_dir)) + r"_\d+"
    if re.match(trials + "($|" + re.escape(os.sep) + ")", source):
        raise OutputExistsError(
            f"init_checkpoint {config.init_checkpoint} is one of this run's "
            f"trial directories {model_dir}_<trial>, which training "
            "replaces. Copy it elsewhere first and point init_checkpoint "
            "there, or set model_dir to another directory."
        )


def _run_trials(config, strategy, log):
    chief = distribution.is_chief(strategy)
    log(f"Config: {config.to_json()}")
    tasks = preprocessing.get_tasks(config)
    preprocessing.check_inputs(config, tasks)
    results, trials = [], []
    trial = 1
    while config.num_trials < 0 or trial <= config.num_trials:
        seed = config.seed + trial - 1
        model_dir = config.trial_model_dir(trial)
        log(f"Trial {trial}/{config.num_trials} (seed {seed}): {model_dir}")
        if config.do_train and chief:
            if tf.io.gfile.exists(model_dir):
                tf.io.gfile.rmtree(model_dir)
            finetuned.write_description(model_dir, config, head_specs(tasks))
        keras.utils.set_random_seed(seed)
        runner = ModelRunner(config, tasks, model_dir, seed, strategy, log)
        if config.do_train:
            runner.train()
        if config.do_eval:
            results.append(runner.evaluate())
            trials.append(
                {
                    "trial": trial,
                    "seed": seed,
                    "model_dir": model_dir,
                    "results": results[-1],
                }
            )
            if chief:
                write_results(config, results)
                _write_trials(config, trials, results)
                if config.write_test_outputs and trial <= config.n_writes_test:
                    runner.write_test_outputs(trial)
        if trial != config.num_trials and not config.keep_all_models and chief:
            shutil.rmtree(model_dir, ignore_errors=True)
        trial += 1
    if results:
        for task_name, metrics in median_results(results).items():
            values = " - ".join(f"{k}: {v:.2f}" for k, v in metrics.items())
            log(f"Median over {len(results)} trial(s) - {task_name}: {values}")
    return results
