"""Port of build_openwebtext_pretraining_dataset.py: the OpenWebText
corpus (a directory of tar archives of .txt documents) -> pre-training
TFRecords.

Layout as in the original: vocab `<data_dir>/vocab.txt`, archives in
`<data_dir>/openwebtext/`, output `<data_dir>/pretrain_tfrecords/`,
scratch a new `<data_dir>/tmp/job_<id>_*/`. Blank lines are skipped, so
each extracted text file is one document. Archives are split across jobs
like input files.
"""

import os
import shutil
import tarfile
import tempfile

from electra_tf.errors import MissingInputError
from electra_tf.pretraining import build_dataset


def options_for(data_dir, **options):
    """BuildOptions for the OpenWebText layout under `data_dir`; `options`
    are BuildOptions' other fields (max_seq_length, seed, ...)."""
    owt_dir = os.path.join(data_dir, "openwebtext")
    if not os.path.isdir(owt_dir):
        raise MissingInputError(
            f"{owt_dir} does not exist; extract the OpenWebText archives "
            "(openwebtext.tar.xz) into <data-dir>/openwebtext."
        )
    return build_dataset.BuildOptions(
        input_files=build_dataset.corpus_files(owt_dir),
        vocab_file=os.path.join(data_dir, "vocab.txt"),
        output_dir=os.path.join(data_dir, "pretrain_tfrecords"),
        blanks_separate_docs=False,
        **options,
    )


def write_owt_examples(job_id, options, shared_stats=None, progress=None):
    """One job: for each of its archives (shuffled), extract it into the
    job's scratch dir and write its text files in shuffled order."""
    writer, rng, archives = build_dataset.job_writer(
        job_id, options, shared_stats, progress
    )
    data_dir = os.path.dirname(os.path.normpath(options.output_dir))
    os.makedirs(os.path.join(data_dir, "tmp"), exist_ok=True)
    # Deviation from reference: a new scratch dir (the original clears
    # tmp/job_<id>, which may hold the user's files).
    scratch = tempfile.mkdtemp(
        prefix=f"job_{job_id}_", dir=os.path.join(data_dir, "tmp")
    )
    rng.shuffle(archives)
    for archive in archives:
        shutil.rmtree(scratch)
        os.makedirs(scratch)
        with tarfile.open(archive) as tar:
            tar.extractall(scratch, filter="data")
        # Deviation from reference: names are sorted before the shuffle
        # (listdir order is arbitrary), so that a seeded build repeats.
        files = sorted(
            os.path.join(root, name)
            for root, _, names in os.walk(scratch)
            for name in names
        )
        rng.shuffle(files)
        for path in files:
            writer.write_examples(path)
        writer.stats["files"] += 1
    shutil.rmtree(scratch, ignore_errors=True)
    writer.finish()
    writer.report()
    return writer.stats


def build(options, overwrite=False, show_progress=True):
    """Builds the OpenWebText TFRecords; returns the summary dict."""
    return build_dataset.build(
        options,
        overwrite=overwrite,
        show_progress=show_progress,
        job=write_owt_examples,
        input_label="archives",
    )
