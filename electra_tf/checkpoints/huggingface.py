"""Hugging Face ELECTRA and BERT model folders in and out.

Reads config.json, the weights (model.safetensors, a sharded
model.safetensors.index.json, or pytorch_model.bin when torch is installed)
and the tokenizer files, and writes them for transformers' ELECTRA classes.
Weights are keyed by the original TF1 variable names, which are our
variables' `.path`s; the name tables live in `hf_layout`. Tensors go through
the `safetensors` NumPy API, so torch is needed only for a `.bin`.
"""

import dataclasses
import json
import logging
import os
import pickle
import shutil
from typing import Optional

import numpy as np
import safetensors
from safetensors import numpy as safetensors_numpy

from electra_tf import tokenization
from electra_tf.checkpoints import hf_layout
from electra_tf.config import ModelConfig
from electra_tf.errors import CheckpointError, ConfigError

logger = logging.getLogger(__name__)

CONFIG_FILE = "config.json"
SAFETENSORS_FILE = "model.safetensors"
SAFETENSORS_INDEX_FILE = "model.safetensors.index.json"
TORCH_FILE = "pytorch_model.bin"
WEIGHTS_FILES = (SAFETENSORS_FILE, SAFETENSORS_INDEX_FILE, TORCH_FILE)
VOCAB_FILE = "vocab.txt"
TOKENIZER_CONFIG_FILE = "tokenizer_config.json"


@dataclasses.dataclass
class HFCheckpoint:
    """What a Hugging Face folder holds, in our terms.

    `model_config` describes the network whose weights the folder holds
    (for a generator folder: the generator, also in `generator_config`);
    `weights` maps original TF1 names to arrays in our layouts; `ignored`
    maps each HF tensor not loaded to the reason; `labels` are the tag
    names of a token-classification folder, in id order. `do_lower_case`
    and `strip_accents` are FullTokenizer's arguments.
    """

    model_type: str
    architectures: list
    role: str
    model_config: ModelConfig
    weights: dict
    ignored: dict
    vocab_file: Optional[str]
    do_lower_case: bool
    strip_accents: bool
    generator_config: Optional[ModelConfig] = None
    labels: Optional[list] = None


def is_hf_folder(path):
    """True when `path` is a folder with config.json and HF weights."""
    path = os.fspath(path)
    return os.path.isfile(os.path.join(path, CONFIG_FILE)) and any(
        os.path.isfile(os.path.join(path, name)) for name in WEIGHTS_FILES
    )


def _listing(items, limit=8):
    items = list(items)
    more = f" and {len(items) - limit} more" if len(items) > limit else ""
    return ", ".join(items[:limit]) + more


def _read_json(path):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        raise CheckpointError(
            f"Cannot read {path} ({e}); it must be a JSON file as "
            "transformers' save_pretrained writes it."
        ) from None


def _write_json(path, value):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(value, f, indent=2)
        f.write("\n")


def _load_torch(path):
    try:
        import torch
    except ImportError:
        raise CheckpointError(
            f"{path} is a PyTorch pickle and torch is not installed; run "
            "`pip install torch`, or convert the folder to model.safetensors "
            "where torch is installed (transformers' save_pretrained "
            "writes safetensors)."
        ) from None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (OSError, RuntimeError, EOFError, pickle.UnpicklingError) as e:
        raise CheckpointError(
            f"Cannot read {path} ({e}); it must be a state dict saved by "
            "torch.save, as transformers' save_pretrained writes it."
        ) from None
    return {
        k: (v.float() if v.is_floating_point() else v).numpy()
        for k, v in state.items()
    }


def _load_safetensors(path):
    try:
        return safetensors_numpy.load_file(path)
    except (OSError, ValueError, TypeError, safetensors.SafetensorError) as e:
        raise CheckpointError(
            f"Cannot read {path} ({e}); re-save it with transformers' "
            "save_pretrained in float32 or float16."
        ) from None


def load_tensors(folder):
    """{HF name: array} from model.safetensors, its sharded index or
    pytorch_model.bin, in that order of preference."""
    path = os.path.join(folder, SAFETENSORS_FILE)
    if os.path.isfile(path):
        return _load_safetensors(path)
    path = os.path.join(folder, SAFETENSORS_INDEX_FILE)
    if os.path.isfile(path):
        shards = sorted(set(_read_json(path).get("weight_map", {}).values()))
        if not shards:
            raise CheckpointError(
                f"{path} has no weight_map; re-save the model with "
                "transformers' save_pretrained."
            )
        tensors = {}
        for shard in shards:
            tensors.update(_load_safetensors(os.path.join(folder, shard)))
        return tensors
    return _load_torch(os.path.join(folder, TORCH_FILE))


def _check_vocab(vocab_file, vocab_size, where):
    lines = sum(1 for _ in tokenization.read_lines(vocab_file))
    if lines != vocab_size:
        raise CheckpointError(
            f"{vocab_file} has {lines} tokens but {where} has {vocab_size} "
            "word-embedding rows; use the vocab the model was trained with."
        )


def _convert(tensors, table, config_path):
    """{TF1 name: array} of the table's rows; every row must be present
    with the shape the config gives."""
    wrong = [
        f"{hf}: config says {list(shape[::-1] if transpose else shape)}, "
        f"file holds {list(tensors[hf].shape)}"
        for hf, _, shape, transpose in table
        if hf in tensors
        and (tensors[hf].T if transpose else tensors[hf]).shape != shape
    ]
    if wrong:
        raise CheckpointError(
            f"{config_path} does not match the weights: {_listing(wrong)}. "
            "Use the config.json the weights were saved with."
        )
    missing = [hf for hf, *_ in table if hf not in tensors]
    if missing:
        raise CheckpointError(
            f"The weights lack tensors that {config_path} asks for: "
            f"{_listing(missing)}. The weights are incomplete or the config "
            "is not theirs; use the config.json the weights were saved with."
        )
    weights = {}
    for hf, tf, _, transpose in table:
        array = np.ascontiguousarray(
            tensors[hf].T if transpose else tensors[hf]
        )
        weights[tf] = array.astype(np.float32, copy=False)
    return weights


def _ignored(tensors, table, base, path, role):
    """{HF name: reason} of the tensors outside the table; unknown ones are
    an error. Logs one notice per reason."""
    known = {row[0] for row in table}
    ignored, unknown = {}, []
    for name in sorted(set(tensors) - known):
        reason = hf_layout.ignore_reason(name, base)
        if reason is None:
            unknown.append(name)
        else:
            ignored[name] = reason
    if unknown:
        raise CheckpointError(
            f"{path} holds tensors that no ELECTRA {role} has: "
            f"{_listing(unknown)}. It is not an ELECTRA/BERT checkpoint of "
            "the original architecture."
        )
    for reason in sorted(set(ignored.values())):
        names = [n for n, r in ignored.items() if r == reason]
        logger.warning(
            "Not loaded from %s: %s (%s)", path, _listing(names), reason
        )
    return ignored


def read(path, task_name="tagging"):
    """Reads an HF ELECTRA or BERT folder; returns an `HFCheckpoint`.

    A token-classification head becomes `task_specific/<task_name>/dense`.
    Raises CheckpointError when the folder is not a known format, is of
    another model_type, or its config, weights and vocab disagree.
    """
    path = os.fspath(path)
    if not is_hf_folder(path):
        raise CheckpointError(
            f"{path} is not a Hugging Face model folder: looked for "
            f"{CONFIG_FILE} together with {SAFETENSORS_FILE}, "
            f"{SAFETENSORS_INDEX_FILE} or {TORCH_FILE}. Save the model with "
            "transformers' save_pretrained, or pass one of our or the "
            "original's checkpoints."
        )
    config_path = os.path.join(path, CONFIG_FILE)
    hf_config = _read_json(config_path)
    model_type = hf_config.get("model_type")
    if model_type not in hf_layout.HF_DEFAULTS:
        raise CheckpointError(
            f"{config_path} has model_type {model_type!r}; only 'electra' "
            "and 'bert' checkpoints load as ELECTRA. Use an ELECTRA or BERT "
            "model folder."
        )
    architectures = list(hf_config.get("architectures") or [])
    model_config = hf_layout.model_config_from_hf(
        hf_config, model_type, config_path
    )
    tensors = hf_layout.rename_legacy(load_tensors(path))
    role = hf_layout.role_of(tensors, architectures)
    hf_layout.check_generator_act(role, model_config, CheckpointError)
    labels = (
        hf_layout.labels_of(hf_config)
        if role == "token_classification"
        else None
    )
    base = hf_layout.base_prefix(tensors, model_type)
    table = hf_layout.name_table(
        role, model_config, base, len(labels or ()), task_name=task_name
    )
    weights = _convert(tensors, table, config_path)
    ignored = _ignored(tensors, table, base, path, role)
    vocab_file = os.path.join(path, VOCAB_FILE)
    if os.path.isfile(vocab_file):
        _check_vocab(vocab_file, model_config.vocab_size, config_path)
    else:
        vocab_file = None
    tok_path = os.path.join(path, TOKENIZER_CONFIG_FILE)
    tok = _read_json(tok_path) if os.path.isfile(tok_path) else {}
    do_lower_case = bool(tok.get("do_lower_case", True))
    return HFCheckpoint(
        model_type=model_type,
        architectures=architectures,
        role=role,
        model_config=model_config,
        weights=weights,
        ignored=ignored,
        vocab_file=vocab_file,
        do_lower_case=do_lower_case,
        strip_accents=_strip_accents(do_lower_case, tok, tok_path),
        generator_config=model_config if role == "generator" else None,
        labels=labels,
    )


def _strip_accents(do_lower_case, tokenizer_config, path):
    """FullTokenizer's `strip_accents` for an HF tokenizer_config.json.

    HF's None strips when lowercasing, as the original always does; HF's
    True without lowercasing has no equivalent in the original.
    """
    value = tokenizer_config.get("strip_accents")
    if value and not do_lower_case:
        logger.warning(
            "%s strips accents without lowercasing; FullTokenizer, as the "
            "original, strips them only when lowercasing.",
            path,
        )
    return value is not False


def _tagging_task(weights):
    tasks = sorted(
        {n.split("/")[1] for n in weights if n.startswith("task_specific/")}
    )
    if len(tasks) != 1:
        raise CheckpointError(
            f"A token-classification folder takes one tagging head "
            f"task_specific/<task>/dense; the weights have {tasks or 'none'}."
            " Pass the weights of one ElectraForTokenClassification model."
        )
    return tasks[0]


def write(
    folder,
    role,
    model_config,
    weights,
    vocab_file=None,
    do_lower_case=True,
    strip_accents=True,
    labels=None,
):
    """Writes an HF ELECTRA folder for `role` from {TF1 name: array}.

    Writes config.json, model.safetensors and, with `vocab_file`, vocab.txt
    and the tokenizer_config.json that ElectraTokenizerFast reads.
    `do_lower_case` and `strip_accents` are FullTokenizer's arguments.
    `weights` may hold more than the role needs (a whole pre-training
    checkpoint); `labels` (tag names in id order) are required for
    'token_classification'.
    """
    if role not in hf_layout.ARCHITECTURES:
        raise ConfigError(
            f"Unknown Hugging Face role {role!r}; use one of "
            f"{', '.join(hf_layout.ARCHITECTURES)}."
        )
    task_name = "tagging"
    if role == "token_classification":
        if not labels:
            raise ConfigError(
                "A token_classification folder needs `labels`, the tag "
                "names in id order (they become id2label)."
            )
        task_name = _tagging_task(weights)
    table = hf_layout.name_table(
        role, model_config, "electra.", len(labels or ()), task_name
    )
    problems = [tf + " missing" for _, tf, *_ in table if tf not in weights]
    problems += [
        f"{tf}: config says {list(shape)}, weights hold "
        f"{list(np.shape(weights[tf]))}"
        for _, tf, shape, _ in table
        if tf in weights and tuple(np.shape(weights[tf])) != shape
    ]
    if problems:
        raise CheckpointError(
            f"The weights do not make an ELECTRA {role} of this config: "
            f"{_listing(problems)}. Pass the config the weights were "
            "trained with."
        )
    config = hf_layout.config_json(role, model_config, labels)
    tensors = {}
    for hf, tf, _, transpose in table:
        array = np.asarray(weights[tf], dtype=np.float32)
        tensors[hf] = np.ascontiguousarray(array.T if transpose else array)
    if vocab_file is not None:
        _check_vocab(vocab_file, model_config.vocab_size, "the model")
    folder = os.fspath(folder)
    os.makedirs(folder, exist_ok=True)
    _write_json(os.path.join(folder, CONFIG_FILE), config)
    safetensors_numpy.save_file(
        tensors,
        os.path.join(folder, SAFETENSORS_FILE),
        metadata={"format": "pt"},
    )
    if vocab_file is not None:
        shutil.copyfile(vocab_file, os.path.join(folder, VOCAB_FILE))
        tokenizer_config = {
            "tokenizer_class": "ElectraTokenizer",
            "do_lower_case": bool(do_lower_case),
            # HF strips accents without lowercasing too; the original not.
            "strip_accents": bool(do_lower_case and strip_accents),
            "tokenize_chinese_chars": True,
            "model_max_length": model_config.max_position_embeddings,
            "unk_token": "[UNK]",
            "sep_token": "[SEP]",
            "pad_token": "[PAD]",
            "cls_token": "[CLS]",
            "mask_token": "[MASK]",
        }
        _write_json(
            os.path.join(folder, TOKENIZER_CONFIG_FILE), tokenizer_config
        )
