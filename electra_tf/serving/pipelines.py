"""`pipeline(task, model_dir)`: a model directory as a callable on text.

The tasks of HF's `pipeline` that ELECTRA models serve. Each pipeline runs
the same in-graph tokenize/pack/model functions that the SavedModel export
saves (signatures.ServingModule), in batches, and returns one JSON-ready
dict per input with a `truncated` flag; question answering runs the
original's doc-stride windows and joint beam decoding in Python
(qa_pipeline.py), so passages of any length are answered.
"""

import dataclasses
import os

import numpy as np
import tensorflow as tf

from electra_tf.errors import CheckpointError, DataError
from electra_tf import checkpoints
from electra_tf.checkpoints import finetuned
from electra_tf.models.head_kinds import HEAD_KINDS
from electra_tf.serving import export as export_lib
from electra_tf.serving import qa_pipeline

# pipeline task -> the pre-trained model kind it needs, or the kinds of
# fine-tuned head that serve it (each kind names its `pipeline_task`).
TASKS = {
    "fill-mask": "generator",
    "replaced-token-detection": "discriminator",
    "feature-extraction": "encoder",
}
for _kind in HEAD_KINDS.values():
    TASKS[_kind.pipeline_task] = TASKS.get(_kind.pipeline_task, ()) + (_kind,)


def _head_kinds(description):
    """{task name: its HeadKind} of a fine-tuned model's saved heads."""
    if description.format != "finetuned":
        return {}
    specs = finetuned.read_head_specs(os.path.dirname(description.prefix))
    return {s["name"]: HEAD_KINDS[s["head_type"]] for s in specs}


def _choose_kind(task, description, task_name):
    """The export kind that serves `task`, or a clear error."""
    if task not in TASKS:
        raise DataError(
            f"Unknown pipeline task {task!r}; use one of {', '.join(TASKS)}."
        )
    needed = TASKS[task]
    if isinstance(needed, str):
        if needed in description.kinds:
            return needed
        wanted = f"a {needed}"
    else:
        kinds = _head_kinds(description)
        heads = [k[5:] for k in description.kinds if k.startswith("task:")]
        fitting = [h for h in heads if kinds.get(h) in needed]
        if task_name is not None:
            fitting = [h for h in fitting if h == task_name]
        if fitting:
            return f"task:{fitting[0]}"
        head_types = "/".join(k.head_type for k in needed)
        wanted = f"a fine-tuned {head_types} head"
    raise CheckpointError(
        f"The {task} pipeline needs {wanted}, but '{description.path}' holds "
        f"{', '.join(description.kinds)}; pass a model directory of that kind."
    )


def _text(value, index):
    if not isinstance(value, str):
        raise DataError(
            f"Input {index} is {type(value).__name__}, not a string."
        )
    if not value.strip():
        raise DataError(f"Input {index} is empty; give it some text.")
    return value


class Pipeline:
    """A callable on a string (one result) or a list (a list of results).

    Args:
      task: a key of TASKS.
      model_dir: any model directory the export reads.
      hparams: model hparams when the directory does not describe itself.
      batch_size: texts per model call.
      max_seq_length: packed length (default: the model's run length).
      top_k: fill-mask candidates per `[MASK]`.
      task_name: which fine-tuned task to use when several fit.
    """

    def __init__(
        self,
        task,
        model_dir,
        hparams=None,
        batch_size=32,
        max_seq_length=None,
        top_k=5,
        task_name=None,
    ):
        description = checkpoints.describe(model_dir, hparams)
        self.task = task
        self.kind = _choose_kind(task, description, task_name)
        self.batch_size = batch_size
        # Without XLA: a pipeline's few calls would not pay back the compile
        # of each batch size and length.
        module, _ = export_lib.build_module(
            model_dir, self.kind, max_seq_length, hparams, top_k, False
        )
        self.module = module
        self.endpoint = module.endpoints[0]
        self.form = self.endpoint.form
        self._qa = None
        if self.form == "qa":
            qa_task = self.endpoint.task
            config = dataclasses.replace(
                self.endpoint.config,
                max_seq_length=module.packer.max_seq_length,
            )
            qa_task.config = config
            self._qa = qa_pipeline.QuestionAnswerer(
                self.endpoint.model, qa_task, config, batch_size
            )
        else:
            self._function = module.signatures()["serving_default"]

    def _columns(self, inputs):
        """Validated string columns for the signature's inputs."""
        if self.form == "pair":
            rows = [
                (
                    (x, None)
                    if isinstance(x, str)
                    else (
                        (x.get("text"), x.get("text_pair", ""))
                        if isinstance(x, dict)
                        else tuple(x)
                    )
                )
                for x in inputs
            ]
            a = [_text(r[0], i) for i, r in enumerate(rows)]
            b = [r[1] or "" for r in rows]
            return {"text_a": a, "text_b": b}
        if self.form == "qa":
            rows = [
                (
                    (x["question"], x["context"])
                    if isinstance(x, dict)
                    else tuple(x)
                )
                for x in inputs
            ]
            return [(_text(q, i), _text(c, i)) for i, (q, c) in enumerate(rows)]
        texts = [
            _text(x.get("text") if isinstance(x, dict) else x, i)
            for i, x in enumerate(inputs)
        ]
        if self.form == "masked":
            for i, text in enumerate(texts):
                if "[MASK]" not in text:
                    raise DataError(
                        f"Input {i} has no [MASK]; fill-mask predicts the "
                        "token written as [MASK] in the text."
                    )
        return {"text": texts}

    def __call__(self, inputs):
        single = isinstance(inputs, (str, dict)) or (
            self.form in ("pair", "qa") and isinstance(inputs, tuple)
        )
        items = [inputs] if single else list(inputs)
        columns = self._columns(items)
        if self.form == "qa":
            results = self._qa(columns)
        else:
            results = []
            for begin in range(0, len(items), self.batch_size):
                batch = {
                    k: tf.constant(v[begin : begin + self.batch_size])
                    for k, v in columns.items()
                }
                out = {k: v.numpy() for k, v in self._function(**batch).items()}
                results.extend(self._results(out))
        return results[0] if single else results

    def _results(self, out):
        n = len(out["truncated"])
        return [
            dict(
                self._result({k: v[i] for k, v in out.items()}),
                truncated=bool(out["truncated"][i]),
            )
            for i in range(n)
        ]

    def _result(self, row):
        length = int(row["input_mask"].sum())
        tokens = [t.decode("utf-8") for t in row["tokens"][:length]]
        if self.kind == "generator":
            masks = np.flatnonzero(row["is_masked"])
            return {
                "predictions": [
                    [
                        {
                            "token": int(i),
                            "token_str": t.decode("utf-8"),
                            "score": float(s),
                        }
                        for i, t, s in zip(
                            row["top_ids"][p],
                            row["top_tokens"][p],
                            row["top_scores"][p],
                        )
                    ]
                    for p in masks
                ]
            }
        if self.kind == "discriminator":
            probs = row["replaced_probability"][:length]
            return {
                "tokens": tokens,
                "replaced_probability": [float(p) for p in probs],
            }
        if self.kind == "encoder":
            return {
                "tokens": tokens,
                "pooled_output": row["pooled_output"].tolist(),
                "sequence_output": row["sequence_output"][:length].tolist(),
            }
        return self.endpoint.head_kind.pipeline_result(row)


def pipeline(task, model_dir, **kwargs):
    """The `Pipeline` for `task` on the model at `model_dir` (see Pipeline).

    Tasks: fill-mask, text-classification, token-classification,
    question-answering, replaced-token-detection, feature-extraction.
    """
    return Pipeline(task, model_dir, **kwargs)
