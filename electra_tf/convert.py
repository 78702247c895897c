"""`python -m electra_tf.convert`: a checkpoint from one format to another.

    python -m electra_tf.convert --from PATH --to original|hf|ours \\
        --output DIR [--hparams JSON]

It prints the format it found. `original` writes `model.ckpt-<step>` with
the original's names (weights, `adam_m`/`adam_v`, `global_step`); `hf`
writes Hugging Face folders (a pre-training checkpoint gives
`DIR-discriminator` and `DIR-generator`); `ours` writes this package's
training checkpoint with `pretrain_config.json`, ready to resume. `--hparams`
describes an original checkpoint (its pre-training hparams).
"""

import argparse
import importlib
import os
import shutil

from electra_tf import cli, errors
from electra_tf.errors import CheckpointError, OutputExistsError


def _module(name):
    # TensorFlow loads on first use, after the CLI has silenced its start-up.
    return importlib.import_module(f"electra_tf.checkpoints{name}")


FORMATS = ("original", "hf", "ours")


def _copy_vocab(description, output):
    if description.vocab_file:
        shutil.copyfile(
            description.vocab_file, os.path.join(output, "vocab.txt")
        )


def to_original(description, output):
    """The original TF1 layout: every name but this package's extras."""
    original = _module(".original")
    if description.format == "huggingface":
        weights = description.hf.weights
        prefix = original.write_checkpoint(output, 0, weights)
    else:
        prefix = original.export(description.prefix, output)
    _copy_vocab(description, output)
    return [prefix]


def _pretraining_parts(description, hparams):
    """(model, optimizer or None, step) of a pre-training source."""
    from electra_tf.optimization import create_optimizer

    checkpoints, original = _module(""), _module(".original")
    model = checkpoints.load_pretrainer(description.path, hparams)
    if description.prefix is None:
        return model, None, 0
    config = model.config
    optimizer = create_optimizer(config.learning_rate, config.num_train_steps)
    optimizer.build(model.trainable_variables)
    names = original.variable_shapes(description.prefix)
    if any(n.endswith("/adam_m") for n in names):
        original.load_training_state(
            description.prefix,
            original.variables_by_name(model),
            optimizer.original_slot_names(),
            optimizer.iterations,
        )
    elif original.GLOBAL_STEP in names:
        optimizer.iterations.assign(
            original.checkpoint_step(description.prefix)
        )
    return model, optimizer, int(optimizer.iterations.numpy())


def to_ours(description, output, hparams):
    """A resumable training checkpoint with pretrain_config.json."""
    if description.format == "finetuned":
        raise CheckpointError(
            f"{description.path} is a fine-tuned model; `--to ours` makes a "
            "pre-training checkpoint. Use --to original or --to hf."
        )
    model, optimizer, step = _pretraining_parts(description, hparams)
    return _save_ours(model, optimizer, step, output, description.vocab_file)


def to_hf(description, output, hparams):
    """HF folders: the two halves of a pre-training checkpoint, or the
    encoder of a fine-tuned model."""
    checkpoints, huggingface = _module(""), _module(".huggingface")
    vocab = dict(
        vocab_file=description.vocab_file,
        do_lower_case=description.do_lower_case,
        strip_accents=description.strip_accents is not False,
    )
    if description.format == "finetuned":
        encoder = checkpoints.load_encoder(description.path)
        weights = {v.path: v.numpy() for v in encoder.weights}
        huggingface.write(output, "encoder", encoder.config, weights, **vocab)
        return [output]
    model = checkpoints.load_pretrainer(description.path, hparams)
    weights = {v.path: v.numpy() for v in model.weights}
    folders = []
    halves = [("discriminator", model.config.disc_config())]
    if model.generator is not None:
        halves.append(("generator", model.config.generator_config()))
    for role, model_config in halves:
        folder = f"{output.rstrip(os.sep)}-{role}"
        huggingface.write(folder, role, model_config, weights, **vocab)
        folders.append(folder)
    return folders


def _refuse_existing(targets):
    for target in targets:
        if os.path.exists(target):
            raise OutputExistsError(
                f"The output {target} exists; choose a new --output or "
                "remove it first."
            )


def _is_v0_1(source):
    if not os.path.isdir(source):
        return False
    original = _module(".original")
    indexed = original.indexed_checkpoints(source)
    return bool(
        indexed
    ) and original.OBJECT_GRAPH_KEY in original.variable_shapes(indexed[-1])


def _save_ours(model, optimizer, step, output, vocab_file):
    import dataclasses

    checkpoints, ours = _module(""), _module(".ours")
    config = dataclasses.replace(model.config, model_dir=output)
    checkpoints.save_pretraining_config(config, output)
    prefix = ours.Checkpointer(output, None, model, optimizer).save(step)
    if vocab_file:
        shutil.copyfile(vocab_file, os.path.join(output, "vocab.txt"))
    return [prefix]


def convert(source, to, output, hparams=None, log=print):
    """Converts `source` to format `to` under `output`; returns the paths."""
    if to not in FORMATS:
        raise errors.ConfigError(
            f"--to {to!r}: use one of {', '.join(FORMATS)}."
        )
    if to == "ours" and _is_v0_1(source):
        log(f"Found format 'ours 0.1' (position-keyed) at {source}.")
        _refuse_existing([output])
        model, optimizer, step = _module(".ours").read_v0_1(source)
        written = _save_ours(model, optimizer, step, output, None)
        log(f"Wrote {', '.join(written)}.")
        return written
    description = _module("").describe(source, hparams)
    kinds = ", ".join(description.kinds)
    log(f"Found format '{description.format}' at {source} ({kinds}).")
    targets = (
        [output]
        if to != "hf" or description.format == "finetuned"
        else [
            f"{output.rstrip(os.sep)}-{role}"
            for role in ("discriminator", "generator")
        ]
    )
    _refuse_existing(targets)
    if to == "original":
        written = to_original(description, output)
    elif to == "ours":
        written = to_ours(description, output, hparams)
    else:
        written = to_hf(description, output, hparams)
    log(f"Wrote {', '.join(written)}.")
    return written


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--from",
        dest="source",
        required=True,
        help="checkpoint directory, prefix or HF folder",
    )
    parser.add_argument("--to", required=True, choices=FORMATS)
    parser.add_argument("--output", required=True, help="output directory")
    parser.add_argument(
        "--hparams",
        default=None,
        help="pre-training hparams (JSON or .json path) of an "
        "original checkpoint",
    )
    args = parser.parse_args(argv)
    cli.log_to_stdout()
    cli.import_tensorflow_quietly()
    convert(args.source, args.to, args.output, args.hparams)


if __name__ == "__main__":
    errors.run_cli(main)
