"""SavedModel export: every kind reloads in a fresh process (tensorflow and
tensorflow_text only) and gives the Keras model's outputs through both
signatures; raw text is tokenized exactly as FullTokenizer; the CLIs fail
clearly on bad input."""

import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from electra_tf.errors import ConfigError, MissingInputError, OutputExistsError
from electra_tf.finetuning import chunking
from electra_tf.finetuning import squad
from electra_tf.serving import export as export_lib
from electra_tf.tokenization import FullTokenizer, default_vocab_file

import serving_helpers
from bad_input import assert_clear_failure
from helpers import SCRIPTS
from test_tokenization import HARD_CASES

pytestmark = pytest.mark.slow

MAX_LEN = 32
TEXTS = [HARD_CASES[n][0] for n in sorted(HARD_CASES)] + [
    "",
    "word " * 40,  # longer than the model's maximum: truncated, flagged
    b"caf\xc3\xa9 \xff\xfe bad bytes",  # invalid UTF-8 is dropped
]


@pytest.fixture(scope="module")
def tok():
    return FullTokenizer(default_vocab_file())


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory):
    data = tmp_path_factory.mktemp("data")
    model_dir, model = serving_helpers.pretrained_dir(data)
    out = tmp_path_factory.mktemp("exports")
    dirs = {}
    for kind in ("discriminator", "generator", "encoder"):
        dirs[kind] = str(out / kind)
        names = export_lib.export(model_dir, dirs[kind], kind)
        assert names == ["serving_default", "token_ids"]
    return model_dir, model, dirs


def _pack(tok, text, max_len=MAX_LEN):
    ids = tok.convert_tokens_to_ids(tok.tokenize(text))
    truncated = len(ids) > max_len - 2
    return [101] + ids[: max_len - 2] + [102], truncated


def _padded(rows):
    width = max(len(r) for r in rows)
    ids = np.array([r + [0] * (width - len(r)) for r in rows], np.int32)
    return ids, (ids > 0).astype(np.int32), np.zeros_like(ids)


def test_pretrained_kinds_reload_and_match_keras(pretrained, tok, tmp_path):
    model_dir, model, dirs = pretrained
    packed = [_pack(tok, t) for t in TEXTS]
    ids, mask, segments = _padded([p[0] for p in packed])
    id_inputs = {
        "input_ids": ids.tolist(),
        "input_mask": mask.tolist(),
        "segment_ids": segments.tolist(),
    }
    masked = ["the [MASK] sat on the mat .", "[MASK] is [MASK]"]
    requests = []
    for kind, directory in dirs.items():
        requests.append(
            (kind + "/text", directory, "serving_default", {"text": TEXTS})
        )
        requests.append((kind + "/ids", directory, "token_ids", id_inputs))
    requests.append(
        ("masked", dirs["generator"], "serving_default", {"text": masked})
    )
    out = serving_helpers.call_fresh(tmp_path, requests)

    # Raw text: FullTokenizer's ids, [CLS] a [SEP], the truncation flag.
    for kind in dirs:
        raw = out[kind + "/text"]
        np.testing.assert_array_equal(raw["input_ids"], ids)
        np.testing.assert_array_equal(raw["input_mask"], mask)
        assert raw["truncated"].tolist() == [p[1] for p in packed]
        assert raw["truncated"][-2] and not raw["truncated"][-3]
    features = {"input_ids": ids, "input_mask": mask, "segment_ids": segments}
    disc = tf.sigmoid(model.discriminator_outputs(features)["logits"]) * mask
    encoder = model.discriminator(features)
    for form in ("text", "ids"):
        np.testing.assert_allclose(
            out[f"discriminator/{form}"]["replaced_probability"],
            disc,
            atol=1e-5,
        )
        for key in ("sequence_output", "pooled_output"):
            np.testing.assert_allclose(
                out[f"encoder/{form}"][key], encoder[key], atol=1e-5
            )
        gen = out[f"generator/{form}"]
        positions = np.tile(np.arange(ids.shape[1]), [len(ids), 1])
        logits = model.generator_outputs(features, positions)["logits"]
        top = tf.math.top_k(tf.nn.softmax(logits), 5)
        np.testing.assert_allclose(gen["top_scores"], top.values, atol=1e-5)
    tokens = out["discriminator/text"]["tokens"][0]
    assert tokens[0] == b"[CLS]" and b"[SEP]" in tokens
    # A literal [MASK] is the mask token.
    gen = out["masked"]
    assert gen["is_masked"].sum(axis=1).tolist() == [1, 2]
    assert gen["input_ids"][1][:4].tolist() == [101, 103, 2003, 103]


def _python_tagging_features(task, words, max_len):
    example = chunking.TaggingExample(
        0, "chunk", words, ["O"] * len(words), task.get_label_mapping()
    )
    return task.featurize(example, False)[0]


def test_finetuned_tasks_reload_and_match_keras(tmp_path_factory, tmp_path):
    data = tmp_path_factory.mktemp("ft")
    serving_helpers.pretrained_dir(data)
    task_names = ["sst", "sts", "chunk", "squad"]
    model_dir, model, config = serving_helpers.finetuned_dir(data, task_names)
    export_dir = str(tmp_path / "export")
    names = export_lib.export(model_dir, export_dir)
    assert names == sorted(
        ["serving_default"]
        + task_names
        + [t + "_token_ids" for t in task_names]
    )
    _, _, tasks = export_lib.checkpoints.load_finetuned(model_dir)
    task = {t.name: t for t in tasks}
    sentences = ["the cat sat on the mat", "a dog ran", ""]
    pairs_b = ["it was big", "", "the red house"]
    tag_texts = ["The cat sat .", "word " * 40]
    question = ["who sat on the mat ?", "where is it"]
    context = ["John Smith sat on the mat in 1990 .", "Paris is in France ."]
    out = serving_helpers.call_fresh(
        tmp_path,
        [
            ("sst", export_dir, "sst", {"text": sentences}),
            ("default", export_dir, "serving_default", {"text": sentences}),
            (
                "sts",
                export_dir,
                "sts",
                {"text_a": sentences, "text_b": pairs_b},
            ),
            ("chunk", export_dir, "chunk", {"text": tag_texts}),
            (
                "squad",
                export_dir,
                "squad",
                {"question": question, "context": context},
            ),
        ],
    )
    # Classification and regression: the original featurisation, the model.
    for name, b in (("sst", None), ("sts", pairs_b)):
        rows = []
        for i, text in enumerate(sentences):
            example = type(
                "E",
                (),
                {
                    "text_a": text,
                    "eid": i,
                    "text_b": b[i] if b else None,
                    "label": "0" if name == "sst" else 0.0,
                },
            )
            rows.append(task[name].featurize(example, False)[0])
        ids = np.array([r["input_ids"] for r in rows], np.int32)
        width = out[name]["input_ids"].shape[1]
        np.testing.assert_array_equal(out[name]["input_ids"], ids[:, :width])
        features = {
            k: np.array([r[k] for r in rows], np.int32)[:, :width]
            for k in ("input_ids", "input_mask", "segment_ids")
        }
        np.testing.assert_array_equal(
            out[name]["segment_ids"], features["segment_ids"]
        )
        enc = model.encoder(features)
        head = getattr(model, f"{name}_head")(enc["pooled_output"])
        if name == "sst":
            probs = tf.nn.softmax(head).numpy()
            np.testing.assert_allclose(
                out[name]["probabilities"], probs, atol=1e-5
            )
            labels = [task["sst"].label_list[i] for i in probs.argmax(-1)]
            assert [x.decode() for x in out[name]["label_names"]] == labels
            np.testing.assert_allclose(
                out["default"]["probabilities"], probs, atol=1e-5
            )
        else:
            np.testing.assert_allclose(out[name]["score"], head, atol=1e-5)
    # Tagging: the original's word alignment and truncation.
    chunk = out["chunk"]
    assert chunk["truncated"].tolist() == [False, True]
    feats = _python_tagging_features(task["chunk"], tag_texts[0].split(), 32)
    n = len(tag_texts[0].split())
    width = chunk["input_ids"].shape[1]
    np.testing.assert_array_equal(
        chunk["input_ids"][0], feats["input_ids"][:width]
    )
    features = {
        k: np.array([feats[k][:width]], np.int32)
        for k in ("input_ids", "input_mask", "segment_ids")
    }
    logits = model.chunk_head(
        model.encoder(features)["sequence_output"],
        np.array([feats["chunk_labeled_positions"][:n]], np.int32),
    )
    expected = [
        serving_helpers.CHUNK_TAGS[i] for i in logits[0].numpy().argmax(-1)
    ]
    assert [t.decode() for t in chunk["tags"][0][:n]] == expected
    # QA: the original's first window; the answer is the passage's text.
    qa = out["squad"]
    for i in range(2):
        words, _ = squad._doc_tokens(context[i])
        example = squad.QAExample(
            "squad", i, str(i), str(i), question[i], words
        )
        feats = task["squad"].featurize(example, False)[0]
        width = int(np.sum(feats["input_mask"]))
        assert qa["input_ids"][i][:width].tolist() == feats["input_ids"][:width]
        start, end = qa["answer_start"][i], qa["answer_end"][i]
        assert qa["answer_text"][i].decode() == context[i][start:end]
        assert qa["answer_text"][i].decode() in context[i]
    assert np.all(np.isfinite(qa["null_score"]))


def test_saved_model_cli_show_and_run(pretrained):
    _, _, dirs = pretrained
    directory = dirs["discriminator"]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    show = subprocess.run(  # the installed CLI itself: show needs no ops
        ["saved_model_cli", "show", "--dir", directory, "--all"],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert show.returncode == 0, show.stderr[-2000:]
    for text in (
        "signature_def['serving_default']",
        "signature_def['token_ids']",
        "inputs['text']",
        "outputs['replaced_probability']",
        "DT_STRING",
    ):
        assert text in show.stdout, text
    run = subprocess.run(
        [
            sys.executable,
            # `run` executes the graph: the tensorflow-text ops are loaded.
            os.path.join(SCRIPTS, "saved_model_cli.py"),
            "run",
            "--dir",
            directory,
            "--tag_set",
            "serve",
            "--signature_def",
            "serving_default",
            "--input_exprs",
            "text=['the cat sat on the mat']",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert "replaced_probability" in run.stdout
    assert re.search(
        r"101\s+1996\s+4937\s+2938\s+2006\s+1996\s+13523\s+102", run.stdout
    ), run.stdout


def test_bad_input(pretrained, tmp_path):
    model_dir, _, dirs = pretrained
    cli = ["-m", "electra_tf.export", "--model-dir", model_dir, "--output"]
    assert_clear_failure(
        cli + [dirs["encoder"]],
        ["exists", "--overwrite"],
        keep=[dirs["encoder"]],
    )
    assert_clear_failure(
        cli + [str(tmp_path / "x"), "--kind", "task:sst"],
        ["holds discriminator, encoder, generator"],
    )
    assert not os.path.exists(tmp_path / "x")
    with pytest.raises(MissingInputError, match="does not exist"):
        export_lib.export(str(tmp_path / "nothing"), str(tmp_path / "y"))
    with pytest.raises(ConfigError, match="max-seq-length 65"):
        export_lib.export(model_dir, str(tmp_path / "y"), max_seq_length=65)
    with pytest.raises(OutputExistsError):
        export_lib.export(model_dir, dirs["encoder"], "encoder")
    no_vocab = tmp_path / "models" / "tiny"
    no_vocab.mkdir(parents=True)
    for name in os.listdir(model_dir):
        if name not in ("vocab.txt", "pretrain_config.json"):
            os.symlink(os.path.join(model_dir, name), no_vocab / name)
    with open(os.path.join(model_dir, "pretrain_config.json")) as f:
        saved = json.load(f)
    saved["vocab_file"] = str(tmp_path / "gone" / "vocab.txt")
    (no_vocab / "pretrain_config.json").write_text(json.dumps(saved))
    with pytest.raises(MissingInputError, match="vocab"):
        export_lib.export(str(no_vocab), str(tmp_path / "y"))
