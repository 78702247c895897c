"""Configs: the original's sizes, derivations, override order and strictness."""

import json

import pytest

from electra_tf.errors import ConfigError, MissingInputError
from electra_tf.config import (
    FinetuningConfig,
    HparamError,
    ModelConfig,
    PretrainingConfig,
    get_bert_config,
    get_generator_config,
    load_hparams,
)


def pretraining(**hparams):
    return PretrainingConfig.from_hparams("m", "/data", hparams)


def finetuning(**hparams):
    return FinetuningConfig.from_hparams("m", "/data", hparams)


@pytest.mark.parametrize(
    "size, hidden, layers, heads, inner",
    [("small", 256, 12, 4, 1024), ("base", 768, 12, 12, 3072), ("large", 1024, 24, 16, 4096)],
)
def test_model_sizes(size, hidden, layers, heads, inner):
    c = get_bert_config(size, 30522)
    assert (c.hidden_size, c.num_hidden_layers, c.num_attention_heads, c.intermediate_size) == (
        hidden, layers, heads, inner,
    )
    assert (c.hidden_act, c.max_position_embeddings, c.type_vocab_size) == ("gelu", 512, 2)
    assert (c.hidden_dropout_prob, c.attention_probs_dropout_prob, c.initializer_range) == (
        0.1, 0.1, 0.02,
    )


def test_overrides_rederive_heads_and_inner_unless_given():
    c = get_bert_config("small", 99, {"hidden_size": 512})
    assert (c.num_attention_heads, c.intermediate_size) == (8, 2048)
    c = get_bert_config("small", 99, {"hidden_size": 512, "num_attention_heads": 2})
    assert (c.num_attention_heads, c.intermediate_size) == (2, 2048)
    with pytest.raises(HparamError, match="Did you mean 'hidden_size'"):
        get_bert_config("small", 99, {"hiden_size": 512})


@pytest.mark.parametrize(
    "hparams, hidden, heads, inner, layers",
    [
        ({}, 64, 1, 256, 12),  # paper small: 1/4
        ({"generator_hidden_size": 1.0}, 256, 4, 1024, 12),  # released small
        ({"model_size": "base", "generator_hidden_size": 0.33333}, 256, 4, 1024, 12),
        ({"model_size": "large"}, 256, 4, 1024, 24),
        ({"generator_layers": 0.5}, 64, 1, 256, 6),
        ({"debug": True}, 36, 1, 144, 3),
    ],
)
def test_generator_derivation(hparams, hidden, heads, inner, layers):
    g = pretraining(**hparams).generator_config()
    assert (g.hidden_size, g.num_attention_heads, g.intermediate_size, g.num_hidden_layers) == (
        hidden, heads, inner, layers,
    )


def test_generator_rounding_is_half_to_even():
    disc = ModelConfig(vocab_size=10, hidden_size=10, num_attention_heads=1, num_hidden_layers=5)
    g = get_generator_config(disc, 0.25, 0.5)  # 2.5 -> 2, 2.5 -> 2
    assert (g.hidden_size, g.num_hidden_layers) == (2, 2)


def test_pretraining_defaults_and_paths():
    c = pretraining()
    assert c.embedding_size == 128 and c.max_predictions_per_seq == 19
    assert (c.learning_rate, c.disc_weight, c.num_warmup_steps, c.train_batch_size) == (
        5e-4, 50.0, 10000, 128,
    )
    assert c.pretrain_tfrecords == "/data/pretrain_tfrecords/pretrain_data.tfrecord*"
    assert c.vocab_file == "/data/vocab.txt"
    assert c.model_dir == "/data/models/m"
    assert c.results_txt == "/data/models/m/results/unsup_results.txt"
    # base alone keeps the small-model hparams (the original's block is
    # commented out) and has no projection: embedding = hidden.
    b = pretraining(model_size="base")
    assert (b.learning_rate, b.train_batch_size, b.embedding_size) == (5e-4, 128, None)
    assert b.disc_config().embedding_width == 768


@pytest.mark.parametrize(
    "mask_prob, length, expected", [(0.15, 128, 19), (0.15, 512, 79), (0.25, 512, 130), (0.25, 128, 32)]
)
def test_max_predictions_per_seq(mask_prob, length, expected):
    assert pretraining(mask_prob=mask_prob, max_seq_length=length).max_predictions_per_seq == expected


def test_override_order_debug_size_and_user_values():
    c = pretraining(debug=True)
    assert (c.train_batch_size, c.num_train_steps, c.eval_batch_size, c.num_eval_steps) == (8, 20, 4, 2)
    d = c.disc_config()
    assert (d.num_hidden_layers, d.hidden_size, d.intermediate_size, d.num_attention_heads) == (
        3, 144, 576, 4,
    )
    assert d.embedding_width == 128
    # User values beat debug and size defaults (applied again last).
    c = pretraining(debug=True, train_batch_size=16, embedding_size=64)
    assert (c.train_batch_size, c.embedding_size) == (16, 64)
    assert pretraining(electric_objective=True).two_tower_generator is True
    assert pretraining(max_predictions_per_seq=7).max_predictions_per_seq == 7


def test_unknown_and_invalid_hparams_are_named():
    with pytest.raises(HparamError, match="Unknown hparam 'learning_rat'.*Did you mean 'learning_rate'"):
        pretraining(learning_rat=1e-3)
    with pytest.raises(HparamError, match="Exactly one of do_train or do_eval"):
        pretraining(do_eval=True)
    with pytest.raises(HparamError, match="model_size = 'medium' is not accepted; use one of small"):
        pretraining(model_size="medium")
    with pytest.raises(HparamError, match="not a multiple of num_attention_heads"):
        pretraining(model_hparam_overrides={"hidden_size": 100, "num_attention_heads": 3})
    with pytest.raises(HparamError, match="mixed_precision = 'float16' is not accepted; use one of float32"):
        pretraining(mixed_precision="float16")
    with pytest.raises(HparamError, match="mixed_precision = 'bf16'"):
        finetuning(mixed_precision="bf16")


def test_load_hparams_json_string_path_and_errors(tmp_path):
    assert load_hparams('{"debug": true}') == {"debug": True}
    path = tmp_path / "h.json"
    path.write_text('{"model_size": "base"}')
    assert load_hparams(str(path)) == {"model_size": "base"}
    with pytest.raises(HparamError, match="not valid JSON"):
        load_hparams('{"debug": tru}')
    with pytest.raises(HparamError, match="must be a JSON object"):
        load_hparams("[1, 2]")
    for missing in ("missing.json", "missing"):
        with pytest.raises(MissingInputError, match=f"'.*{missing}' does not exist"):
            load_hparams(str(tmp_path / missing))
    bad = tmp_path / "bad.json"
    bad.write_text("{oops")
    with pytest.raises(HparamError, match="bad.json is not valid JSON"):
        load_hparams(str(bad))


def test_json_round_trip_and_original_bert_config(tmp_path):
    c = pretraining(debug=True, generator_hidden_size=1.0)
    path = str(tmp_path / "c.json")
    c.to_json(path)
    assert PretrainingConfig.from_json(path) == c
    bert = tmp_path / "bert_config.json"
    bert.write_text(json.dumps({
        "attention_probs_dropout_prob": 0.1, "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1, "hidden_size": 256, "initializer_range": 0.02,
        "intermediate_size": 1024, "max_position_embeddings": 512,
        "num_attention_heads": 4, "num_hidden_layers": 12, "type_vocab_size": 2,
        "vocab_size": 30522,
    }))
    m = ModelConfig.from_json(str(bert))
    assert (m.hidden_size, m.embedding_width) == (256, 256)
    with pytest.raises(HparamError, match="Unknown hparam 'hidden'"):
        ModelConfig.from_dict({"vocab_size": 5, "hidden": 3})


@pytest.mark.parametrize(
    "tasks, length, epochs",
    [
        (["rte"], 128, 10.0), (["sts"], 128, 10.0), (["mnli"], 128, 3.0),
        (["squad"], 512, 2.0), (["squadv1"], 512, 2.0), (["triviaqa"], 512, 2.0),
        (["naturalqs"], 128, 3.0),  # quirk kept: no "qa" in the name
        (["chunk"], 256, 3.0), (["rte", "sts"], 128, 3.0),
    ],
)
def test_finetuning_task_defaults(tasks, length, epochs):
    c = finetuning(task_names=tasks)
    assert (c.max_seq_length, c.num_train_epochs) == (length, epochs)


def test_finetuning_sizes_debug_and_paths():
    c = finetuning(task_names=["rte", "sts"])
    assert (c.learning_rate, c.layerwise_lr_decay, c.embedding_size) == (1e-4, 0.8, 128)
    assert c.model_dir == "/data/models/m/finetuning_models/rte,sts_model"
    assert c.trial_model_dir(2).endswith("rte,sts_model_2")
    assert c.results_txt == "/data/models/m/results/rte,sts_results.txt"
    assert c.init_checkpoint == "/data/models/m"
    assert c.raw_data_dir("rte") == "/data/finetuning_data/rte"
    assert c.qa_preds_file("squad") == "/data/models/m/results/rte,sts_qa/squad_preds.json"
    assert c.test_predictions("rte", "test", 1).endswith("test_predictions/rte_test_1_predictions.pkl")
    large = finetuning(model_size="large", task_names=["rte"])
    assert (large.learning_rate, large.layerwise_lr_decay, large.embedding_size) == (5e-5, 0.9, None)
    d = finetuning(debug=True, task_names=["rte"])
    assert (d.num_train_epochs, d.train_batch_size, d.use_tfrecords_if_existing) == (3.0, 32, False)
    assert d.init_checkpoint is None and d.preprocessed_data_dir.endswith("rte_tfrecords-debug")
    assert finetuning(task_names=["rte"], num_train_epochs=1.0).num_train_epochs == 1.0
    with pytest.raises(HparamError, match=r"max_seq_length = 1024 is not accepted; use a number in \[3, 512\]"):
        finetuning(max_seq_length=1024)
    with pytest.raises(HparamError, match="task_names must be a non-empty list"):
        finetuning(task_names=[])


@pytest.mark.parametrize(
    "build, key, value, expected",
    [
        (pretraining, "learning_rate", -1, "learning_rate = -1 is not accepted; use a number > 0"),
        (pretraining, "disc_weight", -50.0, "disc_weight = -50.0 is not accepted; use a number >= 0"),
        (pretraining, "num_train_steps", -5, "num_train_steps = -5 is not accepted; use a number >= 1"),
        (pretraining, "save_checkpoints_steps", 0, "save_checkpoints_steps = 0 is not accepted; use a number >= 1"),
        (pretraining, "mask_prob", 1.5, r"mask_prob = 1.5 is not accepted; use a number in \(0, 1\)"),
        (pretraining, "train_batch_size", "big", "train_batch_size = 'big' is a str; use an integer"),
        (pretraining, "learning_rate", "1e-3", "learning_rate = '1e-3' is a str; use a number"),
        (pretraining, "num_train_steps", "20", "num_train_steps = '20' is a str; use an integer"),
        (pretraining, "num_train_steps", 2.5, "num_train_steps = 2.5 is a float; use an integer"),
        (pretraining, "debug", "true", "debug = 'true' is a str; use true or false"),
        (pretraining, "do_lower_case", 1, "do_lower_case = 1 is a int; use true or false"),
        (pretraining, "vocab_file", 3, "vocab_file = 3 is a int; use a string or null"),
        (pretraining, "model_hparam_overrides", [], r"model_hparam_overrides = \[\] is a list; use a dict"),
        (pretraining, "embedding_size", 0, "embedding_size = 0 is not accepted; use a number >= 1"),
        (finetuning, "warmup_proportion", 1.1, r"warmup_proportion = 1.1 is not accepted; use a number in \[0, 1\]"),
        (finetuning, "num_train_epochs", 0, "num_train_epochs = 0 is not accepted; use a number > 0"),
        (finetuning, "num_trials", 0, r"num_trials = 0 is not accepted; use a number -1 \(run until stopped\) or >= 1"),
        (finetuning, "task_names", "rte", "task_names = 'rte' is a str; use a list"),
        (finetuning, "layerwise_lr_decay", "0.8", "layerwise_lr_decay = '0.8' is a str"),
        (finetuning, "distribution_strategy", "gpu", "distribution_strategy = 'gpu' is not accepted; use one of auto"),
    ],
)
def test_values_outside_their_type_or_range_name_key_value_and_domain(
    build, key, value, expected
):
    with pytest.raises(ConfigError, match=expected):
        build(**{key: value})


@pytest.mark.parametrize(
    "overrides, expected",
    [
        ({"hidden_size": "big"}, "model_hparam_overrides.hidden_size = 'big' is a str; use an integer"),
        ({"hidden_dropout_prob": 1.0}, r"model_hparam_overrides.hidden_dropout_prob = 1.0 is not accepted; use a number in \[0, 1\)"),
        ({"num_hidden_layers": -2}, "model_hparam_overrides.num_hidden_layers = -2 is not accepted"),
        ({"hidden_act": "swish"}, "model_hparam_overrides.hidden_act = 'swish' is not accepted; use one of gelu"),
    ],
)
def test_model_overrides_are_checked_before_use(overrides, expected):
    with pytest.raises(ConfigError, match=expected):
        pretraining(model_hparam_overrides=overrides)
    with pytest.raises(ConfigError, match=r"ModelConfig.vocab_size = 0 is not accepted"):
        ModelConfig(vocab_size=0)


def test_valid_edge_values_are_accepted_unchanged():
    c = pretraining(learning_rate=1, gen_weight=0, keep_checkpoint_max=0, num_warmup_steps=0)
    assert (c.learning_rate, c.gen_weight, c.keep_checkpoint_max) == (1, 0, 0)
    f = finetuning(num_trials=-1, warmup_proportion=0.0, qa_na_threshold=-10, seed=7)
    assert (f.num_trials, f.warmup_proportion, f.qa_na_threshold) == (-1, 0.0, -10)


def test_vocab_size_below_the_vocab_file_is_refused(tmp_path):
    vocab = tmp_path / "vocab.txt"
    vocab.write_text("".join(f"t{i}\n" for i in range(40)))
    assert pretraining(vocab_file=str(vocab), vocab_size=40).vocab_size == 40
    with pytest.raises(ConfigError, match=r"vocab_size = 39 is smaller than the 40 tokens of .*vocab.txt"):
        pretraining(vocab_file=str(vocab), vocab_size=39)
    with pytest.raises(ConfigError, match="vocab_size = 10 is smaller than the 40 tokens"):
        finetuning(vocab_file=str(vocab), vocab_size=10)


def test_hparams_without_effect_are_named_in_a_warning(caplog):
    with caplog.at_level("WARNING", logger="electra_tf.config"):
        finetuning(predict_batch_size=8, iterations_per_loop=5, learning_rate=1e-3)
        pretraining(tpu_job_name="worker")
    assert [r.getMessage() for r in caplog.records] == [
        "hparam predict_batch_size has no effect here: predictions are batched by eval_batch_size.",
        "hparam iterations_per_loop has no effect here: fine-tuning runs one step per call.",
        "hparam tpu_job_name has no effect here: tf.distribute.TPUStrategy takes no job name.",
    ]


def test_range_choices_agree_with_the_code_that_uses_them():
    from electra_tf import config, hparam_ranges
    from electra_tf.layers import activations
    from electra_tf.training import distribution

    assert hparam_ranges.MODEL_SIZES == tuple(config.MODEL_SIZES)
    assert hparam_ranges.DISTRIBUTION_STRATEGIES == distribution.STRATEGIES
    assert set(hparam_ranges.ACTIVATIONS) == set(activations._ACTIVATIONS) | {"linear"}
    fields = set()
    for cls in (config.ModelConfig, config.PretrainingConfig, config.FinetuningConfig):
        fields |= set(hparam_ranges.field_types(cls))
    assert set(hparam_ranges.RANGES) <= fields  # no range for a missing key


def test_docstring_examples_run():
    import doctest

    from electra_tf import hparam_ranges
    from electra_tf.config import finetuning, hparams, model, paths, pretraining

    result = doctest.testmod(hparam_ranges, optionflags=doctest.ELLIPSIS)
    assert result.attempted >= 2 and result.failed == 0
    for module in (hparams, model, paths, pretraining, finetuning):
        result = doctest.testmod(module)
        assert result.attempted >= 1 and result.failed == 0, module.__name__
