"""`run(config)`: pre-training or its evaluation, as run_pretraining.py.

Port of run_pretraining.py `train_or_eval`: strategy, data, model,
optimizer and checkpoints wired together; training runs
`electra_tf.training.loop.train`, evaluation the original's metrics over
`num_eval_steps` batches, printed and written to `results_txt`/`results_pkl`
(the original configures but never writes them).
"""

import dataclasses
import json
import os
import pickle
import shutil

import keras
import numpy as np
import tensorflow as tf

from electra_tf import checkpoints, tokenization
from electra_tf.errors import MissingInputError
from electra_tf.checkpoints import original, ours
from electra_tf.models.pretrainer import ElectraPretrainer
from electra_tf.optimization import create_optimizer_for
from electra_tf.pretraining import data
from electra_tf.pretraining.eval_metrics import PretrainingMetrics
from electra_tf.training import distribution, loop

# Tensors of `compute_losses` that the eval metrics read.
EVAL_KEYS = (
    "total_loss",
    "masked_lm_ids",
    "masked_lm_preds",
    "masked_lm_weights",
    "mlm_loss",
    "sampled_tokids",
    "disc_loss",
    "disc_labels",
    "disc_probs",
    "disc_preds",
    "input_mask",
)


def describe(config):
    """The config, one `name value` line per field sorted by name."""
    values = config.to_dict()
    return "\n".join(f"  {k} {values[k]!r}" for k in sorted(values))


def _resolve_precision(config, log):
    """`config` with its `mixed_precision` resolved, the choice logged: an
    "auto" run in a model_dir whose pretrain_config.json records a
    precision resumes with it, else `distribution.resolve_precision`."""
    name, why = config.mixed_precision, None
    saved = os.path.join(config.model_dir, ours.PRETRAIN_CONFIG)
    if name == "auto" and tf.io.gfile.exists(saved):
        with tf.io.gfile.GFile(saved) as f:
            recorded = json.load(f).get("mixed_precision", "float32")
        if recorded != "auto":
            name, why = recorded, f"auto: the run in {saved} started with it"
    if why is None:
        name, why = distribution.resolve_precision(name)
    log(distribution.precision_line(name, why))
    return dataclasses.replace(config, mixed_precision=name)


def _inner(optimizer):
    return getattr(optimizer, "inner_optimizer", optimizer)


def load_original_training_state(prefix, model, optimizer):
    """Weights, Adam slots and global_step of an original (TF1) checkpoint."""
    inner = _inner(optimizer)
    return original.load_training_state(
        prefix,
        original.variables_by_name(model),
        inner.original_slot_names(),
        inner.iterations,
    )


def _initialize(config, prefix, model, optimizer):
    """Without a checkpoint of this run: an original checkpoint in
    model_dir (weights, slots, step), else `init_checkpoint` (encoder)."""
    if prefix:
        return load_original_training_state(prefix, model, optimizer)
    if config.init_checkpoint:
        return checkpoints.init_encoder(model, config.init_checkpoint)
    return None


def _original_dir(config):
    if not config.write_original_checkpoint:
        return None
    return os.path.join(config.model_dir, "original")


def _write_run_metadata(config):
    checkpoints.save_pretraining_config(config, config.model_dir)
    if tf.io.gfile.exists(config.vocab_file):
        # Fine-tuning prefers <model_dir>/vocab.txt (as the original).
        tf.io.gfile.copy(
            config.vocab_file,
            os.path.join(config.model_dir, "vocab.txt"),
            overwrite=True,
        )


def _remove_for_debug(model_dir, log):
    """`debug: true` starts afresh as the original (run_pretraining.py
    `train_or_eval` deletes model_dir), saying what it deletes."""
    if not tf.io.gfile.exists(model_dir):
        return
    count = len(original.indexed_checkpoints(model_dir))
    log(
        f"warning: debug is true, so the existing model directory {model_dir} "
        f"({count} checkpoint(s)) is deleted, as the original does; set "
        "debug false to resume from it instead."
    )
    shutil.rmtree(model_dir, ignore_errors=True)


def _restore_for_eval(model, model_dir):
    """Loads the latest checkpoint of `model_dir` (ours or the original's)."""
    if original.indexed_checkpoints(model_dir) == []:
        raise MissingInputError(
            f"No checkpoint in {model_dir} to evaluate; train first "
            "(do_train true) or point model_dir at a trained model."
        )
    latest = original.resolve_checkpoint(model_dir)
    original.restore_by_name(original.variables_by_name(model), latest)
    return latest


def evaluate(config, strategy, model, log=print, observers=()):
    """The original's eval metrics over `num_eval_steps` batches; each of
    `observers` also gets every batch's NumPy outputs (`update(outputs)`)."""
    latest = _restore_for_eval(model, config.model_dir)
    inputs = distribution.DistributedInput(
        strategy, lambda context: data.input_fn(config, False, context)
    )

    @tf.function
    def eval_step(iterator, step):
        def replica_fn(batch):
            out = model.compute_losses(batch, step, training=False)
            out["total_loss"] = tf.reshape(out["total_loss"], [1])
            return {k: out[k] for k in EVAL_KEYS if k in out}

        per_replica = strategy.run(replica_fn, args=(next(iterator),))
        return {k: strategy.gather(v, axis=0) for k, v in per_replica.items()}

    metrics = PretrainingMetrics(
        model.discriminator is not None, config.disc_weight
    )
    for step in range(config.num_eval_steps):
        outputs = eval_step(inputs, tf.constant(step, tf.int64))
        outputs = {k: np.asarray(v) for k, v in outputs.items()}
        for observer in (metrics, *observers):
            observer.update(outputs)
    results = metrics.result()
    results["global_step"] = original.checkpoint_step(latest)
    log(f"Evaluated {latest} on {config.num_eval_steps} batches:")
    lines = [f"  {k} = {results[k]}" for k in sorted(results)]
    for line in lines:
        log(line)
    if distribution.is_chief(strategy):
        os.makedirs(os.path.dirname(config.results_txt), exist_ok=True)
        with tf.io.gfile.GFile(config.results_txt, "w") as f:
            f.write("\n".join(lines) + "\n")
        with tf.io.gfile.GFile(config.results_pkl, "wb") as f:
            pickle.dump(results, f, -1)
    return results


def train(config, strategy, model, log=print):
    """Trains until `num_train_steps`, resuming from `model_dir`."""
    chief = distribution.is_chief(strategy)
    with strategy.scope():
        optimizer = create_optimizer_for(config, config.num_train_steps)
        optimizer.build(model.trainable_variables)
    inputs = distribution.DistributedInput(
        strategy, lambda context: data.input_fn(config, True, context)
    )
    checkpointer = ours.Checkpointer(
        config.model_dir,
        config.keep_checkpoint_max,
        model,
        optimizer,
        iterator=inputs.iterator,
        chief=chief,
        worker=distribution.worker_index(strategy),
        original_dir=_original_dir(config),
    )
    try:
        log(
            checkpointer.restore_or_initialize(
                lambda prefix: _initialize(config, prefix, model, optimizer)
            )
        )
        if chief:
            # Only now is the run known to fit model_dir (issue: a refused
            # resume must leave pretrain_config.json as it was).
            _write_run_metadata(config)

        def loss_fn(batch, step):
            out = model.compute_losses(batch, step, training=True)
            scalars = {"loss": out["total_loss"]}
            for key in ("generator_loss", "discriminator_loss"):
                if key in out:
                    scalars[key] = out[key]
            return scalars

        is_tpu = isinstance(strategy, tf.distribute.TPUStrategy)
        return loop.train(
            strategy,
            model,
            optimizer,
            loss_fn,
            inputs,
            checkpointer,
            config.num_train_steps,
            config.save_checkpoints_steps,
            config.train_batch_size,
            steps_per_call=config.iterations_per_loop if is_tpu else 1,
            jit_compile=config.jit_compile,
            summary_dir=config.model_dir if chief else None,
            log=log,
        )
    finally:
        checkpointer.close()


def run(config, log=print, observers=()):
    """Trains (`do_train`) or evaluates (`do_eval`) as the original
    (`observers`: see `evaluate`).

    Sets the Keras precision policy for the run (restored afterwards; an
    "auto" `mixed_precision` resolved and logged first) and
    seeds weight initialisation and dropout from `config.seed`.
    """
    config = checkpoints.pretraining_config_for(config)
    strategy = distribution.strategy_from_config(config)
    if config.do_train:
        distribution.check_global_batch(config.train_batch_size, strategy)
    else:
        distribution.check_global_batch(
            config.eval_batch_size, strategy, "eval_batch_size"
        )
    chief = distribution.is_chief(strategy)
    if not chief:
        log = lambda message: None  # noqa: E731 (only the chief reports)
    if config.debug and config.do_train and chief:
        _remove_for_debug(config.model_dir, log)
    config = _resolve_precision(config, log)
    if chief:
        log("Config:\n" + describe(config))
    with distribution.precision_policy(config.mixed_precision):
        keras.utils.set_random_seed(config.seed)
        special_ids = tokenization.special_ids(
            config.vocab_file, config.vocab_size
        )
        with strategy.scope():
            model = ElectraPretrainer(config, special_ids)
        if config.do_train:
            return train(config, strategy, model, log)
        return evaluate(config, strategy, model, log, observers)
