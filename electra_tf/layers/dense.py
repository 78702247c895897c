"""Dense as one 2-D MatMul + BiasAdd, which oneDNN fuses on CPU.

Keras' `Dense` multiplies rank-3 inputs through `tensordot`, whose reshapes
sit between the MatMul and the bias add, so TensorFlow's oneDNN graph
rewrite cannot fuse the two into `_MklFusedMatMul`. Here the reshapes are
outside the pair. Variables, config and outputs are Keras' own.
"""

import keras
import tensorflow as tf

from electra_tf.layers.activations import TRAINING_FORMS


def flat_matmul(x, kernel, bias=None, transpose_kernel=False):
    """[..., K] x [K, N] (or [N, K] transposed) + [N] -> [..., N], 2-D.

    >>> flat_matmul(tf.ones([2, 3, 4]), tf.ones([4, 5]), tf.ones([5])).shape
    TensorShape([2, 3, 5])
    >>> flat_matmul(tf.ones([2, 3, 4]), tf.ones([5, 4]), None, True).shape
    TensorShape([2, 3, 5])
    """
    units = kernel.shape[0 if transpose_kernel else 1]
    rows = tf.reshape(x, [-1, x.shape[-1]])
    y = tf.matmul(rows, kernel, transpose_b=transpose_kernel)
    if bias is not None:
        y = tf.nn.bias_add(y, bias)
    out_shape = tf.concat([tf.shape(x)[:-1], [units]], axis=0)
    y = tf.reshape(y, out_shape)
    y.set_shape(x.shape[:-1].concatenate([units]))
    return y


@keras.saving.register_keras_serializable(package="electra_tf")
class Dense(keras.layers.Dense):
    """`keras.layers.Dense` (same variables and config) on flattened rows.

    In training its activation runs in the faster form `TRAINING_FORMS`
    gives, if any (GELU's compiled kernels).

    >>> layer = Dense(4, activation="relu")
    >>> layer(tf.ones([2, 3, 8])).shape
    TensorShape([2, 3, 4])
    """

    def call(self, inputs, training=None):
        y = flat_matmul(inputs, self.kernel, self.bias)
        if self.activation is None:
            return y
        if training:
            return TRAINING_FORMS.get(self.activation, self.activation)(y)
        return self.activation(y)
