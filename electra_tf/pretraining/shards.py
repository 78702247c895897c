"""The builder's output files: shard names, a safe output directory, and
build workers that end with their parent.

Deviation from reference: the original deletes --output-dir whatever it
holds. Here the output dir may not be, hold or sit inside the corpus dir,
may hold nothing but this builder's shards, and `--overwrite` deletes only
those shards; nothing else the user owns is ever deleted.
"""

import ctypes
import os
import re
import signal
import sys
import threading
import time

import tensorflow as tf

from electra_tf.errors import ConfigError, OutputExistsError

SHARD_NAME = "pretrain_data.tfrecord-{}-of-{}"
_SHARD = re.compile(r"pretrain_data\.tfrecord-\d+-of-\d+")
_TEMP_SUFFIX = ".incomplete"


def temp_name(path):
    """Hidden name a shard has while it is written (not matched by
    `pretrain_data.tfrecord*`)."""
    head, tail = os.path.split(path)
    return os.path.join(head, "." + tail + _TEMP_SUFFIX)


def is_temp_shard(name):
    """True for the hidden name of a shard being written."""
    return (
        name.startswith(".")
        and name.endswith(_TEMP_SUFFIX)
        and bool(_SHARD.fullmatch(name[1 : -len(_TEMP_SUFFIX)]))
    )


def is_shard(name):
    """True for a finished shard's file name."""
    return bool(_SHARD.fullmatch(name))


def _real(path):
    return path if "://" in path else os.path.realpath(path)


def check_not_corpus(output_dir, input_files):
    """Raises ConfigError if the output dir is, holds or is inside the
    directory of an input file."""
    out = _real(output_dir).rstrip("/")
    for path in input_files:
        corpus = _real(os.path.dirname(path) or ".").rstrip("/")
        if out == corpus or (
            _real(path).startswith(out + "/") or out.startswith(corpus + "/")
        ):
            raise ConfigError(
                f"--output-dir {output_dir} is, holds or is inside the corpus "
                f"dir {os.path.dirname(path)}; choose an --output-dir outside "
                "the corpus (nothing was written or deleted)."
            )


def prepare_output_dir(output_dir, input_files, overwrite):
    """Makes `output_dir` ready for new shards; returns True if it was
    created. Refuses (nothing deleted) an output dir that overlaps the
    corpus or holds anything but shards; existing shards are deleted only
    with `overwrite`; hidden shards of an unfinished build always are."""
    check_not_corpus(output_dir, input_files)
    if not tf.io.gfile.exists(output_dir):
        tf.io.gfile.makedirs(output_dir)
        return True
    if not tf.io.gfile.isdir(output_dir):
        raise OutputExistsError(
            f"--output-dir {output_dir} is a file; choose a directory."
        )
    names = tf.io.gfile.listdir(output_dir)
    foreign = sorted(
        n.rstrip("/") for n in names if not (is_shard(n) or is_temp_shard(n))
    )
    if foreign:
        shown = ", ".join(foreign[:3]) + (", ..." if len(foreign) > 3 else "")
        raise OutputExistsError(
            f"--output-dir {output_dir} holds {len(foreign)} file(s) that are "
            f"not shards of this builder ({shown}); choose a new or empty "
            "--output-dir (--overwrite replaces only pretrain_data.tfrecord "
            "shards and never deletes other files)."
        )
    shards = [n for n in names if is_shard(n)]
    if shards and not overwrite:
        raise OutputExistsError(
            f"--output-dir {output_dir} already holds {len(shards)} shard(s); "
            "pass --overwrite to replace them, or choose another --output-dir."
        )
    for name in names:
        tf.io.gfile.remove(os.path.join(output_dir, name))
    return False


def finalize(output_dir, num_out_files):
    """Renames every shard from its temporary name to its final name."""
    for i in range(num_out_files):
        path = os.path.join(output_dir, SHARD_NAME.format(i, num_out_files))
        tf.io.gfile.rename(temp_name(path), path, overwrite=True)


def discard(output_dir, created):
    """Deletes the hidden shards of a failed build (and the output dir if
    the build created it and it is now empty)."""
    if not tf.io.gfile.isdir(output_dir):
        return
    for name in tf.io.gfile.listdir(output_dir):
        if is_temp_shard(name):
            tf.io.gfile.remove(os.path.join(output_dir, name))
    if created and not tf.io.gfile.listdir(output_dir):
        tf.io.gfile.rmtree(output_dir)


def die_with_parent(parent_pid):
    """Ends this worker process when the build process that started it ends,
    even by SIGKILL (Linux: PR_SET_PDEATHSIG; elsewhere a watcher thread),
    so that no worker keeps writing after its build was killed."""
    if sys.platform.startswith("linux"):
        pr_set_pdeathsig = 1
        ctypes.CDLL(None).prctl(pr_set_pdeathsig, signal.SIGKILL)
    else:
        def watch():
            while os.getppid() == parent_pid:
                time.sleep(0.5)
            os._exit(1)

        threading.Thread(target=watch, daemon=True).start()
    if os.getppid() != parent_pid:  # the parent ended before prctl
        os._exit(1)
