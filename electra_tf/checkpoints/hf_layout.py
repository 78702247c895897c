"""The Hugging Face ELECTRA/BERT layout: names, shapes and config.json.

Ports the name mapping of transformers' models/electra/modeling_electra.py
`load_tf_weights_in_electra` (original TF1 names <-> `electra.*`,
`discriminator_predictions.*`, `generator_predictions.*`,
`generator_lm_head.*`) and the BERT layout of models/bert/modeling_bert.py
(`bert.` prefix or none, `embeddings.*`, `encoder.layer.N.*`), as total
name tables per role, and translates config.json to and from ModelConfig.
"""

import dataclasses

import numpy as np

from electra_tf.config import ModelConfig, get_bert_config
from electra_tf.errors import CheckpointError, ConfigError

# The transformers class of each role, written to `architectures`.
ARCHITECTURES = {
    "discriminator": "ElectraForPreTraining",
    "generator": "ElectraForMaskedLM",
    "encoder": "ElectraModel",
    "token_classification": "ElectraForTokenClassification",
}

# The defaults of transformers' ElectraConfig and BertConfig, used for keys
# a config.json leaves out (as transformers does when it reads one): the
# original's small and base sizes with BERT's vocabulary.
HF_DEFAULTS = {
    "electra": get_bert_config("small", 30522, embedding_size=128),
    "bert": get_bert_config("base", 30522),
}
# transformers' "gelu" is the exact erf form, as the original's.
ACTIVATIONS = ("gelu", "relu", "tanh")

_ORIGINAL_HEADS = (
    "differs from the original's task heads, so fine-tuning starts a new one"
)
# (HF name prefix, why it is not loaded); `{base}` is `electra.`/`bert.`/``.
IGNORED = (
    ("{base}embeddings.position_ids", "a buffer of position indices"),
    ("{base}embeddings.token_type_ids", "a buffer of zero token types"),
    (
        "{base}pooler.",
        "BERT's pooler (dense + tanh over [CLS]); ELECTRA has none: its "
        "pooled_output is the [CLS] vector",
    ),
    (
        "cls.predictions.",
        "BERT's masked-LM head; the encoder is what ELECTRA starts from",
    ),
    ("cls.seq_relationship.", "BERT's next-sentence head; ELECTRA has no NSP"),
    (
        "generator_lm_head.weight",
        "tied to the word embeddings, which the original shares",
    ),
    (
        "classifier.",
        "HF's sequence-classification / multiple-choice head (dense, gelu, "
        "out_proj over [CLS], or a dense on BERT's pooler) " + _ORIGINAL_HEADS,
    ),
    (
        "qa_outputs.",
        "HF's QA head (one dense to start/end logits; the original predicts "
        "the end jointly from a start beam and has an answerable "
        "classifier) " + _ORIGINAL_HEADS,
    ),
    ("sequence_summary.", "HF's multiple-choice summary " + _ORIGINAL_HEADS),
)


def rename_legacy(tensors):
    """Early BERT checkpoints name LayerNorm weights `gamma`/`beta`;
    transformers renames them to `weight`/`bias` when it loads, as here.

    >>> list(rename_legacy({"embeddings.LayerNorm.gamma": 1.0}))
    ['embeddings.LayerNorm.weight']
    """
    renamed = {}
    for name, value in tensors.items():
        if name.endswith(("LayerNorm.gamma", "LayerNorm.beta")):
            stem, _, leaf = name.rpartition(".")
            name = stem + (".weight" if leaf == "gamma" else ".bias")
        renamed[name] = value
    return renamed


def ignore_reason(name, base):
    """Why the HF tensor `name` is not loaded; None when it is unknown."""
    for prefix, reason in IGNORED:
        if name.startswith(prefix.format(base=base)):
            return reason
    return None


# One encoder layer, under `encoder.layer.N.`: (HF name, input, output
# size; input None for a LayerNorm). The TF1 name is the same path with "/".
_LAYER = (
    ("attention.self.query", "h", "h"),
    ("attention.self.key", "h", "h"),
    ("attention.self.value", "h", "h"),
    ("attention.output.dense", "h", "h"),
    ("attention.output.LayerNorm", None, "h"),
    ("intermediate.dense", "h", "i"),
    ("output.dense", "i", "h"),
    ("output.LayerNorm", None, "h"),
)
# Each role's head: (HF name, TF1 name, input, output size).
_HEADS = {
    "encoder": (),
    "discriminator": (
        ("discriminator_predictions.dense", "discriminator_predictions/dense",
         "h", "h"),
        ("discriminator_predictions.dense_prediction",
         "discriminator_predictions/dense_1", "h", 1),
    ),
    "generator": (
        ("generator_predictions.dense", "generator_predictions/dense",
         "h", "e"),
        ("generator_predictions.LayerNorm", "generator_predictions/LayerNorm",
         None, "e"),
    ),
    "token_classification": (
        ("classifier", "task_specific/{task}/dense", "h", "c"),
    ),
}  # fmt: skip


def _rows(hf, tf, n_in, n_out):
    if n_in is None:  # LayerNorm: weight/bias are the original's gamma/beta
        return [
            (hf + ".weight", tf + "/gamma", (n_out,), False),
            (hf + ".bias", tf + "/beta", (n_out,), False),
        ]
    # nn.Linear keeps [out, in]; the original's dense kernel is [in, out].
    return [
        (hf + ".weight", tf + "/kernel", (n_in, n_out), True),
        (hf + ".bias", tf + "/bias", (n_out,), False),
    ]


def name_table(role, cfg, base="electra.", num_labels=0, task_name="tagging"):
    """The total name table of a role: rows of (HF name, TF1 name, TF1
    shape, transpose). The generator's encoder is `generator/` and shares
    `electra/embeddings/`, as in the original's pre-training graph."""
    size = dict(
        e=cfg.embedding_width,
        h=cfg.hidden_size,
        i=cfg.intermediate_size,
        c=num_labels,
    )
    e, h = size["e"], size["h"]
    scope = "generator" if role == "generator" else "electra"
    emb_hf, emb_tf = base + "embeddings.", "electra/embeddings/"
    tables = (
        ("word_embeddings", cfg.vocab_size),
        ("token_type_embeddings", cfg.type_vocab_size),
        ("position_embeddings", cfg.max_position_embeddings),
    )
    rows = [
        (emb_hf + n + ".weight", emb_tf + n, (r, e), False) for n, r in tables
    ]
    rows += _rows(emb_hf + "LayerNorm", emb_tf + "LayerNorm", None, e)
    if e != h:
        rows += _rows(
            base + "embeddings_project", scope + "/embeddings_project", e, h
        )
    for k in range(cfg.num_hidden_layers):
        for name, n_in, n_out in _LAYER:
            rows += _rows(
                f"{base}encoder.layer.{k}.{name}",
                f"{scope}/encoder/layer_{k}/" + name.replace(".", "/"),
                size.get(n_in),
                size[n_out],
            )
    for hf, tf, n_in, n_out in _HEADS[role]:
        tf = tf.format(task=task_name)
        rows += _rows(hf, tf, size.get(n_in, n_in), size.get(n_out, n_out))
    if role == "generator":
        rows.append((
            "generator_lm_head.bias", "generator_predictions/output_bias",
            (cfg.vocab_size,), False,
        ))  # fmt: skip
    return rows


def model_config_from_hf(hf_config, model_type, path):
    """Our ModelConfig from an HF config.json, with transformers' defaults."""
    values = dataclasses.asdict(HF_DEFAULTS[model_type])
    values.update({k: hf_config[k] for k in values if k in hf_config})
    if model_type == "bert":
        values["embedding_size"] = values["hidden_size"]
    problems = []
    if values["hidden_act"] not in ACTIVATIONS:
        problems.append(
            f"hidden_act {values['hidden_act']!r} (supported: "
            f"{', '.join(ACTIVATIONS)}; gelu is the exact erf form)"
        )
    position_type = hf_config.get("position_embedding_type", "absolute")
    if position_type != "absolute":
        problems.append(f"position_embedding_type {position_type!r}")
    eps = hf_config.get("layer_norm_eps", 1e-12)
    if not np.isclose(eps, 1e-12, rtol=1e-3, atol=0):
        problems.append(f"layer_norm_eps {eps} (ours is the original's 1e-12)")
    if problems:
        raise CheckpointError(
            f"{path} asks for what ELECTRA does not have: "
            f"{'; '.join(problems)}. Only checkpoints of the original "
            "BERT/ELECTRA architecture load."
        )
    return ModelConfig(**values)


def role_of(names, architectures):
    """Which of our roles the HF tensor names (and architectures) hold."""
    if "discriminator_predictions.dense.weight" in names:
        return "discriminator"
    if "generator_predictions.dense.weight" in names:
        return "generator"
    if any(a.endswith("ForTokenClassification") for a in architectures):
        return "token_classification"
    return "encoder"


def base_prefix(names, model_type):
    """The prefix of the encoder's names: `electra.`, `bert.` or none."""
    for base in (model_type + ".", ""):
        if base + "embeddings.word_embeddings.weight" in names:
            return base
    raise CheckpointError(
        f"No {model_type}.embeddings.word_embeddings.weight (nor "
        "embeddings.word_embeddings.weight) in the weights: this is not a "
        f"{model_type} checkpoint. Point to a folder saved from a "
        f"transformers {model_type.upper()} model."
    )


def labels_of(hf_config):
    """The label names of config.json's `id2label`, in id order.

    >>> labels_of({"id2label": {"10": "O", "2": "B-NP", "0": "I-NP"}})
    ['I-NP', 'B-NP', 'O']
    """
    id2label = hf_config.get("id2label") or {}
    return [id2label[k] for k in sorted(id2label, key=int)]


def check_generator_act(role, cfg, error):
    """transformers' ElectraGeneratorPredictions always applies gelu; the
    original's MLM head applies `hidden_act`. Raises `error` if they differ."""
    if role == "generator" and cfg.hidden_act != "gelu":
        raise error(
            f"A generator with hidden_act {cfg.hidden_act!r}: transformers' "
            "ElectraForMaskedLM head always applies gelu, so its outputs "
            "would differ. Only gelu generators convert."
        )


def config_json(role, cfg, labels=None):
    """The config.json dict transformers reads for a role."""
    if cfg.hidden_act not in ACTIVATIONS:
        raise ConfigError(
            f"hidden_act {cfg.hidden_act!r} has no transformers equivalent; "
            f"use one of {', '.join(ACTIVATIONS)}."
        )
    check_generator_act(role, cfg, ConfigError)
    values = dataclasses.asdict(cfg)
    values.update(
        architectures=[ARCHITECTURES[role]],
        model_type="electra",
        embedding_size=cfg.embedding_width,
        layer_norm_eps=1e-12,
        position_embedding_type="absolute",
        pad_token_id=0,
        torch_dtype="float32",
    )
    if labels is not None:
        values["id2label"] = {str(i): name for i, name in enumerate(labels)}
        values["label2id"] = {name: i for i, name in enumerate(labels)}
    return dict(sorted(values.items()))
