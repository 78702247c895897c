"""Configuration: the transformer config and the pre-training / fine-tuning
hparams.

Port of model/modeling.py `BertConfig`, util/training_utils.py
`get_bert_config`, run_pretraining.py `get_generator_config`,
configure_pretraining.py and configure_finetuning.py, including the original
order in which defaults, debug values, per-size and per-task defaults and
user hparams are applied. Configs are frozen dataclasses; every unknown key
is an error that names the closest valid key, and every value is held
against its type and range (hparam_ranges.py) when a config is built.

Modules: hparams (reading and checking hparams), model (ModelConfig and the
sizes), run (what both run configs share), pretraining, finetuning, paths
(the original's directory layout).
"""

from electra_tf.config.finetuning import FinetuningConfig
from electra_tf.config.hparams import HparamError, load_hparams
from electra_tf.config.model import (
    MODEL_SIZES,
    ModelConfig,
    get_bert_config,
    get_generator_config,
)
from electra_tf.config.pretraining import PretrainingConfig

__all__ = [
    "FinetuningConfig",
    "HparamError",
    "MODEL_SIZES",
    "ModelConfig",
    "PretrainingConfig",
    "get_bert_config",
    "get_generator_config",
    "load_hparams",
]
