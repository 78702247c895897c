"""LayerNorm of the original model/modeling.py (`layer_norm`), fast to train.

Keras' `LayerNormalization` runs as about thirty TensorFlow ops forward and
backward (moments, casts to float32 and back, the autodiff of each), and on
CPU each is a pass over memory. In training this layer runs the same
normalization as one XLA kernel that also returns the rows' mean and
reciprocal deviation, and a backward kernel that reuses them. Inference
keeps Keras' ops: an XLA kernel is compiled per input shape, a cost a
server meeting new shapes should not pay.
"""

import keras
import tensorflow as tf


@tf.function(jit_compile=True, reduce_retracing=True)
def _layer_norm_forward(x, gamma, beta, epsilon):
    """[N, H] -> normalized [N, H] in x's dtype, row means and 1/std [N, 1]."""
    x32 = tf.cast(x, tf.float32)
    mean = tf.reduce_mean(x32, -1, keepdims=True)
    centered = x32 - mean
    variance = tf.reduce_mean(tf.square(centered), -1, keepdims=True)
    inv_std = tf.math.rsqrt(variance + epsilon)
    return tf.cast(centered * inv_std * gamma + beta, x.dtype), mean, inv_std


@tf.function(jit_compile=True, reduce_retracing=True)
def _layer_norm_backward(x, mean, inv_std, gamma, dy):
    """dL/dx [N, H], and dy * x_hat [N, H] whose column sums are dL/dgamma."""
    x_hat = (tf.cast(x, tf.float32) - mean) * inv_std
    dy32 = tf.cast(dy, tf.float32)
    g = dy32 * gamma
    dx = inv_std * (
        g
        - tf.reduce_mean(g, -1, keepdims=True)
        - x_hat * tf.reduce_mean(g * x_hat, -1, keepdims=True)
    )
    return tf.cast(dx, x.dtype), dy32 * x_hat


def compiled_layer_norm(x, gamma, beta, epsilon):
    """Normalizes x's last axis: two XLA kernels, statistics in float32.

    >>> x = tf.constant([[1.0, 3.0, 1.0, 3.0]])
    >>> compiled_layer_norm(x, tf.ones([4]), tf.zeros([4]), 1e-12).numpy()
    array([[-1.,  1., -1.,  1.]], dtype=float32)
    """
    width = x.shape[-1]

    @tf.custom_gradient
    def normalize(x, gamma, beta):
        rows = tf.reshape(x, [-1, width])
        y, mean, inv_std = _layer_norm_forward(rows, gamma, beta, epsilon)

        def grad(dy):
            dy_rows = tf.reshape(dy, [-1, width])
            dx, dy_x_hat = _layer_norm_backward(
                rows, mean, inv_std, gamma, dy_rows
            )
            # Column sums outside XLA: TensorFlow's reduction is faster there.
            d_gamma = tf.reduce_sum(dy_x_hat, 0)
            d_beta = tf.reduce_sum(tf.cast(dy_rows, tf.float32), 0)
            return tf.reshape(dx, tf.shape(x)), d_gamma, d_beta

        return tf.reshape(y, tf.shape(x)), grad

    return normalize(x, tf.cast(gamma, tf.float32), tf.cast(beta, tf.float32))


@keras.saving.register_keras_serializable(package="electra_tf")
class LayerNorm(keras.layers.LayerNormalization):
    """`keras.layers.LayerNormalization` (same variables, config and
    inference ops) whose training pass is `compiled_layer_norm`.

    It normalizes the last axis with gamma and beta, as every LayerNorm of
    the original does; other forms are refused at build.

    >>> layer = LayerNorm(epsilon=1e-12)
    >>> x = tf.random.normal([2, 3, 8])
    >>> bool(tf.reduce_max(tf.abs(layer(x, training=True) - layer(x))) < 1e-5)
    True
    """

    def build(self, input_shape):
        super().build(input_shape)
        if (
            self.axis not in ([-1], [len(input_shape) - 1])
            or not (self.center and self.scale)
            or self.rms_scaling
        ):
            raise ValueError(
                "LayerNorm normalizes the last axis with gamma and beta; use "
                "keras.layers.LayerNormalization for other forms."
            )

    def call(self, inputs, training=False):
        if not training:
            return super().call(inputs)
        outputs = compiled_layer_norm(
            inputs, self.gamma, self.beta, self.epsilon
        )
        return tf.cast(outputs, self.compute_dtype)
