"""Fine-tuning models: a shared `electra` encoder plus task heads.

Port of run_finetuning.py `FinetuningModel` (spec 7.4): one encoder, one head
per task under `task_specific/<task>/`, every head run on every example and
the total loss the sum over the batch of each example's own task loss
(`task_id` selects it; padding records with `task_id = len(tasks)` add 0).
Also the single-task classes under familiar names. Variables are created at
construction, so their paths are the original checkpoint names.
"""

import keras

from electra_tf.finetuning import heads as heads_lib
from electra_tf.models.encoder import Encoder, as_model_config

# Legend: B batch, L sequence length, H hidden size, C classes, N choices.

HEAD_TYPES = ("classification", "regression", "span", "tagging")


def _encoder_inputs(inputs):
    return {k: inputs[k] for k in ("input_ids", "input_mask", "segment_ids")}


def _build_head(head, input_shape=None):
    """Builds `head` (named after its task) under `task_specific/`."""
    with keras.name_scope("task_specific"):
        head.build(input_shape)
    return head


@keras.saving.register_keras_serializable(package="electra_tf")
class FinetuningModel(keras.Model):
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
                head = heads_lib.ClassificationHead(hidden, spec["num_labels"], name=name)
            elif head_type == "regression":
                head = heads_lib.RegressionHead(hidden, name=name)
            elif head_type == "span":
                head = heads_lib.SpanHead(
                    hidden,
                    beam_size=beam_size,
                    joint_prediction=joint_prediction,
                    answerable_classifier=answerable_classifier,
                    answerable_uses_start_logits=answerable_uses_start_logits,
                    hidden_act=self.config.hidden_act,
                    name=name,
                )
            elif head_type == "tagging":
                head = heads_lib.TaggingHead(hidden, spec["num_labels"], name=name)
            else:
                raise ValueError(
                    f"Task {name!r} has head_type {head_type!r}; use one of "
                    f"{', '.join(HEAD_TYPES)}."
                )
            # Named attributes, not a list, so tf.train.Checkpoint sees them.
            setattr(self, f"{name}_head", _build_head(head))

    def build(self, input_shape=None):
        pass  # every part is built at construction

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
        select = ops.one_hot(
            ops.cast(features["task_id"], "int32"), len(self.tasks), dtype="float32"
        )  # [B, T]; all zeros for padding records
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
                "loss": heads_lib.classification_loss(logits, label_ids),
            }
        if head_type == "regression":
            predictions = head(enc["pooled_output"], training=training)  # [B]
            targets = features[name + "_targets"]
            return {
                "predictions": predictions,
                "targets": targets,
                "loss": heads_lib.regression_loss(predictions, targets),
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
            out["loss"] = heads_lib.span_loss(
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
            "loss": heads_lib.tagging_loss(logits, labels, labels_mask),
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


class _SingleTaskModel(keras.Model):
    """Encoder `electra` + one head `task_specific/<task_name>/...`."""

    def __init__(self, config, task_name, **kwargs):
        super().__init__(**kwargs)
        self.config = as_model_config(config)
        self.task_name = task_name
        self.encoder = Encoder(self.config, name="electra")

    def build(self, input_shape=None):
        pass  # every part is built at construction

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
        >>> model = ElectraForSequenceClassification(cfg, num_labels=3,
        ...                                          task_name="mnli")
        >>> model.head.dense.kernel.path
        'task_specific/mnli/dense/kernel'
    """

    def __init__(self, config, num_labels, task_name="classification",
                 dropout_rate=0.1, **kwargs):
        kwargs.setdefault("name", "electra_for_sequence_classification")
        super().__init__(config, task_name, **kwargs)
        self.num_labels = num_labels
        self.dropout_rate = dropout_rate
        self.head = _build_head(heads_lib.ClassificationHead(
            self.config.hidden_size, num_labels, dropout_rate, name=task_name
        ))

    def call(self, inputs, training=False):
        enc = self.encoder(_encoder_inputs(inputs), training=training)
        return self.head(enc["pooled_output"], training=training)  # [B, C]

    def get_config(self):
        config = super().get_config()
        config.update(num_labels=self.num_labels, dropout_rate=self.dropout_rate)
        return config


@keras.saving.register_keras_serializable(package="electra_tf")
class ElectraForTokenClassification(_SingleTaskModel):
    """Per-token classification (the chunking head).

    Call: dict of `input_ids`, `input_mask`, `segment_ids` [B, L] and
    optionally `labeled_positions` [B, L] (default: every position) ->
    logits [B, L, C].
    """

    def __init__(self, config, num_labels, task_name="tagging", **kwargs):
        kwargs.setdefault("name", "electra_for_token_classification")
        super().__init__(config, task_name, **kwargs)
        self.num_labels = num_labels
        self.head = _build_head(heads_lib.TaggingHead(
            self.config.hidden_size, num_labels, name=task_name
        ))

    def call(self, inputs, training=False):
        ops = keras.ops
        enc = self.encoder(_encoder_inputs(inputs), training=training)
        positions = inputs.get("labeled_positions")
        if positions is None:
            ids = inputs["input_ids"]
            positions = ops.zeros_like(ids) + ops.arange(ops.shape(ids)[1])[None]
        return self.head(enc["sequence_output"], positions)  # [B, L, C]

    def get_config(self):
        config = super().get_config()
        config.update(num_labels=self.num_labels)
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
        self.head = _build_head(heads_lib.SpanHead(
            self.config.hidden_size,
            beam_size=beam_size,
            joint_prediction=joint_prediction,
            answerable_classifier=answerable_classifier,
            answerable_uses_start_logits=answerable_uses_start_logits,
            hidden_act=self.config.hidden_act,
            name=task_name,
        ))

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
    """Multiple choice: each (context, choice) pair's `[CLS]` vector -> one score.

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
        self.head = _build_head(heads_lib.ClassificationHead(
            self.config.hidden_size, 1, dropout_rate, name=task_name
        ))

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
