"""The closing summary of a run on the bundled data: the printed metrics
are the eval results written to results/unsup_results.txt, each baseline
is recomputed by hand from the eval batches, the example line is in no
training record, and its replaced-token probability is the model's."""

import collections
import glob
import json
import math
import os
import re

import numpy as np
import pytest
import tensorflow as tf

from electra_tf.checkpoints import load_pretraining_checkpoint
from electra_tf.config import PretrainingConfig
from electra_tf.pretraining import data
from electra_tf.pretraining.default_data import bundled_corpus_files
from electra_tf.tokenization import FullTokenizer

from bad_input import run_cli

pytestmark = pytest.mark.slow

HPARAMS = {
    "model_size": "small",
    "model_hparam_overrides": {
        "hidden_size": 32,
        "num_hidden_layers": 1,
        "num_attention_heads": 2,
        "intermediate_size": 64,
    },
    "embedding_size": 16,
    "generator_hidden_size": 0.5,
    "train_batch_size": 8,
    "eval_batch_size": 8,
    "num_train_steps": 10,
    "num_warmup_steps": 2,
    "save_checkpoints_steps": 10,
    "num_eval_steps": 3,
}
ROW = re.compile(r"^  (\w+) +(-?\d+\.\d{4})(?: +(-?\d+\.\d{4})  (.*))?$")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """run_pretraining.py on the bundled data (no --data-dir): its stdout
    and the run's config."""
    cache = tmp_path_factory.mktemp("cache")
    result = run_cli(
        [
            "run_pretraining.py",
            "--model-name",
            "tiny",
            "--hparams",
            json.dumps(HPARAMS),
        ],
        env={"ELECTRA_TF_CACHE": str(cache)},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    data_dir = os.path.join(str(cache), "default_data")
    config = PretrainingConfig.from_hparams("tiny", data_dir, HPARAMS)
    return result.stdout.splitlines(), config


def _by_hand(config):
    """The eval batches' figures, from the checkpoint and the eval data."""
    model = load_pretraining_checkpoint(config.model_dir)
    tf.keras.utils.set_random_seed(config.seed)  # tf.data shuffles with it
    iterator = iter(data.input_fn(config, False))
    masked = collections.Counter()
    batches, flagged = [], 0.0
    for step in range(config.num_eval_steps):
        out = model.compute_losses(next(iterator), step, training=False)
        out = {k: np.asarray(v) for k, v in out.items()}
        for i, w in zip(
            out["masked_lm_ids"].ravel(), out["masked_lm_weights"].ravel()
        ):
            masked[int(i)] += float(w)
        mask = out["input_mask"]
        batches.append((np.sum(out["disc_labels"] * mask), np.sum(mask)))
        flagged += np.sum(out["disc_preds"] * mask)
    p = sum(f for f, _ in batches) / sum(r for _, r in batches)

    def loss(q):
        return -(q * math.log(p) + (1 - q) * math.log(1 - p))

    disc_loss = np.mean([loss(f / r) for f, r in batches])
    top, count = masked.most_common(1)[0]
    uniform = math.log(config.vocab_size)
    return top, {
        "disc_auc": 0.5,
        "disc_accuracy": 1 - p,
        "disc_precision": p,
        "disc_recall": flagged / sum(r for _, r in batches),
        "disc_loss": disc_loss,
        "masked_lm_accuracy": count / sum(masked.values()),
        "masked_lm_loss": uniform,
        "sampled_masked_lm_accuracy": 1 / config.vocab_size,
        "loss": config.gen_weight * uniform + config.disc_weight * disc_loss,
    }


def test_metrics_are_the_eval_results_beside_their_baselines(run):
    lines, config = run
    start = next(i for i, l in enumerate(lines) if l.startswith("What the"))
    rows = {}
    for line in lines[start + 2 :]:
        match = ROW.match(line)
        if not match:
            break
        rows[match[1]] = match.groups()[1:]
    with open(config.results_txt) as f:
        written = dict(line.strip().split(" = ") for line in f if line.strip())
    written.pop("global_step")
    assert sorted(rows) == sorted(written), (lines, written)
    for key, (value, _, _) in rows.items():
        assert abs(float(value) - float(written[key])) <= 5e-5, key
    top, expected = _by_hand(config)
    for key, (_, baseline, what) in rows.items():
        assert abs(float(baseline) - expected[key]) <= 5e-5, (key, what)
    tok = FullTokenizer(config.vocab_file)
    assert rows["masked_lm_accuracy"][2] == f'always "{tok.inv_vocab[top]}"'
    assert rows["disc_accuracy"][2] == 'always "original"'


def test_example_is_held_out_and_scored_by_the_model(run):
    lines, config = run
    i = next(i for i, l in enumerate(lines) if "no training record" in l)
    name = re.match(r"A line of (\S+) ", lines[i])[1]
    line = lines[i + 1].strip()
    corpus = {os.path.basename(p): p for p in bundled_corpus_files()}
    with open(corpus[name], encoding="utf-8") as f:
        assert line in [x.strip() for x in f]
    # No run of 8 of its tokens in any record (checked on id strings).
    tok = FullTokenizer(config.vocab_file)
    ids = tok.convert_tokens_to_ids(tok.tokenize(line))
    records = []
    for path in glob.glob(config.pretrain_tfrecords):
        for r in tf.data.TFRecordDataset(path):
            example = tf.train.Example.FromString(r.numpy())
            values = example.features.feature["input_ids"].int64_list.value
            records.append(" " + " ".join(map(str, values)) + " ")
    assert len(records) > 3000
    for j in range(len(ids) - 7):
        run_of_8 = " " + " ".join(map(str, ids[j : j + 8])) + " "
        assert not any(run_of_8 in r for r in records), run_of_8
    # The swapped word's probability is sigmoid of the discriminator logit.
    detect = re.match(
        r'  replaced-token detection, "(\w+)" swapped for "(\S+)": "(.*)"$',
        lines[i + 4],
    )
    word, swap, swapped = detect.groups()
    words = swapped.split(" ")
    original = " ".join(tok.tokenize(line)).replace(" ##", "").split(" ")
    changed = [j for j, (a, b) in enumerate(zip(words, original)) if a != b]
    assert len(words) == len(original) and len(changed) == 1, changed
    assert (original[changed[0]], words[changed[0]]) == (word, swap)
    prob = re.match(r'    P\(replaced\) of "(\S+)" (\d\.\d{3});', lines[i + 5])
    assert prob[1] == swap
    position = 1 + len(tok.tokenize(" ".join(words[: changed[0]])))
    pieces = tok.tokenize(swapped)
    assert pieces[position - 1] == swap
    ids = np.array(
        [[101] + tok.convert_tokens_to_ids(pieces) + [102]], np.int32
    )
    features = {
        "input_ids": ids,
        "input_mask": np.ones_like(ids),
        "segment_ids": np.zeros_like(ids),
    }
    model = load_pretraining_checkpoint(config.model_dir)
    logits = model.discriminator_outputs(features)["logits"][0]
    expected = float(tf.sigmoid(logits[position]))
    assert abs(float(prob[2]) - expected) <= 5e-4, (prob[2], expected)
