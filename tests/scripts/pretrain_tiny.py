"""Pre-trains the tiny model: `pretrain_tiny.py DATA_DIR MODEL_NAME HPARAMS`
with HPARAMS a JSON object of tiny_config arguments. Under TF_CONFIG it is
one worker of a multi-worker run."""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import electra_tf.pretraining.runner  # noqa: E402
from helpers import tiny_config  # noqa: E402

data_dir, model_name, hparams = sys.argv[1:]
electra_tf.pretraining.runner.run(
    tiny_config(data_dir, model_name, **json.loads(hparams))
)
