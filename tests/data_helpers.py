"""Helpers for the pre-training data tests: toy words, a scripted RNG and
a TFRecord reader."""

import glob

import tensorflow as tf

# The data tests' toy vocab: `write_vocab(path, VOCAB_SIZE)`, words w0..w99.
VOCAB_SIZE = 105


def words(*ks):
    """Line of toy words with the given numbers."""
    return " ".join(f"w{k}" for k in ks)


def ids(*ks):
    return [5 + k for k in ks]


class ScriptedRng:
    """Returns scripted values for random() and randint(); fails loudly when
    the code under test draws more values than scripted."""

    def __init__(self, randoms=(), randints=()):
        self.randoms = list(randoms)
        self.randints = list(randints)

    def random(self):
        return self.randoms.pop(0)

    def randint(self, lo, hi):
        value = self.randints.pop(0)
        assert lo <= value <= hi, (lo, value, hi)
        return value

    def shuffle(self, items):
        pass


def example_lists(example):
    """(input_ids, input_mask, segment_ids) of a tf.train.Example."""
    f = example.features.feature
    return tuple(
        list(f[k].int64_list.value)
        for k in ("input_ids", "input_mask", "segment_ids")
    )


def read_records(pattern):
    """{file name: [(input_ids, input_mask, segment_ids), ...]}."""
    out = {}
    for path in sorted(glob.glob(pattern)):
        out[path.rsplit("/", 1)[-1]] = [
            example_lists(tf.train.Example.FromString(r.numpy()))
            for r in tf.data.TFRecordDataset(path)
        ]
    return out


def unpad(example):
    """input_ids of an example without the padding, and its segment ids."""
    input_ids, input_mask, segment_ids = example
    n = sum(input_mask)
    assert input_mask == [1] * n + [0] * (len(input_mask) - n)
    assert input_ids[n:] == [0] * (len(input_ids) - n)
    assert segment_ids[n:] == [0] * (len(input_ids) - n)
    return input_ids[:n], segment_ids[:n]
