"""Dropout that draws half as many random words as Keras' own.

Dropout is the main non-matmul cost of an ELECTRA step on CPU: Philox
draws for every activation of every layer. Each 32-bit Philox word here
decides two positions (its two 16-bit halves), and the mask is applied with
one select, forward and backward; Keras' `Dropout` draws a float per
position and multiplies by it.
"""

import keras
import tensorflow as tf

# 16-bit uniforms: a position is dropped when its draw is below this share.
_LEVELS = 1 << 16


@keras.saving.register_keras_serializable(package="electra_tf")
class Dropout(keras.layers.Dropout):
    """`keras.layers.Dropout` (same seed generator and config), cheaper.

    Deviation from reference: the original's `tf.nn.dropout` compares a
    float uniform per position; here 16-bit uniforms, so the rate is
    rounded to a multiple of 1/65536 (0.1 becomes 0.100006).

    >>> layer = Dropout(0.5, seed=1)
    >>> out = layer(tf.ones([1000]), training=True).numpy()
    >>> sorted(set(out.tolist())), bool(abs(out.mean() - 1.0) < 0.1)
    ([0.0, 2.0], True)
    """

    def call(self, inputs, training=False):
        if not training or self.rate <= 0.0:
            return inputs
        shape = tf.shape(inputs)
        size = tf.size(inputs)
        # Keras' seed state is int64; XLA wants int32 stateless seeds.
        seed = self.seed_generator.next()
        seed = tf.cast(tf.math.floormod(seed, 2**31 - 1), tf.int32)
        words = tf.random.stateless_uniform(
            [(size + 1) // 2],
            seed,
            minval=None,
            maxval=None,
            dtype=tf.uint32,
            alg="philox",
        )
        halves = tf.reshape(tf.bitcast(words, tf.uint16), [-1])[:size]
        threshold = tf.constant(round(self.rate * _LEVELS), tf.uint16)
        keep = tf.reshape(halves >= threshold, shape)
        scale = tf.cast(1.0 / (1.0 - self.rate), inputs.dtype)
        return tf.where(keep, inputs * scale, tf.zeros_like(inputs))
