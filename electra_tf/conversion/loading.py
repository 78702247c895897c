"""`load_pretraining_checkpoint`: one entry point for ours and the original's.

An electra-tf model directory holds `pretrain_config.json` beside its
checkpoints, so it describes itself; an original TF1 checkpoint needs the
original hparams it was trained with.
"""

import os
import re

import tensorflow as tf

from electra_tf.config import PretrainingConfig, load_hparams
from electra_tf.conversion.tf1_checkpoint import (
    MODEL_KEY,
    resolve_checkpoint,
    restore_by_name,
    variables_by_name,
)
from electra_tf.models.encoder import Encoder
from electra_tf.models.pretrainer import ElectraPretrainer
from electra_tf.training.checkpoints import is_object_checkpoint

CONFIG_NAME = "pretrain_config.json"


def _config_for(checkpoint_dir, hparams):
    saved = os.path.join(checkpoint_dir, CONFIG_NAME)
    if hparams is None:
        if not os.path.exists(saved):
            raise ValueError(
                f"'{checkpoint_dir}' has no {CONFIG_NAME}, so the model shape "
                "is unknown. Pass the original pre-training hparams, e.g. "
                'hparams={"model_size": "small", "generator_hidden_size": 1.0} '
                "for the released ELECTRA-Small, or the path of a JSON file."
            )
        return PretrainingConfig.from_json(saved)
    # Original layout: <data-dir>/models/<model-name>.
    data_dir = os.path.dirname(os.path.dirname(os.path.abspath(checkpoint_dir)))
    return PretrainingConfig.from_hparams(
        os.path.basename(os.path.abspath(checkpoint_dir)),
        data_dir,
        load_hparams(hparams),
    )


def save_pretraining_config(config, model_dir):
    """Writes `pretrain_config.json` so the checkpoints describe themselves."""
    os.makedirs(model_dir, exist_ok=True)
    config.to_json(os.path.join(model_dir, CONFIG_NAME))


def load_pretraining_checkpoint(path, hparams=None):
    """Returns the `ElectraPretrainer` stored at `path`.

    Args:
        path: a model directory (its latest checkpoint is used) or a
            checkpoint prefix; an electra-tf training checkpoint or a
            google-research/electra TF1 checkpoint.
        hparams: the original pre-training hparams (dict, JSON string or
            `.json` path) when the checkpoint has no `pretrain_config.json`
            beside it; when given they take precedence over a saved config.

    Raises CheckpointMismatchError naming every missing, surplus or
    wrong-shape variable when the checkpoint does not fit the hparams.
    """
    prefix = resolve_checkpoint(path)
    checkpoint_dir = path if os.path.isdir(path) else os.path.dirname(prefix)
    config = _config_for(checkpoint_dir, hparams)
    model = ElectraPretrainer(config)
    if is_object_checkpoint(prefix):
        status = tf.train.Checkpoint(**{MODEL_KEY: model}).restore(prefix)
        status.assert_existing_objects_matched()
        status.expect_partial()
    else:
        restore_by_name(variables_by_name(model), prefix)
    return model




# Everything of a checkpoint that is not the discriminator encoder.
NOT_DISCRIMINATOR = re.compile(r"^(?!electra/)")


def load_discriminator_checkpoint(path, hparams=None):
    """Returns the discriminator `Encoder` (`electra/...`) stored at `path`.

    Reads a full pre-training checkpoint (ours or the original's) or a
    discriminator-only one; all `electra/` weights must be present, anything
    else (generator, heads) may be there and is left unused. `hparams` as in
    `load_pretraining_checkpoint`.
    """
    prefix = resolve_checkpoint(path)
    if is_object_checkpoint(prefix):
        return load_pretraining_checkpoint(path, hparams).discriminator
    checkpoint_dir = path if os.path.isdir(path) else os.path.dirname(prefix)
    config = _config_for(checkpoint_dir, hparams)
    encoder = Encoder(config.disc_config(), name="electra")
    restore_by_name(
        variables_by_name(encoder), prefix, allow_unused=NOT_DISCRIMINATOR
    )
    return encoder
