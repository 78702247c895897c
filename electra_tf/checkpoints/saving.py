"""`save_pretrained`: a model written in the format asked for."""

import dataclasses
import os

from electra_tf.checkpoints import huggingface, original, ours, task_models
from electra_tf.errors import CheckpointError

SAVE_FORMATS = ("hf", "original", "ours")


def save_model(model, path, format="hf", vocab_file=None, do_lower_case=True):
    """Writes an `Encoder` ('hf' encoder folder or 'original' TF1 names)
    or an `ElectraPretrainer` ('hf': `<path>-discriminator` and
    `<path>-generator`; 'original'; 'ours' with `pretrain_config.json`),
    or a fine-tuning model (`task_models.save_task_model`).
    Returns the paths written."""
    from electra_tf.models.encoder import Encoder
    from electra_tf.models.pretrainer import ElectraPretrainer

    if format not in SAVE_FORMATS:
        raise CheckpointError(
            f"Unknown format {format!r}; use one of {', '.join(SAVE_FORMATS)}."
        )
    if not isinstance(model, (Encoder, ElectraPretrainer)):
        return task_models.save_task_model(
            model, path, format, vocab_file, do_lower_case
        )
    weights = {v.path: v.numpy() for v in model.weights}
    is_encoder = isinstance(model, Encoder)
    if format == "original":
        return [original.write_checkpoint(path, 0, weights)]
    if is_encoder:
        if format == "ours":
            raise CheckpointError(
                "An encoder alone has no pre-training config; save it with "
                "format 'hf' or 'original'."
            )
        huggingface.write(
            path, "encoder", model.config, weights, vocab_file, do_lower_case
        )
        return [path]
    config = model.config
    vocab_file = vocab_file or (
        config.vocab_file
        if config.vocab_file and os.path.exists(config.vocab_file)
        else None
    )
    if format == "ours":
        config = dataclasses.replace(config, model_dir=path)
        ours.save_pretraining_config(config, path)
        return [ours.Checkpointer(path, None, model).save(0)]
    halves = [("discriminator", config.disc_config())]
    if model.generator is not None:
        halves.append(("generator", config.generator_config()))
    folders = []
    for role, model_config in halves:
        folder = f"{path.rstrip(os.sep)}-{role}"
        huggingface.write(
            folder,
            role,
            model_config,
            weights,
            vocab_file,
            config.do_lower_case,
        )
        folders.append(folder)
    return folders
