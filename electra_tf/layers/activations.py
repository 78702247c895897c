"""Activations of the original model/modeling.py (`gelu`, `get_activation`).

ELECTRA's gelu is the exact erf form; BERT's release used the tanh
approximation, and so does keras-hub's ELECTRA.
"""

import math

import keras
import tensorflow as tf


@tf.custom_gradient
def _gelu(x):
    """Exact GELU with its derivative written out: cdf(x) + x * pdf(x).

    Autodiff of the formula takes about twice the element-wise passes
    (separate erf, product and sum gradients); the values are the same.
    """
    cdf = 0.5 * (1.0 + tf.math.erf(x / math.sqrt(2.0)))

    def grad(dy):
        pdf = tf.exp(-0.5 * tf.square(x)) * (1.0 / math.sqrt(2.0 * math.pi))
        return dy * (cdf + x * pdf)

    return x * cdf, grad


@keras.saving.register_keras_serializable(package="electra_tf")
def gelu(x):
    """Exact GELU: x * 0.5 * (1 + erf(x / sqrt(2))).

    >>> round(float(gelu(1.0)), 6)  # the tanh approximation gives 0.841192
    0.841345
    """
    return _gelu(tf.convert_to_tensor(x))


_ACTIVATIONS = {
    "gelu": gelu,
    "relu": keras.activations.relu,
    "tanh": keras.activations.tanh,
}


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
