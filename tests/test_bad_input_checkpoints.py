"""Bad checkpoint inputs through the CLIs: one clear stderr line, exit 2,
and every file the user had is left as it was."""

import json
import os

import pytest

import electra_tf.pretraining.runner
from bad_input import assert_clear_failure
from electra_tf.checkpoints import finetuned
from electra_tf.models.finetuner import FinetuningModel
from pretraining_helpers import TINY, make_data_dir, tiny_config


@pytest.mark.slow
def test_refused_resume_leaves_the_run_unchanged(tmp_path):
    data_dir = make_data_dir(str(tmp_path), n_examples=32)
    config = tiny_config(data_dir, "tiny", num_train_steps=2, save_checkpoints_steps=2)
    electra_tf.pretraining.runner.run(config, log=lambda line: None)
    saved = open(os.path.join(config.model_dir, "pretrain_config.json")).read()
    overrides = dict(TINY["model_hparam_overrides"], num_hidden_layers=1)
    hparams = dict(TINY, model_hparam_overrides=overrides, num_train_steps=4)
    line = assert_clear_failure(
        ["run_pretraining.py", "--data-dir", data_dir, "--model-name", "tiny",
         "--hparams", json.dumps(hparams)],
        ["model.ckpt-2", "does not fit", "electra/encoder/layer_1/",
         "pretrain_config.json"],
        keep=[data_dir],
    )
    assert "missing" not in line.split("Checkpoint variables the model")[0].lower()
    assert open(os.path.join(config.model_dir, "pretrain_config.json")).read() == saved


def test_finetuning_from_its_own_trial_directory_is_refused(tmp_path):
    model_dir = tmp_path / "models" / "tiny" / "finetuning_models" / "rte_model_1"
    model = FinetuningModel(
        tiny_config(str(tmp_path)).disc_config(),
        [{"name": "rte", "head_type": "classification", "num_labels": 2}],
    )
    finetuned.save_checkpoint(model, str(model_dir), 3)
    hparams = {"task_names": ["rte"], "init_checkpoint": str(model_dir),
               "vocab_size": 99, "model_size": "small"}
    assert_clear_failure(
        ["run_finetuning.py", "--data-dir", str(tmp_path), "--model-name", "tiny",
         "--hparams", json.dumps(hparams)],
        ["init_checkpoint", "rte_model_1", "trial director", "copy it elsewhere"],
        keep=[str(tmp_path)],
    )
    assert sorted(os.listdir(model_dir)) == [
        "checkpoint", "model.ckpt-3.data-00000-of-00001", "model.ckpt-3.index"
    ]


def test_convert_of_an_unknown_folder_lists_what_it_looked_for(tmp_path):
    (tmp_path / "notes.txt").write_text("not a model")
    assert_clear_failure(
        ["-m", "electra_tf.convert", "--from", str(tmp_path), "--to", "original",
         "--output", str(tmp_path / "out")],
        ["holds no known checkpoint", "'checkpoint' index", "Hugging Face"],
        keep=[str(tmp_path)],
    )
    assert not (tmp_path / "out").exists()
