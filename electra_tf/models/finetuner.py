"""Fine-tuning models: a shared `electra` encoder plus task heads.

Ports run_finetuning.py `FinetuningModel`: one encoder, one head per task
under `task_specific/<task>/` (its kind, models/head_kinds.py, builds it
and gives its loss), every head run on every example; the total loss is
the sum over the batch of each example's own task loss (`task_id` selects
it; padding records with `task_id = len(tasks)` add 0). The single-task
models under familiar names are FinetuningModels of one task, called
without labels. Variables are created at construction, so their paths are
the original checkpoint names.
"""

import keras

from electra_tf.models.encoder import Encoder, as_model_config
from electra_tf.models.head_kinds import HEAD_KINDS, head_kind

# Legend: B batch, L sequence length, C classes, N choices.

ENCODER_INPUTS = ("input_ids", "input_mask", "segment_ids")
QA_SETTINGS = (
    "beam_size",
    "joint_prediction",
    "answerable_classifier",
    "answerable_uses_start_logits",
)
SETTINGS = QA_SETTINGS + ("answerable_weight",)  # what the head kinds read


def _encoder_inputs(inputs):
    return {k: inputs[k] for k in ENCODER_INPUTS}


@keras.saving.register_keras_serializable(package="electra_tf")
class FinetuningModel(keras.Model):
    """Multi-task fine-tuning model of the original.

    Args:
        config: the encoder's `ModelConfig` (or its dict).
        tasks: one dict per task, in `task_names` order: `name`,
            `head_type` (a key of `HEAD_KINDS`) and `num_labels`
            (classification and tagging).
        beam_size, joint_prediction, answerable_classifier,
        answerable_uses_start_logits, answerable_weight: the QA settings.

    Call: dict of `input_ids`, `input_mask`, `segment_ids` [B, L], `task_id`
    [B] and each task's features `<task>_<feature>` (its kind's `features`
    and `eid`) -> dict with the scalar `loss`, `task_id` and per task a
    dict of its outputs (the head's, `loss` [B], its features and `eid`)
    under the task name. Task `t`'s head is the attribute `<t>_head`.
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
        for spec in self.tasks:
            name = spec["name"]
            kind = head_kind(spec["head_type"], name)
            head = kind.build(
                name, self.config, spec.get("num_labels"), self.settings
            )
            # Named attributes, not a list, so tf.train.Checkpoint sees them.
            setattr(self, f"{name}_head", head)
        self.build()

    def build(self, input_shape=None):
        pass  # every part is built at construction

    @property
    def settings(self):
        """The QA settings the head kinds read."""
        return {key: getattr(self, key) for key in SETTINGS}

    def call(self, features, training=False):
        ops = keras.ops
        enc = self.encoder(_encoder_inputs(features), training=training)
        outputs = {"task_id": features["task_id"]}
        losses = []
        for spec in self.tasks:
            name = spec["name"]
            kind = HEAD_KINDS[spec["head_type"]]
            inputs = _encoder_inputs(features)
            inputs.update({k: features[f"{name}_{k}"] for k in kind.features})
            head = getattr(self, f"{name}_head")
            out = kind.outputs(head, enc, inputs, training)
            out["loss"] = kind.loss(out, inputs, self.settings)  # [B]
            out.update({k: inputs[k] for k in kind.features})
            out["eid"] = features[name + "_eid"]
            losses.append(out["loss"])
            outputs[name] = out
        task_id = ops.cast(features["task_id"], "int32")
        # [B, T]; all zeros for padding records (task_id = T)
        select = ops.one_hot(task_id, len(self.tasks), dtype="float32")
        outputs["loss"] = ops.sum(ops.stack(losses, axis=-1) * select)
        return outputs

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "config": self.config.to_dict(),
            "tasks": self.tasks,
            **self.settings,
        }

    @classmethod
    def from_finetuning_config(cls, config, tasks):
        """The model a `FinetuningConfig` describes: its discriminator
        encoder, the head dicts `tasks` and its QA settings."""
        settings = {key: getattr(config, key) for key in SETTINGS}
        return cls(config.disc_config(), tasks, **settings)

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


class _SingleTaskModel(FinetuningModel):
    """A FinetuningModel of the one task `task_name` (a `head_type` head),
    called without labels: it returns the head's `output` (all outputs
    when None)."""

    head_type = None
    output = None

    def __init__(self, config, task_name, num_labels=None, **kwargs):
        spec = {"name": task_name, "head_type": self.head_type}
        super().__init__(config, [dict(spec, num_labels=num_labels)], **kwargs)
        self.task_name = task_name
        self.num_labels = num_labels

    @property
    def head(self):
        return getattr(self, f"{self.task_name}_head")

    def call(self, inputs, training=False):
        enc = self.encoder(_encoder_inputs(inputs), training=training)
        kind = HEAD_KINDS[self.head_type]
        out = kind.outputs(self.head, enc, inputs, training)
        return out[self.output] if self.output else out

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
        >>> from electra_tf.config import ModelConfig
        >>> cfg = ModelConfig(vocab_size=99, hidden_size=16,
        ...     num_hidden_layers=1, num_attention_heads=2,
        ...     intermediate_size=32)
        >>> model = ElectraForSequenceClassification(
        ...     cfg, num_labels=3, task_name="mnli")
        >>> model.head.dense.kernel.path
        'task_specific/mnli/dense/kernel'
    """

    head_type = "classification"
    output = "logits"

    def __init__(
        self, config, num_labels, task_name="classification", **kwargs
    ):
        kwargs.setdefault("name", "electra_for_sequence_classification")
        super().__init__(config, task_name, num_labels, **kwargs)

    def get_config(self):
        return dict(super().get_config(), num_labels=self.num_labels)


@keras.saving.register_keras_serializable(package="electra_tf")
class ElectraForTokenClassification(_SingleTaskModel):
    """Per-token classification (the chunking head).

    `labels` (optional) name the tags in id order (HF `id2label`).
    Call: dict of `input_ids`, `input_mask`, `segment_ids` [B, L] and
    optionally `labeled_positions` [B, L] (default: every position) ->
    logits [B, L, C].
    """

    head_type = "tagging"
    output = "logits"

    def __init__(
        self, config, num_labels, task_name="tagging", labels=None, **kwargs
    ):
        kwargs.setdefault("name", "electra_for_token_classification")
        super().__init__(config, task_name, num_labels, **kwargs)
        self.labels = tuple(labels) if labels else None

    def get_config(self):
        return dict(
            super().get_config(), num_labels=self.num_labels, labels=self.labels
        )


@keras.saving.register_keras_serializable(package="electra_tf")
class ElectraForQuestionAnswering(_SingleTaskModel):
    """Extractive QA: the original's span head (joint beam, answerable logit).

    Call: dict of `input_ids`, `input_mask`, `segment_ids` [B, L] (and
    `start_positions` [B] when training with joint prediction) -> the
    `SpanHead` outputs.
    """

    head_type = "span"

    def __init__(
        self,
        config,
        task_name="squad",
        beam_size=20,
        joint_prediction=True,
        answerable_classifier=True,
        answerable_uses_start_logits=True,
        **kwargs,
    ):
        kwargs.setdefault("name", "electra_for_question_answering")
        super().__init__(
            config,
            task_name,
            beam_size=beam_size,
            joint_prediction=joint_prediction,
            answerable_classifier=answerable_classifier,
            answerable_uses_start_logits=answerable_uses_start_logits,
            **kwargs,
        )

    def get_config(self):
        config = super().get_config()
        config.update({key: getattr(self, key) for key in QA_SETTINGS})
        return config


@keras.saving.register_keras_serializable(package="electra_tf")
class ElectraForMultipleChoice(_SingleTaskModel):
    """Multiple choice: each choice's `[CLS]` vector -> one score.

    Not a task of the original (README); the head is a one-label
    classification head, as BERT-style multiple-choice models use.

    Call: dict of `input_ids`, `input_mask`, `segment_ids` [B, N, L] ->
    logits [B, N].
    """

    head_type = "classification"
    output = "logits"

    def __init__(self, config, task_name="multiple_choice", **kwargs):
        kwargs.setdefault("name", "electra_for_multiple_choice")
        super().__init__(config, task_name, 1, **kwargs)

    def call(self, inputs, training=False):
        ops = keras.ops
        ids = inputs["input_ids"]
        n_choices, length = ops.shape(ids)[1], ops.shape(ids)[2]
        flat = {
            k: ops.reshape(v, (-1, length))
            for k, v in _encoder_inputs(inputs).items()
        }  # [B * N, L]
        logits = super().call(flat, training=training)  # [B * N, 1]
        return ops.reshape(logits, (-1, n_choices))  # [B, N]
