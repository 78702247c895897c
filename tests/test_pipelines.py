"""Pipelines on tiny models trained in the test: fill-mask finds the
held-out token of a repetitive corpus, text-classification gives the
fine-tuned model's label and score, question answering returns the gold
span; on tiny random models, feature-extraction, replaced-token-detection
and token-classification give the Keras model's outputs; the CLI prints one
JSON line per input and fails clearly."""

import json
import os

import numpy as np
import pytest
import tensorflow as tf

import electra_tf
from electra_tf.config import PretrainingConfig
from electra_tf.errors import DataError
from electra_tf.finetuning import chunking, preprocessing
from electra_tf.models.pretrainer import ElectraPretrainer
from electra_tf.tokenization import special_ids
from electra_tf.tokenization import FullTokenizer

import serving_helpers
import test_finetuning_e2e as e2e
from bad_input import assert_clear_failure, run_cli

pytestmark = pytest.mark.slow

N_WORDS = 20
SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def _cycle(start, n):
    """Words w<start>, w<start+1>, ... (mod N_WORDS): the repetitive rule."""
    return [f"w{(start + i) % N_WORDS}" for i in range(n)]


@pytest.fixture(scope="module")
def generator_dir(tmp_path_factory):
    """A masked-LM generator trained 300 steps on cyclic word sequences."""
    keras_seed = 0
    tf.keras.utils.set_random_seed(keras_seed)
    data = tmp_path_factory.mktemp("gen")
    model_dir = data / "models" / "gen"
    model_dir.mkdir(parents=True)
    vocab = SPECIALS + [f"w{i}" for i in range(N_WORDS)]
    (model_dir / "vocab.txt").write_text("\n".join(vocab) + "\n")
    config = PretrainingConfig.from_hparams(
        "gen",
        str(data),
        {
            "vocab_size": len(vocab),
            "electra_objective": False,
            "model_hparam_overrides": {
                "hidden_size": 32,
                "num_hidden_layers": 1,
                "num_attention_heads": 2,
                "intermediate_size": 64,
                "max_position_embeddings": 16,
            },
            "embedding_size": 32,
            "max_seq_length": 12,
            "mask_prob": 0.25,
            "vocab_file": str(model_dir / "vocab.txt"),
        },
    )
    model = ElectraPretrainer(config, special_ids(config.vocab_file))
    ids = np.array(
        [
            [2] + [vocab.index(w) for w in _cycle(s, 10)] + [3]
            for s in range(N_WORDS)
        ]
        * 4,
        np.int32,
    )
    features = {
        "input_ids": ids,
        "input_mask": np.ones_like(ids),
        "segment_ids": np.zeros_like(ids),
    }
    optimizer = tf.keras.optimizers.Adam(3e-3)

    @tf.function
    def step(i):
        with tf.GradientTape() as tape:
            loss = model.compute_losses(features, i)["total_loss"]
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    losses = [float(step(tf.constant(i, tf.int64))) for i in range(300)]
    assert np.mean(losses[-20:]) < 0.3 * np.mean(losses[:20]), losses[::50]
    model.save_pretrained(str(model_dir), format="ours")
    return str(model_dir)


def test_fill_mask_predicts_the_held_out_token(generator_dir):
    fill = electra_tf.pipeline("fill-mask", generator_dir)
    words = _cycle(7, 8)
    held_out = words[4]
    text = " ".join(words[:4] + ["[MASK]"] + words[5:])
    result = fill(text)
    assert result["truncated"] is False
    best = result["predictions"][0][0]
    assert best["token_str"] == held_out and best["score"] > 0.5, result
    two = fill([text, "w3 [MASK] w5 [MASK] w7"])
    assert [p[0]["token_str"] for p in two[1]["predictions"]] == ["w4", "w6"]
    with pytest.raises(DataError, match="no \\[MASK\\]"):
        fill("w1 w2 w3")
    with pytest.raises(DataError, match="empty"):
        fill(["w1 [MASK]", ""])


# Two lengths in one batch (padding) and one text over the 32-token limit.
RANDOM_TEXTS = ["the cat sat on the mat .", "a dog ran", "word " * 40]


@pytest.fixture(scope="module")
def random_models(tmp_path_factory):
    """A tiny random pre-training run and a chunk tagger fine-tuned from it
    (serving_helpers): (pretrained dir, its model, tagger dir, its model,
    its config)."""
    data = tmp_path_factory.mktemp("random")
    model_dir, model = serving_helpers.pretrained_dir(data)
    tagger_dir, tagger, config = serving_helpers.finetuned_dir(data, ["chunk"])
    return model_dir, model, tagger_dir, tagger, config


def _ids(tok, text, max_len=32):
    """[CLS] text [SEP] as the original packs it, one unpadded row."""
    ids = tok.convert_tokens_to_ids(tok.tokenize(text))[: max_len - 2]
    ids = np.array([[101] + ids + [102]], np.int32)
    return {
        "input_ids": ids,
        "input_mask": np.ones_like(ids),
        "segment_ids": np.zeros_like(ids),
    }


def test_feature_extraction_is_the_encoder_output(random_models):
    model_dir, model, _, _, _ = random_models
    extract = electra_tf.pipeline("feature-extraction", model_dir, batch_size=2)
    results = extract(RANDOM_TEXTS)
    tok = FullTokenizer(os.path.join(model_dir, "vocab.txt"))
    assert [r["truncated"] for r in results] == [False, False, True]
    for text, result in zip(RANDOM_TEXTS, results):
        features = _ids(tok, text)
        tokens = tok.convert_ids_to_tokens(features["input_ids"][0].tolist())
        assert result["tokens"] == tokens
        expected = model.discriminator(features)
        np.testing.assert_allclose(
            result["sequence_output"],
            expected["sequence_output"][0],
            atol=1e-5,
        )
        np.testing.assert_allclose(
            result["pooled_output"], expected["pooled_output"][0], atol=1e-5
        )
    assert len(results[2]["tokens"]) == 32


def test_replaced_token_detection_is_sigmoid_of_the_logits(random_models):
    model_dir, model, _, _, _ = random_models
    detect = electra_tf.pipeline(
        "replaced-token-detection", model_dir, batch_size=2
    )
    results = detect(RANDOM_TEXTS)
    tok = FullTokenizer(os.path.join(model_dir, "vocab.txt"))
    assert [r["truncated"] for r in results] == [False, False, True]
    for text, result in zip(RANDOM_TEXTS, results):
        features = _ids(tok, text)
        logits = model.discriminator_outputs(features)["logits"][0]
        np.testing.assert_allclose(
            result["replaced_probability"], tf.sigmoid(logits), atol=1e-5
        )
        assert len(result["tokens"]) == features["input_ids"].shape[1]
    single = detect(RANDOM_TEXTS[1])  # one string, one result
    assert single["tokens"] == results[1]["tokens"]
    np.testing.assert_allclose(
        single["replaced_probability"],
        results[1]["replaced_probability"],
        atol=1e-5,
    )


def test_token_classification_is_the_argmax_of_the_tagging_head(
    random_models,
):
    _, _, tagger_dir, tagger, config = random_models
    tag = electra_tf.pipeline("token-classification", tagger_dir)
    texts = ["The cat sat on the mat .", "Stocks rose sharply in early trading"]
    results = tag(texts + [RANDOM_TEXTS[2]])
    assert [r["truncated"] for r in results] == [False, False, True]
    (chunk,) = preprocessing.get_tasks(config)
    seen = set()
    for text, result in zip(texts, results):
        words = text.split()
        assert result["words"] == words
        example = chunking.TaggingExample(
            0, "chunk", words, ["O"] * len(words), chunk.get_label_mapping()
        )
        feats = chunk.featurize(example, False)[0]
        width = int(np.sum(feats["input_mask"]))
        features = {
            k: np.array([feats[k][:width]], np.int32)
            for k in ("input_ids", "input_mask", "segment_ids")
        }
        positions = np.array(
            [feats["chunk_labeled_positions"][: len(words)]], np.int32
        )
        logits = tagger.chunk_head(
            tagger.encoder(features)["sequence_output"], positions
        )
        expected = [
            serving_helpers.CHUNK_TAGS[i] for i in logits[0].numpy().argmax(-1)
        ]
        assert result["tags"] == expected
        seen.update(expected)
    assert len(seen) > 1  # tags that differ by word test the alignment


@pytest.fixture(scope="module")
def finetuned(tmp_path_factory):
    """sst + squadv1 fine-tuned together from the original-format tiny
    checkpoint (the rules of tests/test_finetuning_e2e.py)."""
    data_dir = e2e._data_dir(tmp_path_factory.mktemp("ft"))
    e2e._sst(data_dir, np.random.default_rng(0))
    e2e._squad(data_dir, np.random.default_rng(3), "squadv1", v2=False)
    config, results = e2e._run(data_dir, ["sst", "squadv1"])
    assert results[0]["sst"]["accuracy"] >= 90.0, results
    hparams = dict(e2e.MODEL, max_seq_length=e2e.TRAIN["max_seq_length"])
    return config, config.trial_model_dir(1), hparams, data_dir


def test_text_classification_gives_the_models_label_and_score(finetuned):
    config, model_dir, hparams, _ = finetuned
    classify = electra_tf.pipeline(
        "text-classification", model_dir, hparams=hparams
    )
    texts = ["tok6 tok7 tok8 tok9 tok10", "tok51 tok52 tok53 tok54 tok55"]
    results = classify(texts)
    assert [r["label"] for r in results] == ["1", "0"]  # the data's rule
    # The score is the fine-tuned model's probability of that label.
    model = classify.endpoint.model
    tok = FullTokenizer(config.vocab_file)
    for text, result in zip(texts, results):
        ids = [2] + tok.convert_tokens_to_ids(tok.tokenize(text)) + [3]
        features = {"input_ids": np.array([ids], np.int32)}
        features["input_mask"] = np.ones_like(features["input_ids"])
        features["segment_ids"] = np.zeros_like(features["input_ids"])
        logits = model.sst_head(model.encoder(features)["pooled_output"])
        probs = tf.nn.softmax(logits)[0].numpy()
        assert result["label"] == str(probs.argmax())
        assert abs(result["score"] - probs.max()) < 1e-5


def test_question_answering_returns_the_gold_span(finetuned):
    _, model_dir, hparams, data_dir = finetuned
    answer = electra_tf.pipeline(
        "question-answering", model_dir, hparams=hparams
    )
    with open(data_dir / "finetuning_data" / "squadv1" / "dev.json") as f:
        paragraphs = json.load(f)["data"][0]["paragraphs"][:12]
    inputs = [
        {"question": p["qas"][0]["question"], "context": p["context"]}
        for p in paragraphs
    ]
    results = answer(inputs)
    gold = [p["qas"][0]["answers"][0] for p in paragraphs]
    right = [
        r["answer"] == g["text"] and r["start"] == g["answer_start"]
        for r, g in zip(results, gold)
    ]
    assert sum(right) >= 9, results  # chance: about 1 in 9 words
    for r, i in zip(results, inputs):
        assert i["context"][r["start"] : r["end"]] == r["answer"]
    # A passage longer than one window: doc stride, the same answer.
    filler = " ".join(f"tok{5 + i % 50}" for i in range(60))
    long = dict(inputs[0], context=filler + " " + inputs[0]["context"])
    result = answer(long)
    assert result["windows"] > 1 and result["answer"] == results[0]["answer"]
    assert result["start"] == len(filler) + 1 + results[0]["start"]


def test_cli_prints_json_lines(finetuned, generator_dir, tmp_path):
    _, model_dir, hparams, _ = finetuned
    hp = json.dumps(hparams)
    cases = [
        ("fill-mask", generator_dir, [], ["w1 w2 [MASK] w4", "w10 [MASK]"]),
        (
            "text-classification",
            model_dir,
            ["--hparams", hp],
            ["tok6 tok7 tok8", json.dumps({"text": "tok51 tok52"})],
        ),
        (
            "question-answering",
            model_dir,
            ["--hparams", hp],
            [
                json.dumps(
                    {"question": "tok61 tok62", "context": "tok7 tok85 tok9"}
                )
            ],
        ),
    ]
    for task, directory, extra, lines in cases:
        path = tmp_path / f"{task}.txt"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        result = run_cli(
            [
                "-m",
                "electra_tf.pipeline",
                task,
                "--model",
                directory,
                "--input",
                str(path),
                *extra,
            ]
        )
        assert result.returncode == 0, result.stderr[-3000:]
        rows = [json.loads(line) for line in result.stdout.splitlines()]
        assert len(rows) == len(lines), result.stdout
        assert all("truncated" in r for r in rows)
    assert rows[0]["answer"] == "tok85"


def test_cli_bad_input(finetuned, tmp_path):
    _, model_dir, hparams, _ = finetuned

    def fails(task, input_path, expect):
        assert_clear_failure(
            ["-m", "electra_tf.pipeline", task, "--model", model_dir,
             "--hparams", json.dumps(hparams), "--input", str(input_path)],
            expect,
        )

    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"fine line\nbroken \xff line\n")
    fails("fill-mask", tmp_path / "x", ["does not exist"])
    fails("text-classification", bad, ["line 2", "UTF-8"])
    good = tmp_path / "good.txt"
    good.write_text("w1 [MASK]\n")
    fails("fill-mask", good, ["needs a generator", "task:sst", "task:squadv1"])
