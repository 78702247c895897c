"""Activations of the original model/modeling.py (`gelu`, `get_activation`).

ELECTRA's gelu is the exact erf form; BERT's release used the tanh
approximation, and so does keras-hub's ELECTRA.
"""

import math

import keras


@keras.saving.register_keras_serializable(package="electra_tf")
def gelu(x):
    """Exact GELU: x * 0.5 * (1 + erf(x / sqrt(2))).

    >>> round(float(gelu(1.0)), 6)  # the tanh approximation gives 0.841192
    0.841345
    """
    return x * 0.5 * (1.0 + keras.ops.erf(x / math.sqrt(2.0)))


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
