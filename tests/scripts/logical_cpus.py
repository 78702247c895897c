"""Splits the CPU into logical devices; call before TensorFlow starts."""

import tensorflow as tf


def use_logical_cpus(n):
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration()] * n
    )
