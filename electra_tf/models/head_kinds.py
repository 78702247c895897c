"""The kinds of fine-tuning head: how each is built, run and trained.

Ports the `get_prediction_module` methods of the original's task families
(classification_tasks.py, qa_tasks.py, tagging_tasks.py): a kind builds its
layer (layers/task_heads.py) under `task_specific/<task>/`, runs it on the
encoder outputs and gives each example's loss; it also says how it is
served (electra_tf/serving/): its text form, its exported outputs and its
pipeline results. `HEAD_KINDS` maps a task's `head_type` (as saved in
finetune_heads.json) to its kind, so the models and the serving code call
every head alike.
"""

import keras
import tensorflow as tf

from electra_tf.layers.task_heads import (
    ClassificationHead,
    RegressionHead,
    SpanHead,
    TaggingHead,
)

# Legend: B batch, L sequence length, H hidden size, C classes.


def _log_softmax_ce(logits, labels, depth):
    """Per-row softmax cross-entropy in float32 (labels are class ids)."""
    ops = keras.ops
    log_probs = ops.log_softmax(ops.cast(logits, "float32"), axis=-1)
    one_hot = ops.one_hot(ops.cast(labels, "int32"), depth, dtype="float32")
    return -ops.sum(one_hot * log_probs, axis=-1)


class HeadKind:
    """One kind of task head.

    `features` are the task's own inputs, named without the `<task>_`
    prefix of the fine-tuning records; `settings` are the model's QA
    settings (`beam_size`, `joint_prediction`, `answerable_classifier`,
    `answerable_uses_start_logits`, `answerable_weight`).
    """

    head_type = None
    features = ()
    # Serving: the `pipelines.pipeline` task that runs this kind, and the
    # {id output: name output} pairs that the export maps through the
    # task's label names.
    pipeline_task = None
    label_outputs = {}

    def build(self, name, config, num_labels, settings):
        """The head layer of task `name`, built: its variables are
        `task_specific/<name>/...`."""
        head = self.layer(name, config, num_labels, settings)
        with keras.name_scope("task_specific"):
            head.build(None)
        return head

    def layer(self, name, config, num_labels, settings):
        raise NotImplementedError

    def outputs(self, head, encoded, inputs, training=False):
        """The head's outputs (with `predictions`) from the encoder's
        `encoded` outputs and `inputs` (the encoder inputs plus the task's
        `features` that it has)."""
        raise NotImplementedError

    def loss(self, outputs, inputs, settings):
        """Each example's loss [B]."""
        raise NotImplementedError

    def serving_form(self, task):
        """How the export packs raw text for `task` (a key of
        serving/signatures.py `TEXT_INPUTS`)."""
        raise NotImplementedError

    def label_names(self, task):
        """The names of the fine-tuning `task`'s label ids, or None."""
        return None

    def served(self, head, encoded, features):
        """The exported outputs from the encoder's `encoded` outputs and
        the packed int32 `features` (the encoder inputs, and
        `labeled_positions` for the "words" form): by default the head's
        own `outputs`."""
        return self.outputs(head, encoded, features)

    def pipeline_result(self, row):
        """One input's JSON-ready pipeline result from its row of the
        raw-text signature's outputs (NumPy)."""
        raise NotImplementedError


class Classification(HeadKind):
    """Softmax over `num_labels` from the `[CLS]` vector."""

    head_type = "classification"
    features = ("label_ids",)
    pipeline_task = "text-classification"
    label_outputs = {"label_ids": "label_names"}

    def layer(self, name, config, num_labels, settings):
        return ClassificationHead(config.hidden_size, num_labels, name=name)

    def outputs(self, head, encoded, inputs, training=False):
        logits = head(encoded["pooled_output"], training=training)  # [B, C]
        return {"logits": logits, "predictions": keras.ops.argmax(logits, -1)}

    def loss(self, outputs, inputs, settings):
        logits = outputs["logits"]
        return _log_softmax_ce(logits, inputs["label_ids"], logits.shape[-1])

    def serving_form(self, task):
        return "pair" if task.text_pairs else "text"

    def label_names(self, task):
        return [str(label) for label in task.label_list]

    def served(self, head, encoded, features):
        logits = self.outputs(head, encoded, features)["logits"]  # [B, C]
        return {
            "logits": logits,
            "probabilities": tf.nn.softmax(logits, axis=-1),
            "label_ids": tf.argmax(logits, axis=-1, output_type=tf.int32),
        }

    def pipeline_result(self, row):
        label = int(row["label_ids"])
        return {
            "label": row["label_names"].decode("utf-8"),
            "score": float(row["probabilities"][label]),
        }


class Regression(HeadKind):
    """One score from the `[CLS]` vector, trained with a squared error."""

    head_type = "regression"
    features = ("targets",)
    pipeline_task = "text-classification"

    def layer(self, name, config, num_labels, settings):
        return RegressionHead(config.hidden_size, name=name)

    def outputs(self, head, encoded, inputs, training=False):
        predictions = head(encoded["pooled_output"], training=training)  # [B]
        return {"predictions": predictions}

    def loss(self, outputs, inputs, settings):
        ops = keras.ops
        predictions = ops.cast(outputs["predictions"], "float32")
        return ops.square(predictions - ops.cast(inputs["targets"], "float32"))

    def serving_form(self, task):
        return "pair"

    def served(self, head, encoded, features):
        return {"score": self.outputs(head, encoded, features)["predictions"]}

    def pipeline_result(self, row):
        return {"score": float(row["score"])}


class Span(HeadKind):
    """Extractive QA: start/end logits, the joint beam and the answerable
    logit; `start_positions` is read when training with joint prediction."""

    head_type = "span"
    features = ("start_positions", "end_positions", "is_impossible")
    # Its pipeline decodes windows in Python (serving/qa_pipeline.py), not
    # from signature rows.
    pipeline_task = "question-answering"

    def layer(self, name, config, num_labels, settings):
        return SpanHead(
            config.hidden_size,
            beam_size=settings["beam_size"],
            joint_prediction=settings["joint_prediction"],
            answerable_classifier=settings["answerable_classifier"],
            answerable_uses_start_logits=settings[
                "answerable_uses_start_logits"
            ],
            hidden_act=config.hidden_act,
            name=name,
        )

    def outputs(self, head, encoded, inputs, training=False):
        return head(
            encoded["sequence_output"],
            inputs["input_mask"],
            inputs["segment_ids"],
            inputs.get("start_positions"),
            training=training,
        )

    def loss(self, outputs, inputs, settings):
        """Mean of the start and end cross-entropies, plus the weighted
        answerable loss (qa_tasks.py: `get_prediction_module`)."""
        ops = keras.ops
        length = ops.shape(outputs["start_logits"])[-1]
        losses = (
            _log_softmax_ce(
                outputs["start_logits"], inputs["start_positions"], length
            )
            + _log_softmax_ce(
                outputs["end_logits"], inputs["end_positions"], length
            )
        ) / 2.0
        if settings["answerable_classifier"]:
            labels = ops.cast(inputs["is_impossible"], "float32")
            logits = outputs["answerable_logit"]
            # Numerically stable sigmoid cross-entropy, as TF's.
            sigmoid_ce = (
                ops.maximum(logits, 0.0)
                - logits * labels
                + ops.log1p(ops.exp(-ops.abs(logits)))
            )
            losses = losses + settings["answerable_weight"] * sigmoid_ce
        return losses

    def serving_form(self, task):
        return "qa"


class Tagging(HeadKind):
    """A label per word from its first token; `labeled_positions`
    defaults to every position."""

    head_type = "tagging"
    features = ("labeled_positions", "labels", "labels_mask")
    pipeline_task = "token-classification"
    label_outputs = {"tag_ids": "tags"}

    def layer(self, name, config, num_labels, settings):
        return TaggingHead(config.hidden_size, num_labels, name=name)

    def outputs(self, head, encoded, inputs, training=False):
        ops = keras.ops
        positions = inputs.get("labeled_positions")
        if positions is None:
            ids = inputs["input_ids"]
            positions = ops.arange(ops.shape(ids)[1])[None]
            positions = ops.zeros_like(ids) + positions  # [B, L]
        logits = head(encoded["sequence_output"], positions)  # [B, L, C]
        return {"logits": logits, "predictions": ops.argmax(logits, -1)}

    def loss(self, outputs, inputs, settings):
        """Per-position cross-entropy x mask, summed over positions."""
        ops = keras.ops
        logits = outputs["logits"]
        losses = _log_softmax_ce(logits, inputs["labels"], logits.shape[-1])
        mask = ops.cast(inputs["labels_mask"], "float32")
        return ops.sum(losses * mask, axis=-1)  # [B]

    def serving_form(self, task):
        return "words"

    def label_names(self, task):
        mapping = task.get_label_mapping()
        return sorted(mapping, key=mapping.get)

    def served(self, head, encoded, features):
        logits = self.outputs(head, encoded, features)["logits"]  # [B, W, C]
        return {
            "logits": logits,
            "tag_ids": tf.argmax(logits, axis=-1, output_type=tf.int32),
        }

    def pipeline_result(self, row):
        """The tags of the words the packed length kept."""
        n = int(row["num_tagged"])
        return {
            "words": [w.decode("utf-8") for w in row["words"][:n]],
            "tags": [t.decode("utf-8") for t in row["tags"][:n]],
        }


HEAD_KINDS = {
    kind.head_type: kind
    for kind in (Classification(), Regression(), Span(), Tagging())
}


def head_kind(head_type, task_name):
    """The kind of `head_type`, or a ValueError naming the known ones."""
    if head_type not in HEAD_KINDS:
        raise ValueError(
            f"Task {task_name!r} has head_type {head_type!r}; use one of "
            f"{', '.join(HEAD_KINDS)}."
        )
    return HEAD_KINDS[head_type]
