"""Fine-tuning models: a shared `electra` encoder plus task heads.

Ports run_finetuning.py `FinetuningModel` and the task losses.
One encoder, one head (layers/task_heads.py) per task under
`task_specific/<task>/`, every head run on every example; the total loss is
the sum over the batch of each example's own task loss (`task_id` selects it;
padding records with `task_id = len(tasks)` add 0). Also the single-task
models under familiar names. Variables are created at construction, so
their paths are the original checkpoint names.
"""

import keras

from electra_tf.layers.task_heads import (
    ClassificationHead,
    RegressionHead,
    SpanHead,
    TaggingHead,
)
from electra_tf.models.encoder import Encoder, as_model_config

# Legend: B batch, L sequence length, H hidden size, C classes, K beam size,
# N choices.

HEAD_TYPES = ("classification", "regression", "span", "tagging")


def _log_softmax_ce(logits, labels, depth):
    """Per-row softmax cross-entropy in float32 (labels are class ids)."""
    ops = keras.ops
    log_probs = ops.log_softmax(ops.cast(logits, "float32"), axis=-1)
    one_hot = ops.one_hot(ops.cast(labels, "int32"), depth, dtype="float32")
    return -ops.sum(one_hot * log_probs, axis=-1)


def classification_loss(logits, label_ids):
    """Softmax cross-entropy per example [B]."""
    return _log_softmax_ce(logits, label_ids, logits.shape[-1])


def regression_loss(predictions, targets):
    """Squared error per example [B]."""
    ops = keras.ops
    predictions = ops.cast(predictions, "float32")
    return ops.square(predictions - ops.cast(targets, "float32"))


def span_loss(
    outputs, start_positions, end_positions, is_impossible, answerable_weight
):
    """Mean of start/end cross-entropies (+ weighted answerable loss) [B]."""
    ops = keras.ops
    length = ops.shape(outputs["start_logits"])[-1]
    losses = (
        _log_softmax_ce(outputs["start_logits"], start_positions, length)
        + _log_softmax_ce(outputs["end_logits"], end_positions, length)
    ) / 2.0
    if answerable_weight is not None:
        labels = ops.cast(is_impossible, "float32")
        logits = outputs["answerable_logit"]
        # Numerically stable sigmoid cross-entropy, as TF's.
        sigmoid_ce = (
            ops.maximum(logits, 0.0)
            - logits * labels
            + ops.log1p(ops.exp(-ops.abs(logits)))
        )
        losses = losses + answerable_weight * sigmoid_ce
    return losses


def tagging_loss(logits, labels, labels_mask):
    """Per-position cross-entropy x mask, summed over positions [B]."""
    ops = keras.ops
    losses = _log_softmax_ce(logits, labels, logits.shape[-1])  # [B, L]
    return ops.sum(losses * ops.cast(labels_mask, "float32"), axis=-1)


def _encoder_inputs(inputs):
    return {k: inputs[k] for k in ("input_ids", "input_mask", "segment_ids")}


def _build_head(head, input_shape=None):
    """Builds `head` (named after its task) under `task_specific/`."""
    with keras.name_scope("task_specific"):
        head.build(input_shape)
    return head


class _Pretrained(keras.Model):
    """Fine-tuning models: built at construction; load and save any format."""

    def build(self, input_shape=None):
        pass  # every part is built at construction

    @classmethod
    def from_pretrained(cls, path, hparams=None, **head_args):
        """This model from our, original TF1 or Hugging Face checkpoints
        (`checkpoints.task_models.load_task_model`)."""
        from electra_tf.checkpoints import task_models  # on use: it builds us

        return task_models.load_task_model(cls, path, hparams, **head_args)

    def save_pretrained(self, path, format="original", vocab_file=None):
        """Writes `format` 'original' ('hf': token classification only)."""
        from electra_tf import checkpoints

        return checkpoints.save_model(self, path, format, vocab_file)


@keras.saving.register_keras_serializable(package="electra_tf")
class FinetuningModel(_Pretrained):
    """Multi-task fine-tuning model of the original.

    Args:
        config: the encoder's `ModelConfig` (or its dict).
        tasks: one dict per task, in `task_names` order: `name`,
            `head_type` (one of HEAD_TYPES) and `num_labels`
            (classification and tagging).
        beam_size, joint_prediction, answerable_classifier,
        answerable_uses_start_logits, answerable_weight: the QA settings.

    Call: dict of `input_ids`, `input_mask`, `segment_ids` [B, L], `task_id`
    [B] and each task's label features (see the task's feature specs) ->
    dict with the scalar `loss`, `task_id` and per task a dict of its
    outputs (`loss` [B], `eid` and the head's outputs) under the task name.
    """

    def __init__(
        self,
        config,
        tasks,
        beam_size=20,
        joint_prediction=True,
        answerable_classifier=True,
        answerable_uses_start_logits=True,
        answerable_weight=0.5,
        **kwargs,
    ):
        kwargs.setdefault("name", "finetuning_model")
        super().__init__(**kwargs)
        self.config = as_model_config(config)
        self.tasks = [dict(t) for t in tasks]
        self.beam_size = beam_size
        self.joint_prediction = joint_prediction
        self.answerable_classifier = answerable_classifier
        self.answerable_uses_start_logits = answerable_uses_start_logits
        self.answerable_weight = answerable_weight
        self.encoder = Encoder(self.config, name="electra")
        hidden = self.config.hidden_size
        for spec in self.tasks:
            name, head_type = spec["name"], spec["head_type"]
            if head_type == "classification":
                head = ClassificationHead(hidden, spec["num_labels"], name=name)
            elif head_type == "regression":
                head = RegressionHead(hidden, name=name)
            elif head_type == "span":
                head = SpanHead(
                    hidden,
                    beam_size=beam_size,
                    joint_prediction=joint_prediction,
                    answerable_classifier=answerable_classifier,
                    answerable_uses_start_logits=answerable_uses_start_logits,
                    hidden_act=self.config.hidden_act,
                    name=name,
                )
            elif head_type == "tagging":
                head = TaggingHead(hidden, spec["num_labels"], name=name)
            else:
                raise ValueError(
                    f"Task {name!r} has head_type {head_type!r}; use one of "
                    f"{', '.join(HEAD_TYPES)}."
                )
            # Named attributes, not a list, so tf.train.Checkpoint sees them.
            setattr(self, f"{name}_head", _build_head(head))
        self.build()

    @property
    def task_heads(self):
        return [getattr(self, f"{t['name']}_head") for t in self.tasks]

    def call(self, features, training=False):
        ops = keras.ops
        enc = self.encoder(_encoder_inputs(features), training=training)
        outputs = {"task_id": features["task_id"]}
        losses = []
        for spec, head in zip(self.tasks, self.task_heads):
            name = spec["name"]
            out = self._task_outputs(spec, head, enc, features, training)
            out["eid"] = features[name + "_eid"]
            losses.append(out["loss"])
            outputs[name] = out
        task_id = ops.cast(features["task_id"], "int32")
        # [B, T]; all zeros for padding records (task_id = T)
        select = ops.one_hot(task_id, len(self.tasks), dtype="float32")
        outputs["loss"] = ops.sum(ops.stack(losses, axis=-1) * select)
        return outputs

    def _task_outputs(self, spec, head, enc, features, training):
        ops = keras.ops
        name, head_type = spec["name"], spec["head_type"]
        if head_type == "classification":
            logits = head(enc["pooled_output"], training=training)  # [B, C]
            label_ids = features[name + "_label_ids"]
            return {
                "logits": logits,
                "predictions": ops.argmax(logits, axis=-1),
                "label_ids": label_ids,
                "loss": classification_loss(logits, label_ids),
            }
        if head_type == "regression":
            predictions = head(enc["pooled_output"], training=training)  # [B]
            targets = features[name + "_targets"]
            return {
                "predictions": predictions,
                "targets": targets,
                "loss": regression_loss(predictions, targets),
            }
        if head_type == "span":
            start = features[name + "_start_positions"]
            end = features[name + "_end_positions"]
            out = head(
                enc["sequence_output"],
                features["input_mask"],
                features["segment_ids"],
                start,
                training=training,
            )
            out["loss"] = span_loss(
                out,
                start,
                end,
                features[name + "_is_impossible"],
                self.answerable_weight if self.answerable_classifier else None,
            )
            out["start_positions"] = start
            out["end_positions"] = end
            return out
        logits = head(
            enc["sequence_output"], features[name + "_labeled_positions"]
        )  # [B, L, C]
        labels = features[name + "_labels"]
        labels_mask = features[name + "_labels_mask"]
        return {
            "logits": logits,
            "predictions": ops.argmax(logits, axis=-1),
            "labels": labels,
            "labels_mask": labels_mask,
            "loss": tagging_loss(logits, labels, labels_mask),
        }

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "config": self.config.to_dict(),
            "tasks": self.tasks,
            "beam_size": self.beam_size,
            "joint_prediction": self.joint_prediction,
            "answerable_classifier": self.answerable_classifier,
            "answerable_uses_start_logits": self.answerable_uses_start_logits,
            "answerable_weight": self.answerable_weight,
        }


class _SingleTaskModel(_Pretrained):
    """Encoder `electra` + one head `task_specific/<task_name>/...`."""

    def __init__(self, config, task_name, **kwargs):
        super().__init__(**kwargs)
        self.config = as_model_config(config)
        self.task_name = task_name
        self.encoder = Encoder(self.config, name="electra")

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "config": self.config.to_dict(),
            "task_name": self.task_name,
        }


@keras.saving.register_keras_serializable(package="electra_tf")
class ElectraForSequenceClassification(_SingleTaskModel):
    """Classification from the `[CLS]` vector (GLUE-style heads).

    Call: dict of `input_ids`, `input_mask`, `segment_ids` [B, L] -> logits
    [B, C].

    Example:
        >>> cfg = ModelConfig(vocab_size=99, hidden_size=16,
        ...     num_hidden_layers=1, num_attention_heads=2,
        ...     intermediate_size=32)
        >>> model = ElectraForSequenceClassification(
        ...     cfg, num_labels=3, task_name="mnli")
        >>> model.head.dense.kernel.path
        'task_specific/mnli/dense/kernel'
    """

    def __init__(self, config, num_labels, task_name="classification",
                 dropout_rate=0.1, **kwargs):
        kwargs.setdefault("name", "electra_for_sequence_classification")
        super().__init__(config, task_name, **kwargs)
        self.num_labels = num_labels
        self.dropout_rate = dropout_rate
        self.head = _build_head(ClassificationHead(
            self.config.hidden_size, num_labels, dropout_rate, name=task_name
        ))
        self.build()

    def call(self, inputs, training=False):
        enc = self.encoder(_encoder_inputs(inputs), training=training)
        return self.head(enc["pooled_output"], training=training)  # [B, C]

    def get_config(self):
        config = super().get_config()
        config.update(
            num_labels=self.num_labels, dropout_rate=self.dropout_rate
        )
        return config


@keras.saving.register_keras_serializable(package="electra_tf")
class ElectraForTokenClassification(_SingleTaskModel):
    """Per-token classification (the chunking head).

    `labels` (optional) name the tags in id order (HF `id2label`).
    Call: dict of `input_ids`, `input_mask`, `segment_ids` [B, L] and
    optionally `labeled_positions` [B, L] (default: every position) ->
    logits [B, L, C].
    """

    def __init__(self, config, num_labels, task_name="tagging", labels=None,
                 **kwargs):
        kwargs.setdefault("name", "electra_for_token_classification")
        super().__init__(config, task_name, **kwargs)
        self.num_labels = num_labels
        self.labels = tuple(labels) if labels else None
        self.head = _build_head(TaggingHead(
            self.config.hidden_size, num_labels, name=task_name
        ))
        self.build()

    def call(self, inputs, training=False):
        ops = keras.ops
        enc = self.encoder(_encoder_inputs(inputs), training=training)
        positions = inputs.get("labeled_positions")
        if positions is None:
            ids = inputs["input_ids"]
            positions = ops.arange(ops.shape(ids)[1])[None]
            positions = ops.zeros_like(ids) + positions  # [B, L]
        return self.head(enc["sequence_output"], positions)  # [B, L, C]

    def get_config(self):
        config = super().get_config()
        config.update(num_labels=self.num_labels, labels=self.labels)
        return config


@keras.saving.register_keras_serializable(package="electra_tf")
class ElectraForQuestionAnswering(_SingleTaskModel):
    """Extractive QA: the original's span head (joint beam, answerable logit).

    Call: dict of `input_ids`, `input_mask`, `segment_ids` [B, L] (and
    `start_positions` [B] when training with joint prediction) -> the
    `SpanHead` outputs.
    """

    def __init__(self, config, task_name="squad", beam_size=20,
                 joint_prediction=True, answerable_classifier=True,
                 answerable_uses_start_logits=True, **kwargs):
        kwargs.setdefault("name", "electra_for_question_answering")
        super().__init__(config, task_name, **kwargs)
        self.beam_size = beam_size
        self.joint_prediction = joint_prediction
        self.answerable_classifier = answerable_classifier
        self.answerable_uses_start_logits = answerable_uses_start_logits
        self.head = _build_head(SpanHead(
            self.config.hidden_size,
            beam_size=beam_size,
            joint_prediction=joint_prediction,
            answerable_classifier=answerable_classifier,
            answerable_uses_start_logits=answerable_uses_start_logits,
            hidden_act=self.config.hidden_act,
            name=task_name,
        ))
        self.build()

    def call(self, inputs, training=False):
        enc = self.encoder(_encoder_inputs(inputs), training=training)
        return self.head(
            enc["sequence_output"],
            inputs["input_mask"],
            inputs["segment_ids"],
            inputs.get("start_positions"),
            training=training,
        )

    def get_config(self):
        config = super().get_config()
        config.update(
            beam_size=self.beam_size,
            joint_prediction=self.joint_prediction,
            answerable_classifier=self.answerable_classifier,
            answerable_uses_start_logits=self.answerable_uses_start_logits,
        )
        return config


@keras.saving.register_keras_serializable(package="electra_tf")
class ElectraForMultipleChoice(_SingleTaskModel):
    """Multiple choice: each choice's `[CLS]` vector -> one score.

    Not a task of the original (README); the head is a `ClassificationHead`
    with one output, as BERT-style multiple-choice models use.

    Call: dict of `input_ids`, `input_mask`, `segment_ids` [B, N, L] ->
    logits [B, N].
    """

    def __init__(self, config, task_name="multiple_choice", dropout_rate=0.1,
                 **kwargs):
        kwargs.setdefault("name", "electra_for_multiple_choice")
        super().__init__(config, task_name, **kwargs)
        self.dropout_rate = dropout_rate
        self.head = _build_head(ClassificationHead(
            self.config.hidden_size, 1, dropout_rate, name=task_name
        ))
        self.build()

    def call(self, inputs, training=False):
        ops = keras.ops
        ids = inputs["input_ids"]
        n_choices, length = ops.shape(ids)[1], ops.shape(ids)[2]
        flat = {
            k: ops.reshape(v, (-1, length))
            for k, v in _encoder_inputs(inputs).items()
        }  # [B * N, L]
        pooled = self.encoder(flat, training=training)["pooled_output"]
        logits = self.head(pooled, training=training)  # [B * N, 1]
        return ops.reshape(logits, (-1, n_choices))  # [B, N]

    def get_config(self):
        config = super().get_config()
        config.update(dropout_rate=self.dropout_rate)
        return config
