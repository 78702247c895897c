"""Activations of the original model/modeling.py (`gelu`, `get_activation`).

ELECTRA's gelu is the exact erf form; BERT's release used the tanh
approximation, and so does keras-hub's ELECTRA.
"""

import math

import keras
import tensorflow as tf

_SQRT_HALF = 1.0 / math.sqrt(2.0)
_PDF_SCALE = 1.0 / math.sqrt(2.0 * math.pi)


def _cdf(x):
    return 0.5 * (1.0 + tf.math.erf(x * _SQRT_HALF))


def _derivative(x, cdf):
    # d/dx x·cdf(x) = cdf(x) + x·pdf(x)
    return cdf + x * (tf.exp(-0.5 * tf.square(x)) * _PDF_SCALE)


@tf.custom_gradient
def _gelu(x):
    """Exact GELU with its derivative written out: fewer element-wise ops
    than autodiff of the formula (separate erf, product and sum gradients)."""
    cdf = _cdf(x)
    return x * cdf, lambda dy: dy * _derivative(x, cdf)


@keras.saving.register_keras_serializable(package="electra_tf")
def gelu(x):
    """Exact GELU: x * 0.5 * (1 + erf(x / sqrt(2))).

    >>> round(float(gelu(1.0)), 6)  # the tanh approximation gives 0.841192
    0.841345
    """
    return _gelu(tf.convert_to_tensor(x))


# Training's GELU: each direction one XLA-fused pass in float32, about half
# the time of TensorFlow's separate element-wise kernels on CPU (erf, exp
# and five arithmetic passes). Inference keeps `gelu`: an XLA kernel is
# compiled per input shape, a cost a server meeting new shapes should not pay.
@tf.function(jit_compile=True, reduce_retracing=True)
def _compiled_forward(x):
    x32 = tf.cast(x, tf.float32)
    return tf.cast(x32 * _cdf(x32), x.dtype)


@tf.function(jit_compile=True, reduce_retracing=True)
def _compiled_backward(x, dy):
    x32 = tf.cast(x, tf.float32)
    grad = tf.cast(dy, tf.float32) * _derivative(x32, _cdf(x32))
    return tf.cast(grad, x.dtype)


@tf.custom_gradient
def compiled_gelu(x):
    """`gelu` (the same values to float32 rounding) as two XLA kernels.

    >>> x = tf.linspace(-6.0, 6.0, 101)
    >>> float(tf.reduce_max(tf.abs(compiled_gelu(x) - gelu(x)))) < 1e-6
    True
    """
    return _compiled_forward(x), lambda dy: _compiled_backward(x, dy)


_ACTIVATIONS = {
    "gelu": gelu,
    "relu": keras.activations.relu,
    "tanh": keras.activations.tanh,
}

# The faster form of an activation for training steps, where the shapes of
# a run repeat (see `compiled_gelu`).
TRAINING_FORMS = {gelu: compiled_gelu}


def get_activation(name):
    """Maps an original `hidden_act` string to a function (None = linear).

    >>> get_activation("GELU") is gelu, get_activation("linear")
    (True, None)
    """
    if name is None or callable(name):
        return name
    key = name.lower()
    if key in ("", "linear"):
        return None
    if key not in _ACTIVATIONS:
        raise ValueError(
            f"Unsupported activation '{name}'; use one of "
            f"{', '.join(sorted(_ACTIVATIONS))} or 'linear'."
        )
    return _ACTIVATIONS[key]
