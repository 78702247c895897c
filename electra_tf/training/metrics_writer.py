"""TensorBoard scalars, the one writer both runners use.

Replaces the original's summaries (TPUEstimator's loss and global_step/sec
and run_finetuning.py's logged dev results) with event files that
TensorBoard's scalar plugin reads; `tf.summary.write` with the plugin's
metadata needs no tensorboard package.
"""

import tensorflow as tf
from tensorflow.core.framework import summary_pb2

_SCALAR_METADATA = summary_pb2.SummaryMetadata(
    plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="scalars")
).SerializeToString()


def write_scalars(writer, step, scalars):
    """Writes `scalars` ({tag: number}) at `step` with `writer` and flushes.

    Example:
        >>> import tempfile
        >>> logdir = tempfile.mkdtemp()
        >>> writer = tf.summary.create_file_writer(logdir)
        >>> write_scalars(writer, 3, {"loss": 0.5, "dev/rte/accuracy": 75})
        >>> path = tf.io.gfile.glob(logdir + "/events.out.tfevents.*")[0]
        >>> sorted(
        ...     (e.step, v.tag, float(tf.make_ndarray(v.tensor)))
        ...     for e in tf.compat.v1.train.summary_iterator(path)
        ...     for v in e.summary.value
        ... )
        [(3, 'dev/rte/accuracy', 75.0), (3, 'loss', 0.5)]
    """
    with writer.as_default(step=step):
        for tag, value in scalars.items():
            value = tf.constant(float(value), tf.float32)
            tf.summary.write(tag, value, metadata=_SCALAR_METADATA)
    writer.flush()
