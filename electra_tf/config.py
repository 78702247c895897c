"""Configuration: the transformer config and the pre-training / fine-tuning hparams.

Port of model/modeling.py `BertConfig`, util/training_utils.py `get_bert_config`,
run_pretraining.py `get_generator_config`, configure_pretraining.py and
configure_finetuning.py, including the original order in which defaults, debug
values, per-size and per-task defaults and user hparams are applied.
Configs are frozen dataclasses; every unknown key is an error that names the
closest valid key, and every value is held against its type and range
(hparam_ranges.py) when a config is built.
"""

import dataclasses
import difflib
import json
import logging
import os
from typing import Optional

from electra_tf.errors import ConfigError
from electra_tf.errors import MissingInputError
from electra_tf.hparam_ranges import CLASS_RANGES
from electra_tf.hparam_ranges import check_values
from electra_tf.hparam_ranges import field_types

# Transformer shape per model size: (hidden_size, num_hidden_layers).
MODEL_SIZES = {"small": (256, 12), "base": (768, 12), "large": (1024, 24)}

logger = logging.getLogger(__name__)

# Hparams the original uses that have no effect here, and why.
IGNORED = {
    "PretrainingConfig": {
        "tpu_job_name": "tf.distribute.TPUStrategy takes no job name",
    },
    "FinetuningConfig": {
        "tpu_job_name": "tf.distribute.TPUStrategy takes no job name",
        "predict_batch_size": "predictions are batched by eval_batch_size",
        "iterations_per_loop": "fine-tuning runs one step per call",
    },
}

# Debug mode shrinks the discriminator to this (run_pretraining.py:
# `PretrainingModel.__init__`, run_finetuning.py: `FinetuningModel.__init__`).
DEBUG_MODEL = dict(
    num_hidden_layers=3,
    hidden_size=144,
    intermediate_size=576,
    num_attention_heads=4,
)


# A bad hyperparameter: an unknown key, a wrong value or malformed JSON
# (the name the runners import).
HparamError = ConfigError


def _field_names(cls):
    return [f.name for f in dataclasses.fields(cls)]


def check_keys(cls, keys, where="hparams"):
    """Raises HparamError naming the first key that `cls` does not have."""
    valid = _field_names(cls)
    for key in keys:
        if key not in valid:
            close = difflib.get_close_matches(key, valid, n=1, cutoff=0.5)
            hint = f" Did you mean '{close[0]}'?" if close else ""
            raise HparamError(
                f"Unknown hparam '{key}' in {where} for {cls.__name__}.{hint}"
                f" Valid keys: {', '.join(sorted(valid))}."
            )


def load_hparams(hparams):
    """Reads `--hparams`: a dict, a JSON string, or the path of a JSON file.

    Text that does not start with `{` or `[` is a path.
    """
    if hparams is None:
        return {}
    if isinstance(hparams, dict):
        return dict(hparams)
    text = str(hparams).strip()
    source = "--hparams"
    if text and not text.startswith(("{", "[")):
        if not os.path.isfile(text):
            raise MissingInputError(
                f"--hparams file '{text}' does not exist; pass a JSON dict "
                "or the path of an existing .json file."
            )
        with open(text, encoding="utf-8") as f:
            source, text = text, f.read()
    try:
        value = json.loads(text or "{}")
    except json.JSONDecodeError as e:
        raise HparamError(
            f"{source} is not valid JSON ({e}). Pass a JSON dict such as "
            '\'{"model_size": "small"}\' or a path ending in .json.'
        ) from None
    if not isinstance(value, dict):
        raise HparamError(
            f"{source} must be a JSON object (a dict of hparams), "
            f"got {type(value).__name__}."
        )
    return value


class _Config:
    """JSON round-trip and type/range checks of the config dataclasses."""

    # How messages name a field: "hparam key" or "ModelConfig.key".
    _where = "hparam "

    def __post_init__(self):
        cls = type(self)
        check_values(
            field_types(cls),
            self.to_dict(),
            where=self._where,
            ranges=CLASS_RANGES.get(cls.__name__),
        )

    def to_dict(self):
        return dataclasses.asdict(self)

    def to_json(self, path=None):
        text = json.dumps(self.to_dict(), indent=2, sort_keys=True)
        if path is not None:
            tmp = path + ".tmp"
            with open(tmp, "w", encoding="utf-8") as f:
                f.write(text + "\n")
            os.replace(tmp, path)
        return text

    @classmethod
    def from_dict(cls, values):
        check_keys(cls, values, where="config")
        return cls(**values)

    @classmethod
    def from_json(cls, path):
        with open(path, encoding="utf-8") as f:
            return cls.from_dict(load_hparams(f.read()))


@dataclasses.dataclass(frozen=True)
class ModelConfig(_Config):
    """The original `BertConfig` fields and defaults, plus `embedding_size`.

    `embedding_size` None means "same as hidden_size", as in the original.
    An original `bert_config.json` loads with `ModelConfig.from_json`.
    """

    vocab_size: int
    hidden_size: int = 768
    num_hidden_layers: int = 12
    num_attention_heads: int = 12
    intermediate_size: int = 3072
    hidden_act: str = "gelu"
    hidden_dropout_prob: float = 0.1
    attention_probs_dropout_prob: float = 0.1
    max_position_embeddings: int = 512
    type_vocab_size: int = 2
    initializer_range: float = 0.02
    embedding_size: Optional[int] = None

    _where = "ModelConfig."

    def __post_init__(self):
        super().__post_init__()
        if self.hidden_size % self.num_attention_heads:
            raise HparamError(
                f"hidden_size {self.hidden_size} is not a multiple of "
                f"num_attention_heads {self.num_attention_heads}."
            )

    @property
    def embedding_width(self):
        return self.embedding_size or self.hidden_size


def get_bert_config(
    model_size, vocab_size, overrides=None, embedding_size=None, debug=False
):
    """The discriminator config for a model size, as `get_bert_config` does.

    Heads and intermediate size are re-derived from the (possibly overridden)
    hidden size, then the overrides are applied again so explicit values win.
    """
    check_values({"model_size": str}, {"model_size": model_size})
    overrides = dict(overrides or {})
    check_keys(ModelConfig, overrides, where="model_hparam_overrides")
    check_values(
        field_types(ModelConfig), overrides, where="model_hparam_overrides."
    )
    hidden, layers = MODEL_SIZES[model_size]
    values = dict(hidden_size=hidden, num_hidden_layers=layers)
    values["vocab_size"] = vocab_size
    values.update(overrides)
    values["num_attention_heads"] = max(1, values["hidden_size"] // 64)
    values["intermediate_size"] = 4 * values["hidden_size"]
    values.update(overrides)
    if debug:
        values.update(DEBUG_MODEL)
    values.setdefault("embedding_size", embedding_size)
    return ModelConfig(**values)


def get_generator_config(disc_config, hidden_fraction, layers_fraction):
    """The generator config: a fraction of the discriminator's width/depth.

    Python's `round` (half to even) as in the original.
    """
    hidden = int(round(disc_config.hidden_size * hidden_fraction))
    return dataclasses.replace(
        disc_config,
        hidden_size=hidden,
        num_hidden_layers=int(
            round(disc_config.num_hidden_layers * layers_fraction)
        ),
        intermediate_size=4 * hidden,
        num_attention_heads=max(1, hidden // 64),
    )


def _check_vocab_size(config):
    """The vocab file's tokens must all have an id below `vocab_size`."""
    path = config.vocab_file
    if not path or not os.path.isfile(path):
        return
    with open(path, "rb") as f:
        n_tokens = sum(1 for _ in f)
    if config.vocab_size < n_tokens:
        raise HparamError(
            f"hparam vocab_size = {config.vocab_size} is smaller than the "
            f"{n_tokens} tokens of {path}; set vocab_size to at least "
            f"{n_tokens} or use the vocab file the model was built with."
        )


def _check_run_values(cls, hparams):
    """The user's hparams against their types and ranges, before any
    value is derived from them; a warning for each that has no effect."""
    check_keys(cls, hparams)
    check_values(
        field_types(cls), hparams, ranges=CLASS_RANGES.get(cls.__name__)
    )
    for key, why in IGNORED.get(cls.__name__, {}).items():
        if key in hparams:
            logger.warning("hparam %s has no effect here: %s.", key, why)


def _defaults(cls):
    values = {}
    for f in dataclasses.fields(cls):
        if f.default is not dataclasses.MISSING:
            values[f.name] = f.default
        elif f.default_factory is not dataclasses.MISSING:
            values[f.name] = f.default_factory()
    return values


@dataclasses.dataclass(frozen=True)
class _RunConfig(_Config):
    """Fields both run configs have: names, model shape, TPU, port additions."""

    model_name: str
    data_dir: str
    debug: bool = False
    # model settings
    model_size: str = "small"
    model_hparam_overrides: dict = dataclasses.field(default_factory=dict)
    embedding_size: Optional[int] = None
    vocab_size: int = 30522
    do_lower_case: bool = True
    # TPU settings
    use_tpu: bool = False
    num_tpu_cores: int = 1
    tpu_job_name: Optional[str] = None
    tpu_name: Optional[str] = None
    tpu_zone: Optional[str] = None
    gcp_project: Optional[str] = None
    # additions of this port (README, "Deviations")
    seed: int = 0
    distribution_strategy: str = "auto"
    mixed_precision: str = "float32"
    jit_compile: bool = False

    def disc_config(self):
        """The discriminator's transformer config (debug shrinks it)."""
        return get_bert_config(
            self.model_size,
            self.vocab_size,
            self.model_hparam_overrides,
            self.embedding_size,
            self.debug,
        )


@dataclasses.dataclass(frozen=True)
class PretrainingConfig(_RunConfig):
    """The original `PretrainingConfig` (configure_pretraining.py).

    Build it with `PretrainingConfig.from_hparams(model_name, data_dir, hparams)`
    so that the original override order applies; `from_json` reloads a saved
    config as is.
    """

    do_train: bool = True
    do_eval: bool = False
    # loss functions
    electra_objective: bool = True
    electric_objective: bool = False
    gen_weight: float = 1.0
    disc_weight: float = 50.0
    mask_prob: float = 0.15
    # optimization
    learning_rate: float = 5e-4
    lr_decay_power: float = 1.0
    weight_decay_rate: float = 0.01
    num_warmup_steps: int = 10000
    # training settings
    iterations_per_loop: int = 200
    save_checkpoints_steps: int = 1000
    num_train_steps: int = 1000000
    num_eval_steps: int = 100
    keep_checkpoint_max: int = 5
    # generator settings
    uniform_generator: bool = False
    two_tower_generator: bool = False
    untied_generator_embeddings: bool = False
    untied_generator: bool = True
    generator_layers: float = 1.0
    generator_hidden_size: float = 0.25
    disallow_correct: bool = False
    temperature: float = 1.0
    # batch sizes
    max_seq_length: int = 128
    max_predictions_per_seq: Optional[int] = None
    train_batch_size: int = 128
    eval_batch_size: int = 128
    # locations (derived from data_dir / model_name unless given)
    pretrain_tfrecords: Optional[str] = None
    vocab_file: Optional[str] = None
    model_dir: Optional[str] = None
    results_txt: Optional[str] = None
    results_pkl: Optional[str] = None
    # additions of this port (README, "Deviations")
    mask_without_replacement: bool = False
    write_original_checkpoint: bool = False
    init_checkpoint: Optional[str] = None

    @classmethod
    def from_hparams(cls, model_name, data_dir, hparams=None):
        hparams = load_hparams(hparams)
        _check_run_values(cls, hparams)
        # 1. defaults and paths derived from data_dir / model_name
        v = _defaults(cls)
        v.update(model_name=model_name, data_dir=data_dir)
        v["pretrain_tfrecords"] = os.path.join(
            data_dir, "pretrain_tfrecords", "pretrain_data.tfrecord*"
        )
        v["vocab_file"] = os.path.join(data_dir, "vocab.txt")
        v["model_dir"] = os.path.join(data_dir, "models", model_name)
        results_dir = os.path.join(v["model_dir"], "results")
        v["results_txt"] = os.path.join(results_dir, "unsup_results.txt")
        v["results_pkl"] = os.path.join(results_dir, "unsup_results.pkl")
        # 2. user hparams
        v.update(hparams)
        # 3. derived from the user's mask_prob and max_seq_length
        v["max_predictions_per_seq"] = int(
            (v["mask_prob"] + 0.005) * v["max_seq_length"]
        )
        # 4. debug mode
        if v["debug"]:
            v.update(
                train_batch_size=8,
                num_train_steps=20,
                eval_batch_size=4,
                iterations_per_loop=1,
                num_eval_steps=2,
            )
        # 5. model-size defaults (only small's is active in the original)
        if v["model_size"] == "small":
            v["embedding_size"] = 128
        # 6. Electric needs the two-tower generator
        if v["electric_objective"]:
            v["two_tower_generator"] = True
        # 7. user hparams again, so they beat debug and size defaults.
        # Deviation from reference: max_predictions_per_seq may be passed
        # (the original rejects it as unknown at step 2).
        v.update(hparams)
        config = cls(**v)
        config.validate()
        return config

    def validate(self):
        if self.do_train == self.do_eval:
            raise HparamError("Exactly one of do_train or do_eval must be True.")
        _check_vocab_size(self)
        self.disc_config()  # raises on bad overrides

    def generator_config(self):
        """The generator's transformer config (run_pretraining.py:
        `get_generator_config` and `PretrainingModel.__init__`)."""
        disc = self.disc_config()
        gen = get_generator_config(
            disc, self.generator_hidden_size, self.generator_layers
        )
        if self.untied_generator_embeddings:
            # Own embeddings as wide as the generator: no projection.
            gen = dataclasses.replace(gen, embedding_size=gen.hidden_size)
        return gen


# Tasks whose single-task defaults are those of question answering.
def _is_qa(task_name):
    return "squad" in task_name or "qa" in task_name


@dataclasses.dataclass(frozen=True)
class FinetuningConfig(_RunConfig):
    """The original `FinetuningConfig` (configure_finetuning.py).

    Build it with `FinetuningConfig.from_hparams(model_name, data_dir, hparams)`.
    """

    # general
    log_examples: bool = False
    num_trials: int = 1
    do_train: bool = True
    do_eval: bool = True
    keep_all_models: bool = True
    # tasks
    task_names: list = dataclasses.field(default_factory=lambda: ["chunk"])
    # optimization
    learning_rate: float = 1e-4
    weight_decay_rate: float = 0.01
    layerwise_lr_decay: float = 0.8
    num_train_epochs: float = 3.0
    warmup_proportion: float = 0.1
    save_checkpoints_steps: int = 1000000
    iterations_per_loop: int = 1000
    use_tfrecords_if_existing: bool = True
    # writing model outputs to disk
    write_test_outputs: bool = False
    n_writes_test: int = 5
    # sizing
    max_seq_length: int = 128
    train_batch_size: int = 32
    eval_batch_size: int = 32
    predict_batch_size: int = 32
    double_unordered: bool = True
    # QA
    max_query_length: int = 64
    doc_stride: int = 128
    n_best_size: int = 20
    max_answer_length: int = 30
    answerable_classifier: bool = True
    answerable_uses_start_logits: bool = True
    answerable_weight: float = 0.5
    joint_prediction: bool = True
    beam_size: int = 20
    qa_na_threshold: float = -2.75
    # locations (derived from data_dir / model_name / task_names unless given)
    vocab_file: Optional[str] = None
    init_checkpoint: Optional[str] = None
    model_dir: Optional[str] = None
    results_txt: Optional[str] = None
    results_pkl: Optional[str] = None
    preprocessed_data_dir: Optional[str] = None
    # additions of this port (README, "Deviations")
    layerwise_lr_decay_corrected: bool = False

    @classmethod
    def from_hparams(cls, model_name, data_dir, hparams=None):
        hparams = load_hparams(hparams)
        _check_run_values(cls, hparams)
        # 1. defaults and paths (using task_names from the hparams)
        v = _defaults(cls)
        v.update(model_name=model_name, data_dir=data_dir)
        task_names = hparams.get("task_names", v["task_names"])
        if isinstance(task_names, str) or not task_names:
            raise HparamError(
                "task_names must be a non-empty list of task names, "
                f"got {task_names!r}."
            )
        tasks = ",".join(task_names)
        pretrained_dir = os.path.join(data_dir, "models", model_name)
        model_vocab = os.path.join(pretrained_dir, "vocab.txt")
        v["vocab_file"] = (
            model_vocab
            if os.path.exists(model_vocab)
            else os.path.join(data_dir, "vocab.txt")
        )
        v["init_checkpoint"] = pretrained_dir
        v["model_dir"] = os.path.join(
            pretrained_dir, "finetuning_models", tasks + "_model"
        )
        results_dir = os.path.join(pretrained_dir, "results")
        v["results_txt"] = os.path.join(results_dir, tasks + "_results.txt")
        v["results_pkl"] = os.path.join(results_dir, tasks + "_results.pkl")
        v["preprocessed_data_dir"] = os.path.join(
            pretrained_dir, "finetuning_tfrecords", tasks + "_tfrecords"
        )
        # 2. user hparams
        v.update(hparams)
        # 3. single-task defaults
        if len(v["task_names"]) == 1:
            task = v["task_names"][0]
            if task in ("rte", "sts"):
                v["num_train_epochs"] = 10.0
            elif _is_qa(task):
                v.update(
                    max_seq_length=512,
                    num_train_epochs=2.0,
                    write_test_outputs=False,
                )
            elif task == "chunk":
                v["max_seq_length"] = 256
            else:
                v["num_train_epochs"] = 3.0
        # 4. model-size defaults
        if v["model_size"] == "large":
            v.update(learning_rate=5e-5, layerwise_lr_decay=0.9)
        elif v["model_size"] == "small":
            v["embedding_size"] = 128
        # 5. debug mode
        if v["debug"]:
            v.update(
                save_checkpoints_steps=1000000,
                use_tfrecords_if_existing=False,
                num_trials=1,
                iterations_per_loop=1,
                train_batch_size=32,
                num_train_epochs=3.0,
                log_examples=True,
            )
            # Deviation from reference: the original reads `debug` before
            # the hparams are applied, so debug mode never drops the
            # init checkpoint nor suffixes the tfrecord dir
            # (configure_finetuning.py: `FinetuningConfig.__init__`).
            v["init_checkpoint"] = None
            v["preprocessed_data_dir"] += "-debug"
        # 6. user hparams again
        v.update(hparams)
        config = cls(**v)
        config.validate()
        return config

    def validate(self):
        if not (self.do_train or self.do_eval):
            raise HparamError("At least one of do_train or do_eval must be True.")
        for name in self.task_names:
            if not isinstance(name, str):
                raise HparamError(
                    f"hparam task_names has {name!r}, a "
                    f"{type(name).__name__}; use a list of task name strings."
                )
        _check_vocab_size(self)
        self.disc_config()

    @property
    def tasks_string(self):
        return ",".join(self.task_names)

    def _pretrained_dir(self):
        return os.path.join(self.data_dir, "models", self.model_name)

    def raw_data_dir(self, task_name):
        return os.path.join(self.data_dir, "finetuning_data", task_name)

    def trial_model_dir(self, trial):
        return f"{self.model_dir}_{trial}"

    def _qa_file(self, task_name, kind):
        return os.path.join(
            self._pretrained_dir(),
            "results",
            self.tasks_string + "_qa",
            f"{task_name}_{kind}.json",
        )

    def qa_eval_file(self, task_name):
        return self._qa_file(task_name, "eval")

    def qa_preds_file(self, task_name):
        return self._qa_file(task_name, "preds")

    def qa_na_file(self, task_name):
        return self._qa_file(task_name, "null_odds")

    def test_predictions(self, task_name, split, trial):
        return os.path.join(
            self._pretrained_dir(),
            "test_predictions",
            f"{task_name}_{split}_{trial}_predictions.pkl",
        )
