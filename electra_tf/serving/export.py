"""SavedModel export of any model directory this package reads.

`export(model_dir, output, kind)` loads the model (through the loading
adapter), wraps it in `signatures.ServingModule` and saves it with
`tf.saved_model.save`; the result serves raw text (`serving_default`) and
token ids (`token_ids`) and reloads with tensorflow + tensorflow_text only.
Small batches (`signatures.JIT_MAX_TOKENS`) run the model XLA-compiled,
compiled at the first call of each batch size and length bucket
(`--no-jit-compile` exports it plain).
"""

import argparse
import os
import shutil
import tempfile

import tensorflow as tf

from electra_tf.errors import ConfigError, OutputExistsError
from electra_tf import checkpoints
from electra_tf.models.head_kinds import HEAD_KINDS
from electra_tf.serving import signatures
from electra_tf.serving import text_inputs

PRETRAINED_KINDS = ("discriminator", "generator", "encoder")


def _check_kind(kind, description):
    if kind not in description.kinds and kind != "tasks":
        raise ConfigError(
            f"'{description.path}' holds {', '.join(description.kinds)}; "
            f"it has no {kind}. Pass --kind with one of those."
        )


def default_kind(description):
    """All tasks of a fine-tuned model, else the discriminator (or the
    first kind the model holds)."""
    if description.format == "finetuned":
        return "tasks"
    return description.kinds[0]


def _task_endpoints(model, config, tasks, kind):
    names = [t.name for t in tasks] if kind == "tasks" else [kind[5:]]
    qa_settings = {
        "max_answer_length": config.max_answer_length,
        "answerable_classifier": config.answerable_classifier,
        "joint_prediction": config.joint_prediction,
        "n_best_size": config.n_best_size,
    }
    endpoints = []
    for task in tasks:
        if task.name not in names:
            continue
        spec = next(t for t in model.tasks if t["name"] == task.name)
        head_kind = HEAD_KINDS[spec["head_type"]]
        endpoints.append(
            signatures.Endpoint(
                f"task:{task.name}",
                head_kind.serving_form(task),
                model,
                head=spec,
                labels=head_kind.label_names(task),
                qa_settings=qa_settings,
                task=task,
                config=config,
            )
        )
    return endpoints


def build_module(
    model_dir,
    kind=None,
    max_seq_length=None,
    hparams=None,
    top_k=5,
    jit_compile=True,
):
    """(ServingModule, Description) for `kind` of the model at `model_dir`."""
    description = checkpoints.describe(model_dir, hparams)
    kind = kind or default_kind(description)
    _check_kind(kind, description)
    vocab_file = text_inputs.require_vocab(description)
    config = description.config
    if description.format == "finetuned":
        model, config, tasks = checkpoints.load_finetuned(model_dir, hparams)
        endpoints = _task_endpoints(model, config, tasks, kind)
        model_config = model.config
    else:
        if kind == "encoder":
            model = checkpoints.load_encoder(model_dir, hparams)
            model_config = model.config
        else:
            model = checkpoints.load_pretrainer(model_dir, hparams)
            model_config = config.disc_config()
        form = "masked" if kind == "generator" else "text"
        endpoints = [signatures.Endpoint(kind, form, model, top_k=top_k)]
    max_seq_length = max_seq_length or config.max_seq_length
    limit = model_config.max_position_embeddings
    if not 5 <= max_seq_length <= limit:
        raise ConfigError(
            f"--max-seq-length {max_seq_length} is outside the model's range "
            f"5..{limit} (max_position_embeddings); pass a value in it."
        )
    packer = text_inputs.TextPacker(
        vocab_file,
        description.do_lower_case,
        description.strip_accents,
        max_seq_length=max_seq_length,
        max_query_length=getattr(config, "max_query_length", 64),
    )
    module = signatures.ServingModule(
        endpoints, packer, vocab_file, jit_compile
    )
    return module, description


def export(
    model_dir,
    output,
    kind=None,
    max_seq_length=None,
    hparams=None,
    top_k=5,
    overwrite=False,
    jit_compile=True,
):
    """Writes the SavedModel to `output`; returns its signature names."""
    if os.path.exists(output) and os.listdir(output) and not overwrite:
        raise OutputExistsError(
            f"Export directory '{output}' exists and is not empty; pass "
            "--overwrite to replace it or choose another --output."
        )
    module, _ = build_module(
        model_dir, kind, max_seq_length, hparams, top_k, jit_compile
    )
    functions = module.signatures()
    parent = os.path.dirname(os.path.abspath(output))
    os.makedirs(parent, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=".export-", dir=parent)
    try:
        tf.saved_model.save(module, staging, signatures=functions)
        if os.path.exists(output):
            shutil.rmtree(output)
        os.replace(staging, output)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return sorted(functions)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m electra_tf.export",
        description="Export an ELECTRA model as a SavedModel serving raw text.",
    )
    parser.add_argument(
        "--model-dir",
        required=True,
        help="pre-training run, fine-tuned run or original "
        "checkpoint directory",
    )
    parser.add_argument("--output", required=True, help="SavedModel directory")
    parser.add_argument(
        "--kind",
        default=None,
        help="discriminator | generator | encoder | "
        "task:<name> | tasks (default: all tasks of a "
        "fine-tuned model, else the discriminator)",
    )
    parser.add_argument("--max-seq-length", type=int, default=None)
    parser.add_argument(
        "--hparams",
        default=None,
        help="model hparams (JSON or .json path) when the "
        "directory does not describe itself",
    )
    parser.add_argument(
        "--top-k",
        type=int,
        default=5,
        help="fill-mask candidates per [MASK] (generator)",
    )
    parser.add_argument("--overwrite", action="store_true")
    parser.add_argument(
        "--no-jit-compile",
        dest="jit_compile",
        action="store_false",
        help="run small batches without XLA too (no compile at the first "
        "call of each batch size and length bucket, slower calls)",
    )
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    names = export(
        args.model_dir,
        args.output,
        args.kind,
        args.max_seq_length,
        args.hparams,
        args.top_k,
        args.overwrite,
        args.jit_compile,
    )
    print(f"Exported {args.output} with signatures: {', '.join(names)}")
