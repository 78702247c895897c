"""The ELECTRA optimizer: warmup x polynomial decay, Adam with weight decay.

Port of model/optimization.py: `create_optimizer` (schedule, global-norm
clipping), `AdamWeightDecayOptimizer` (Adam without bias correction, decoupled
weight decay skipping LayerNorm and bias variables) and `_get_layer_lrs`
(layer-wise learning-rate decay for fine-tuning), as a Keras 3 optimizer that
also runs under `keras.optimizers.LossScaleOptimizer` and tf.distribute.
"""

import re

import keras
import tensorflow as tf

from electra_tf.config import FinetuningConfig

# Variables whose path contains one of these (regex search) are not decayed.
EXCLUDE_FROM_WEIGHT_DECAY = ("LayerNorm", "layer_norm", "bias")


@keras.saving.register_keras_serializable(package="electra_tf")
class WarmupPolynomialDecay(keras.optimizers.schedules.LearningRateSchedule):
    """`lr * (1 - min(step, T) / T) ** power * min(1, step / W)`.

    W = max(T * warmup_proportion, warmup_steps). The warmup factor multiplies
    the already-decaying rate (it is not "warm up to the peak, then decay"),
    so the rate at step 0 is 0, as in the original.

    Args:
        learning_rate: peak rate `lr`.
        num_train_steps: T, the step at which the rate reaches 0.
        warmup_steps: warmup length in steps.
        warmup_proportion: warmup length as a fraction of T.
        power: polynomial decay power (1.0 is linear).

    Example:
        >>> schedule = WarmupPolynomialDecay(1e-3, 100, warmup_steps=10)
        >>> round(float(schedule(5)), 7)
        0.000475
    """

    def __init__(
        self,
        learning_rate,
        num_train_steps,
        warmup_steps=0,
        warmup_proportion=0.0,
        power=1.0,
    ):
        if num_train_steps <= 0:
            raise ValueError(
                f"num_train_steps must be positive, got {num_train_steps}."
            )
        self.learning_rate = learning_rate
        self.num_train_steps = num_train_steps
        self.warmup_steps = warmup_steps
        self.warmup_proportion = warmup_proportion
        self.power = power

    @property
    def warmup_length(self):
        proportional = self.num_train_steps * self.warmup_proportion
        return max(proportional, self.warmup_steps)

    def __call__(self, step):
        step = tf.cast(step, tf.float32)
        total = float(self.num_train_steps)
        progress = tf.minimum(step, total) / total
        decayed = self.learning_rate * tf.pow(1.0 - progress, self.power)
        warmup = float(self.warmup_length)
        if warmup <= 0:
            # Deviation from reference: with no warmup the original divides
            # 0 by 0 at step 0 (a NaN rate); here the factor is simply 1.
            return decayed
        return decayed * tf.minimum(1.0, step / warmup)

    def get_config(self):
        return dict(
            learning_rate=self.learning_rate,
            num_train_steps=self.num_train_steps,
            warmup_steps=self.warmup_steps,
            warmup_proportion=self.warmup_proportion,
            power=self.power,
        )


def variable_path(variable):
    """The variable's name as in the original checkpoints (no `:0`)."""
    path = getattr(variable, "path", None) or variable.name
    return path.split(":")[0]


def layerwise_lr_multiplier(path, n_layers, decay, corrected=False):
    """Factor on the learning rate of the variable at `path`
    (model/optimization.py: _get_layer_lrs).

    Depth by substring: `/embeddings/` and `/embeddings_project/` 0,
    `encoder/layer_<k>/` k + 1, `task_specific/` n + 2. The original's rate
    is `decay ** (n + 2 - depth)`: the task head gets decay**0, the top
    layer decay**2, layer 0 decay**(n + 1), embeddings decay**(n + 2).

    `corrected=True` gives the rates the authors intended (issues #51, #64):
    the task head decay**0, the top layer decay**1, layer k
    decay**(n - k), embeddings and projection decay**(n + 1).

    Raises ValueError naming the variable if it matches no key, or more
    than one.
    """
    depths = {"/embeddings/": 0, "/embeddings_project/": 0}
    for k in range(n_layers):
        depths[f"encoder/layer_{k}/"] = k + 1
    depths["task_specific/"] = n_layers + 2
    matches = [depth for key, depth in depths.items() if key in path]
    if not matches:
        raise ValueError(
            f"No learning rate specified for variable '{path}': layer-wise "
            "decay needs every trainable variable under '/embeddings/', "
            "'/embeddings_project/', 'encoder/layer_<k>/' or 'task_specific/'."
        )
    if len(matches) > 1:
        # Deviation from reference: the original would update such a
        # variable once per matching group; no ELECTRA variable does this.
        raise ValueError(
            f"Variable '{path}' matches several layer-wise learning-rate "
            "groups; rename it so that exactly one applies."
        )
    depth = matches[0]
    if corrected:
        exponent = 0 if depth == n_layers + 2 else n_layers + 1 - depth
    else:
        exponent = n_layers + 2 - depth
    return decay**exponent


@tf.function(jit_compile=True, reduce_retracing=True)
def _adam_step(gradient, variable, m, v, lr, constants):
    """One variable's AdamWeightDecay update, fused by XLA into one pass
    (TensorFlow runs each of its nine element-wise ops as a pass over the
    variable). `constants` = [beta_1, 1 - beta_1, beta_2, 1 - beta_2,
    epsilon, decay rate], the differences taken in float64 as the original's
    Python floats are."""
    beta_1, one_minus_beta_1, beta_2, one_minus_beta_2, epsilon, decay = (
        tf.unstack(constants)
    )
    next_m = beta_1 * m + one_minus_beta_1 * gradient
    next_v = beta_2 * v + one_minus_beta_2 * tf.square(gradient)
    update = next_m / (tf.sqrt(next_v) + epsilon) + decay * variable
    return next_m, next_v, variable - lr * update


@keras.saving.register_keras_serializable(package="electra_tf")
class AdamWeightDecay(keras.optimizers.Optimizer):
    """Adam as in the original ELECTRA: no bias correction, decoupled decay.

    Per variable θ with gradient g:
        m = β1·m + (1 − β1)·g;  v = β2·v + (1 − β2)·g²
        u = m / (sqrt(v) + ε) + weight_decay_rate·θ   (decay unless excluded)
        θ = θ − lr·multiplier·u
    Keras's own `weight_decay`/AdamW are not used: they apply bias correction
    and decay outside the update. The optimizer does not clip; the training
    loop clips each replica's gradients (see `clip_by_global_norm`).

    Args:
        learning_rate: a float or a LearningRateSchedule of the step.
        weight_decay_rate: decoupled decay factor (0 disables it).
        beta_1, beta_2, epsilon: Adam constants (original: 0.9, 0.999, 1e-6).
        exclude_from_weight_decay: regexes searched in each variable's path.
        layerwise_lr_decay_power: if > 0, each variable's rate is multiplied
            by `layerwise_lr_multiplier(path, n_transformer_layers, power)`.
        n_transformer_layers: number of encoder layers (layer-wise mode).
        layerwise_lr_decay_corrected: use the intended exponents.

    Example:
        >>> opt = AdamWeightDecay(1e-3, weight_decay_rate=0.01)
        >>> w = keras.Variable([1.0], name="kernel")
        >>> opt.apply([tf.constant([0.5])], [w])
        >>> round(float(w.numpy()[0]), 5)  # 1 - 1e-3*(0.05/(0.0158+1e-6)+0.01)
        0.99683
    """

    def __init__(
        self,
        learning_rate=1e-3,
        weight_decay_rate=0.0,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-6,
        exclude_from_weight_decay=EXCLUDE_FROM_WEIGHT_DECAY,
        layerwise_lr_decay_power=-1.0,
        n_transformer_layers=None,
        layerwise_lr_decay_corrected=False,
        name="AdamWeightDecay",
        **kwargs,
    ):
        if kwargs.get("weight_decay") is not None:
            raise ValueError(
                "AdamWeightDecay does not use Keras's `weight_decay` (it "
                "decays outside the update); pass `weight_decay_rate`."
            )
        if layerwise_lr_decay_power > 0 and not n_transformer_layers:
            raise ValueError(
                "layerwise_lr_decay_power > 0 needs n_transformer_layers "
                "(the number of encoder layers)."
            )
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.weight_decay_rate = weight_decay_rate
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.exclude_from_weight_decay = tuple(exclude_from_weight_decay or ())
        self.layerwise_lr_decay_power = layerwise_lr_decay_power
        self.n_transformer_layers = n_transformer_layers
        self.layerwise_lr_decay_corrected = layerwise_lr_decay_corrected

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        # Slot variable names end in adam_m / adam_v as in the original.
        self._adam_m, self._adam_v = self.add_optimizer_variables(
            var_list, ["adam_m", "adam_v"]
        )
        paths = [variable_path(v) for v in var_list]
        self._variable_paths = paths
        self._decay_flags = [self._do_use_weight_decay(p) for p in paths]
        self._lr_multipliers = [self._lr_multiplier(p) for p in paths]

    def _do_use_weight_decay(self, path):
        if not self.weight_decay_rate:
            return False
        patterns = self.exclude_from_weight_decay
        return not any(re.search(pattern, path) for pattern in patterns)

    def _lr_multiplier(self, path):
        if self.layerwise_lr_decay_power <= 0:
            return 1.0
        return layerwise_lr_multiplier(
            path,
            self.n_transformer_layers,
            self.layerwise_lr_decay_power,
            self.layerwise_lr_decay_corrected,
        )

    def update_step(self, gradient, variable, learning_rate):
        index = self._get_variable_index(variable)
        dtype = variable.dtype
        # The original's dense Adam: sparse embedding gradients become dense.
        gradient = tf.cast(tf.convert_to_tensor(gradient), dtype)
        m, v = self._adam_m[index], self._adam_v[index]
        lr = tf.cast(learning_rate, dtype) * self._lr_multipliers[index]
        decay = self.weight_decay_rate if self._decay_flags[index] else 0.0
        next_m, next_v, next_variable = _adam_step(
            gradient,
            tf.convert_to_tensor(variable),
            tf.convert_to_tensor(m),
            tf.convert_to_tensor(v),
            lr,
            tf.constant(
                [
                    self.beta_1,
                    1.0 - self.beta_1,
                    self.beta_2,
                    1.0 - self.beta_2,
                    self.epsilon,
                    decay,
                ],
                dtype,
            ),
        )
        self.assign(m, next_m)
        self.assign(v, next_v)
        self.assign(variable, next_variable)

    def original_slot_names(self):
        """`{"<var path>/adam_m": slot, "<var path>/adam_v": slot}`.

        The names the original's checkpoints use for the Adam slots, so that
        they can be loaded into this optimizer and ours exported.
        """
        if not self.built:
            raise ValueError(
                "The optimizer has no slots yet: call "
                "`optimizer.build(model.trainable_variables)` first."
            )
        slots = {}
        for path, m, v in zip(self._variable_paths, self._adam_m, self._adam_v):
            slots[path + "/adam_m"] = m
            slots[path + "/adam_v"] = v
        return slots

    def get_config(self):
        config = super().get_config()
        config.update(
            weight_decay_rate=self.weight_decay_rate,
            beta_1=self.beta_1,
            beta_2=self.beta_2,
            epsilon=self.epsilon,
            exclude_from_weight_decay=list(self.exclude_from_weight_decay),
            layerwise_lr_decay_power=self.layerwise_lr_decay_power,
            n_transformer_layers=self.n_transformer_layers,
            layerwise_lr_decay_corrected=self.layerwise_lr_decay_corrected,
        )
        return config


def create_optimizer(
    learning_rate,
    num_train_steps,
    weight_decay_rate=0.0,
    warmup_steps=0,
    warmup_proportion=0.0,
    lr_decay_power=1.0,
    layerwise_lr_decay_power=-1.0,
    n_transformer_layers=None,
    layerwise_lr_decay_corrected=False,
    mixed_precision="float32",
):
    """The original `create_optimizer` without the training op.

    Returns an AdamWeightDecay with the warmup x polynomial-decay schedule
    (and layer-wise rates when `layerwise_lr_decay_power` > 0), inside a
    `keras.optimizers.LossScaleOptimizer` when `mixed_precision` is
    "mixed_float16" (float16 gradients underflow without loss scaling);
    clip the gradients with `clip_by_global_norm` before applying them.

    Example:
        >>> opt = create_optimizer(1e-3, 100, warmup_proportion=0.1)
        >>> type(opt).__name__, float(opt.learning_rate)  # step 0: warmup
        ('AdamWeightDecay', 0.0)
        >>> opt = create_optimizer(1e-3, 100, mixed_precision="mixed_float16")
        >>> type(opt).__name__, type(opt.inner_optimizer).__name__
        ('LossScaleOptimizer', 'AdamWeightDecay')
    """
    schedule = WarmupPolynomialDecay(
        learning_rate,
        num_train_steps,
        warmup_steps=warmup_steps,
        warmup_proportion=warmup_proportion,
        power=lr_decay_power,
    )
    optimizer = AdamWeightDecay(
        schedule,
        weight_decay_rate=weight_decay_rate,
        layerwise_lr_decay_power=layerwise_lr_decay_power,
        n_transformer_layers=n_transformer_layers,
        layerwise_lr_decay_corrected=layerwise_lr_decay_corrected,
    )
    if mixed_precision == "mixed_float16":
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
    return optimizer


def create_optimizer_for(config, num_train_steps, n_transformer_layers=None):
    """`create_optimizer` with a run config's hparams, as the original's two
    calls: run_pretraining.py (warmup steps, decay power) and, for a
    FinetuningConfig, run_finetuning.py (warmup proportion, layer-wise
    rates over `n_transformer_layers`).

    Example:
        >>> from electra_tf.config import PretrainingConfig
        >>> config = PretrainingConfig.from_hparams(
        ...     "m", "data", {"num_warmup_steps": 10, "learning_rate": 1e-3}
        ... )
        >>> opt = create_optimizer_for(config, 100)
        >>> _ = opt.iterations.assign(5)
        >>> round(float(opt.learning_rate), 7)  # 1e-3 x 0.95 x 5 / 10
        0.000475
    """
    common = dict(
        weight_decay_rate=config.weight_decay_rate,
        mixed_precision=config.mixed_precision,
    )
    if not isinstance(config, FinetuningConfig):
        return create_optimizer(
            config.learning_rate,
            num_train_steps,
            warmup_steps=config.num_warmup_steps,
            lr_decay_power=config.lr_decay_power,
            **common,
        )
    return create_optimizer(
        config.learning_rate,
        num_train_steps,
        warmup_proportion=config.warmup_proportion,
        layerwise_lr_decay_power=config.layerwise_lr_decay,
        n_transformer_layers=n_transformer_layers,
        layerwise_lr_decay_corrected=config.layerwise_lr_decay_corrected,
        **common,
    )
