"""electra-tf: ELECTRA for TensorFlow 2 / Keras 3, faithful to google-research/electra.

The public names below are imported on first use, so `import electra_tf`
(and light modules such as `electra_tf.config`) stay cheap.
"""

import importlib

__version__ = "0.1.0"

_EXPORTS = {
    "ModelConfig": "electra_tf.config",
    "PretrainingConfig": "electra_tf.config",
    "FinetuningConfig": "electra_tf.config",
    "Encoder": "electra_tf.models.encoder",
    "ElectraPretrainer": "electra_tf.models.pretrainer",
    "load_pretraining_checkpoint": "electra_tf.checkpoints",
    "load_discriminator_checkpoint": "electra_tf.checkpoints",
    "CheckpointMismatchError": "electra_tf.checkpoints",
    "FullTokenizer": "electra_tf.tokenization",
    "FinetuningModel": "electra_tf.models.finetuner",
    "ElectraForSequenceClassification": "electra_tf.models.finetuner",
    "ElectraForTokenClassification": "electra_tf.models.finetuner",
    "ElectraForQuestionAnswering": "electra_tf.models.finetuner",
    "ElectraForMultipleChoice": "electra_tf.models.finetuner",
    "pipeline": "electra_tf.pipeline",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'electra_tf' has no attribute '{name}'")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
