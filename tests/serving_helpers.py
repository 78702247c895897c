"""Tiny models in every layout the serving code reads, and a runner that
calls SavedModel signatures in a fresh process importing only tensorflow
and tensorflow_text."""

import base64
import os
import pickle
import shutil
import subprocess
import sys

import tensorflow as tf

from electra_tf import config as config_lib
from electra_tf.checkpoints import finetuned
from electra_tf.finetuning import preprocessing
from electra_tf.finetuning import runner
from electra_tf.models.pretrainer import ElectraPretrainer
from electra_tf.tokenization import default_vocab_file

MODEL = {
    "vocab_size": 30522,
    "model_hparam_overrides": {
        "hidden_size": 32,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "intermediate_size": 48,
        "max_position_embeddings": 64,
    },
    "embedding_size": 16,
}
CHUNK_TAGS = ("B-NP", "B-VP", "E-NP", "I-NP", "O", "S-NP", "S-VP")


def pretrained_dir(data_dir, seed=0):
    """`<data>/models/tiny`: a random tiny pre-training run (bundled vocab)."""
    tf.keras.utils.set_random_seed(seed)
    model_dir = os.path.join(str(data_dir), "models", "tiny")
    hparams = dict(
        MODEL,
        generator_hidden_size=0.5,
        max_seq_length=32,
        vocab_file=os.path.join(model_dir, "vocab.txt"),
    )
    config = config_lib.PretrainingConfig.from_hparams(
        "tiny", str(data_dir), hparams
    )
    os.makedirs(model_dir, exist_ok=True)
    shutil.copy(default_vocab_file(), os.path.join(model_dir, "vocab.txt"))
    model = ElectraPretrainer(config)
    model.save_pretrained(model_dir, format="ours")
    return model_dir, model


def finetuned_dir(data_dir, task_names, **hparams):
    """A random fine-tuned run `finetuning_models/<tasks>_model_1` (needs
    `pretrained_dir` first); returns (directory, model, config)."""
    values = dict(MODEL, task_names=list(task_names), max_seq_length=32)
    values.update(hparams)
    config = config_lib.FinetuningConfig.from_hparams(
        "tiny", str(data_dir), values
    )
    if "chunk" in task_names:
        path = os.path.join(
            config.preprocessed_data_dir, "chunk_label_mapping.pkl"
        )
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            pickle.dump({t: i for i, t in enumerate(CHUNK_TAGS)}, f)
    tasks = preprocessing.get_tasks(config)
    model = runner.build_model(config, tasks)
    model_dir = config.trial_model_dir(1)
    finetuned.write_description(model_dir, config, runner.head_specs(tasks))
    finetuned.save_checkpoint(model, model_dir, 1)
    return model_dir, model, config


_CALL = r"""
import base64, pickle, sys
import tensorflow as tf
import tensorflow_text  # registers the tokenizer ops

requests = pickle.load(open(sys.argv[1], "rb"))
results = {}
loaded = {}
for key, directory, signature, inputs in requests:
    if directory not in loaded:
        loaded[directory] = tf.saved_model.load(directory)
    fn = loaded[directory].signatures[signature]
    args = {}
    for name, value in inputs.items():
        if isinstance(value[0], str):
            value = [base64.b64decode(v) for v in value]
            args[name] = tf.constant(value, tf.string)
        else:
            args[name] = tf.constant(value, tf.int32)
    results[key] = {k: v.numpy() for k, v in fn(**args).items()}
results["modules"] = sorted(
    m for m in sys.modules if m.split(".")[0] in ("electra_tf", "keras_hub")
)
pickle.dump(results, open(sys.argv[2], "wb"))
"""


def call_fresh(tmp_path, requests):
    """Runs (key, export dir, signature, inputs) requests in a new Python
    that imports only tensorflow and tensorflow_text; {key: outputs}."""
    encoded = []
    for key, directory, signature, inputs in requests:
        inputs = {
            k: (
                [
                    base64.b64encode(
                        v if isinstance(v, bytes) else v.encode("utf-8")
                    ).decode("ascii")
                    for v in value
                ]
                if isinstance(value[0], (str, bytes))
                else value
            )
            for k, value in inputs.items()
        }
        encoded.append((key, str(directory), signature, inputs))
    request_file = os.path.join(str(tmp_path), "requests.pkl")
    result_file = os.path.join(str(tmp_path), "results.pkl")
    with open(request_file, "wb") as f:
        pickle.dump(encoded, f)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    result = subprocess.run(
        [sys.executable, "-c", _CALL, request_file, result_file],
        cwd=str(tmp_path),
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    with open(result_file, "rb") as f:
        results = pickle.load(f)
    assert results.pop("modules") == [], "the reload imported electra_tf"
    return results
