"""What a pre-training run learned, at a glance (an addition of this port).

`summarize(config)` evaluates the run's latest checkpoint with the
original's metrics (runner.evaluate, which writes `results_txt`), prints
each metric beside a baseline computed from the same eval batches, and
shows a fill-mask and a replaced-token-detection example on a line of the
bundled corpus that no training record contains. run_pretraining.py calls
it at the end of a run on the bundled default data.
"""

import dataclasses
import json
import math
import os

import numpy as np
import tensorflow as tf

from electra_tf import checkpoints, tokenization
from electra_tf.pretraining import data, default_data, runner
from electra_tf.serving import pipelines

# A held-out line shares no run of NGRAM tokens with any training record.
NGRAM = 8
MIN_TOKENS, MAX_TOKENS = 12, 40
# Display order of the metrics.
ORDER = (
    "disc_auc",
    "disc_accuracy",
    "disc_precision",
    "disc_recall",
    "disc_loss",
    "masked_lm_accuracy",
    "masked_lm_loss",
    "sampled_masked_lm_accuracy",
    "loss",
)


def _entropy_loss(fake_fraction, p):
    """Sigmoid cross-entropy of the constant guess P(replaced) = p."""
    p = min(max(p, 1e-7), 1 - 1e-7)
    return -(
        fake_fraction * math.log(p) + (1 - fake_fraction) * math.log(1 - p)
    )


class Baselines:
    """Each eval metric's value for a model that ignores its input,
    computed from the eval batches (`update` as PretrainingMetrics).

    Args:
      config: the run's PretrainingConfig.
      inv_vocab: id -> token, to name the most frequent masked token.
    """

    def __init__(self, config, inv_vocab):
        self.config = config
        self.inv_vocab = inv_vocab
        self.masked_counts = np.zeros(config.vocab_size)
        self.batches = []  # (fake tokens, real tokens) per batch
        self.flagged = 0.0

    def update(self, outputs):
        np.add.at(
            self.masked_counts,
            outputs["masked_lm_ids"].ravel(),
            outputs["masked_lm_weights"].ravel(),
        )
        if "disc_labels" in outputs:
            mask = outputs["input_mask"]
            self.batches.append(
                (
                    float(np.sum(outputs["disc_labels"] * mask)),
                    float(np.sum(mask)),
                )
            )
            self.flagged += float(np.sum(outputs["disc_preds"] * mask))

    def result(self):
        """{metric: (baseline value, what it is)}."""
        c = self.config
        top = int(np.argmax(self.masked_counts))
        uniform = math.log(c.vocab_size)
        out = {
            "masked_lm_accuracy": (
                self.masked_counts[top] / max(self.masked_counts.sum(), 1),
                f'always "{self.inv_vocab[top]}"',
            ),
            "masked_lm_loss": (uniform, f"uniform over {c.vocab_size:,} ids"),
            "sampled_masked_lm_accuracy": (
                1 / c.vocab_size,
                "a uniform sample",
            ),
            "disc_auc": (0.5, "random scores"),
        }
        if not self.batches:
            out["loss"] = (c.gen_weight * uniform, "a uniform guess")
            return out
        fake = sum(f for f, _ in self.batches)
        real = sum(r for _, r in self.batches)
        p = fake / real
        out["disc_accuracy"] = (1 - p, 'always "original"')
        out["disc_precision"] = (p, "a random guess")
        out["disc_recall"] = (
            self.flagged / real,
            "a random guess flagging as often",
        )
        if not c.electric_objective:
            # As the metric, the mean over batches of each batch's loss.
            disc = float(
                np.mean([_entropy_loss(f / r, p) for f, r in self.batches])
            )
            out["disc_loss"] = (disc, f"constant P(replaced) = {p:.3f}")
            out["loss"] = (
                c.gen_weight * uniform + c.disc_weight * disc,
                "the two loss baselines, weighted",
            )
        return out


def metrics_table(results, baselines):
    """Lines `metric  run  baseline  (what the baseline is)`."""
    lines = [f"  {'metric':<28}{'run':>9}{'baseline':>10}"]
    for key in ORDER:
        if key not in results:
            continue
        value, what = baselines.get(key, (None, ""))
        base = f"{value:>10.4f}  {what}" if value is not None else ""
        lines.append(f"  {key:<28}{results[key]:>9.4f}{base}")
    return lines


def _record_ngrams(files, n):
    grams = set()
    for path in files:
        for record in tf.data.TFRecordDataset(path):
            example = tf.train.Example.FromString(record.numpy())
            ids = example.features.feature["input_ids"].int64_list.value
            grams.update(tuple(ids[i : i + n]) for i in range(len(ids) - n + 1))
    return grams


def held_out_line(config, tokenizer):
    """(file name, line): from the last corpus file the default data was
    built from, its first line of MIN_TOKENS..MAX_TOKENS tokens, none
    unknown, that shares no run of NGRAM tokens with a training record (the
    builder drops the overflow of full examples); None if there is none."""
    info = os.path.join(
        config.data_dir, "pretrain_tfrecords", default_data.INFO_FILE
    )
    with open(info) as f:
        corpus = json.load(f)["corpus"]
    grams = _record_ngrams(
        data.expand_file_patterns(config.pretrain_tfrecords), NGRAM
    )
    paths = {
        os.path.basename(p): p for p in default_data.bundled_corpus_files()
    }
    for name in reversed(corpus):
        with open(paths[name], encoding="utf-8") as f:
            for line in f:
                tokens = tokenizer.tokenize(line)
                ids = tokenizer.convert_tokens_to_ids(tokens)
                if (
                    MIN_TOKENS <= len(ids) <= MAX_TOKENS
                    and "[UNK]" not in tokens
                    and _hideable(_words(tokens), tokenizer.vocab)
                    and not any(
                        tuple(ids[i : i + NGRAM]) in grams
                        for i in range(len(ids) - NGRAM + 1)
                    )
                ):
                    return name, line.strip()
    return None


def _words(tokens):
    """Whole words from WordPiece tokens (`##` pieces joined)."""
    words = []
    for token in tokens:
        if token.startswith("##") and words:
            words[-1] += token[2:]
        else:
            words.append(token)
    return words


def _hideable(words, vocab):
    """Indices of the words that are one alphabetic token."""
    return [i for i, w in enumerate(words) if w.isalpha() and w in vocab]


def examples(model_dir, line, tokenizer, discriminator=True):
    """Fill-mask on `line` with its longest one-token word hidden, then
    (with a `discriminator`) replaced-token detection with that word
    swapped for the generator's best other guess. Returns what it shows."""
    words = _words(tokenizer.tokenize(line))
    i = max(_hideable(words, tokenizer.vocab), key=lambda j: len(words[j]))
    masked = " ".join(words[:i] + ["[MASK]"] + words[i + 1 :])
    fill = pipelines.pipeline("fill-mask", model_dir, top_k=5)
    guesses = fill(masked)["predictions"][0]
    shown = {"word": words[i], "masked": masked, "guesses": guesses}
    if not discriminator:
        return shown
    others = [g["token_str"] for g in guesses if g["token_str"] != words[i]]
    swap = next((w for w in others if w.isalpha()), others[0])
    swapped = words[:i] + [swap] + words[i + 1 :]
    detect = pipelines.pipeline("replaced-token-detection", model_dir)
    scored = detect(" ".join(swapped))
    return dict(
        shown,
        swap=swap,
        swapped=" ".join(swapped),
        position=1 + len(tokenizer.tokenize(" ".join(words[:i]))),
        tokens=scored["tokens"],
        replaced_probability=scored["replaced_probability"],
    )


def example_lines(example):
    """The examples as a few lines a newcomer reads at a glance."""
    guesses = ", ".join(
        f"{g['token_str']} {g['score']:.2f}" for g in example["guesses"]
    )
    lines = [
        f'  fill-mask: "{example["masked"]}"',
        f'    guesses: {guesses} (the word was "{example["word"]}")',
    ]
    if "swap" not in example:
        return lines
    probs = example["replaced_probability"]
    tokens = example["tokens"]
    p = example["position"]
    rest = [(probs[j], tokens[j]) for j in range(1, len(tokens) - 1) if j != p]
    top = max(rest)
    return lines + [
        f'  replaced-token detection, "{example["word"]}" swapped for '
        f'"{example["swap"]}": "{example["swapped"]}"',
        f'    P(replaced) of "{tokens[p]}" {probs[p]:.3f}; the other tokens: '
        f"mean {np.mean([r[0] for r in rest]):.3f}, highest {top[0]:.3f} "
        f'("{top[1]}")',
    ]


def summarize(config, log=print):
    """Evaluates the run at `config.model_dir` on its data and logs the
    metrics beside their baselines and the held-out examples; returns
    {"results", "baselines", "held_out", "example"}."""
    eval_config = dataclasses.replace(config, do_train=False, do_eval=True)
    tokenizer = tokenization.FullTokenizer(
        config.vocab_file, do_lower_case=config.do_lower_case
    )
    baselines = Baselines(config, tokenizer.inv_vocab)
    log(
        f"Evaluating on {config.num_eval_steps} batches of "
        f"{config.eval_batch_size} (the training data, as the original)..."
    )
    results = runner.run(
        eval_config, log=lambda line: None, observers=[baselines]
    )
    base = baselines.result()
    log(
        f"What the run learned (step {results['global_step']}; also in "
        f"{config.results_txt}):"
    )
    for line in metrics_table(results, base):
        log(line)
    kinds = checkpoints.describe(config.model_dir).kinds
    held_out = held_out_line(config, tokenizer)
    example = None
    if held_out is None:
        log("(No corpus line is absent from the training records.)")
    elif "generator" not in kinds:
        log("(The model has no generator to fill a masked word.)")
    else:
        log(
            f"A line of {held_out[0]} that no training record holds (no run "
            f"of {NGRAM} of its tokens):"
        )
        log(f"  {held_out[1]}")
        example = examples(
            config.model_dir,
            held_out[1],
            tokenizer,
            discriminator="discriminator" in kinds,
        )
        for line in example_lines(example):
            log(line)
    return {
        "results": results,
        "baselines": base,
        "held_out": held_out,
        "example": example,
    }
