"""Pre-training examples as serialized `tf.train.Example` bytes, encoded
directly (the builder's hot path).

The bytes are those of `SerializeToString(deterministic=True)` of the
original's example: map entries sorted by key. Deviation from reference:
the original's plain `SerializeToString()` writes the three map entries in
an order that varies from process to process (protobuf's hash order), so
its records are equal as examples but not always as bytes.

Each feature is a packed int64 list; ids come from a table of varints, mask
and segment ids (0 or 1) are single bytes.
"""

import tensorflow as tf

FEATURES = ("input_ids", "input_mask", "segment_ids")


def varint(value):
    """Protobuf base-128 varint of a non-negative int.

    Example:
      >>> varint(300)
      b'\\xac\\x02'
    """
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _length_delimited(tag, payload):
    return tag + varint(len(payload)) + payload


def create_int_feature(values):
    return tf.train.Feature(int64_list=tf.train.Int64List(value=list(values)))


def to_tf_example(input_ids, input_mask, segment_ids):
    """The original's `tf.train.Example` of three int64 features."""
    return tf.train.Example(
        features=tf.train.Features(
            feature={
                "input_ids": create_int_feature(input_ids),
                "input_mask": create_int_feature(input_mask),
                "segment_ids": create_int_feature(segment_ids),
            }
        )
    )


class ExampleEncoder:
    """`encoder(input_ids, input_mask, segment_ids)` -> the bytes of
    `to_tf_example(...).SerializeToString(deterministic=True)`; ids must be
    in `range(vocab_size)`, mask and segment ids 0 or 1."""

    def __init__(self, vocab_size):
        self._ids = [varint(i) for i in range(vocab_size)]
        self._order = [FEATURES.index(name) for name in sorted(FEATURES)]
        self._keys = [
            _length_delimited(b"\x0a", name.encode()) for name in FEATURES
        ]

    def __call__(self, input_ids, input_mask, segment_ids):
        table = self._ids
        payloads = (
            b"".join([table[i] for i in input_ids]),
            bytes(input_mask),
            bytes(segment_ids),
        )
        entries = []
        for k in self._order:
            # Feature.int64_list (field 3) holding Int64List.value (field 1)
            feature = self._wrap(b"\x1a", self._wrap(b"\x0a", payloads[k]))
            entry = self._keys[k] + self._wrap(b"\x12", feature)
            entries.append(self._wrap(b"\x0a", entry))
        return self._wrap(b"\x0a", b"".join(entries))

    def _wrap(self, tag, payload):
        n = len(payload)
        size = self._ids[n] if n < len(self._ids) else varint(n)
        return tag + size + payload
