"""The `mixed_precision` default "auto": mixed_bfloat16 on a CPU with AMX,
else float32, logged at run start, kept on resume; and (slow) a real
pre-training run whose losses and eval metrics in mixed_bfloat16 match
float32's within run-to-run noise."""

import json
import os

import keras
import pytest

import electra_tf.finetuning.runner
import electra_tf.pretraining.runner
from electra_tf.config import FinetuningConfig, PretrainingConfig
from electra_tf.errors import InputError
from electra_tf.pretraining.default_data import ensure_default_data
from electra_tf.training import distribution
from helpers import tiny_config
from pretraining_helpers import LEARNING_HPARAMS, make_data_dir

# Two processors of a Sapphire Rapids /proc/cpuinfo (flags shortened).
AMX_CPUINFO = (
    "processor\t: 0\nmodel name\t: Intel(R) Xeon(R) Platinum 8480+\n"
    "flags\t\t: fpu sse2 avx2 avx512f avx512_bf16 amx_bf16 amx_tile amx_int8\n"
    "\nprocessor\t: 1\n"
    "flags\t\t: fpu sse2 avx2 avx512f avx512_bf16 amx_bf16 amx_tile amx_int8\n"
)
# This machine's kind: bfloat16 vector instructions but no AMX.
EPYC_CPUINFO = (
    "processor\t: 0\nmodel name\t: AMD EPYC 9554\n"
    "flags\t\t: fpu sse2 avx2 avx512f avx512_bf16 amx_bf16_x\n"
)
NO_AMX = "auto: this CPU has no AMX bfloat16 matmuls"
AMX_LINE = (
    "mixed_precision: mixed_bfloat16 (auto: this CPU has AMX bfloat16 "
    'matmuls; set "mixed_precision": "float32" to opt out)'
)


def test_amx_is_read_from_the_cpu_flags():
    assert distribution.has_amx_bf16(AMX_CPUINFO) is True
    assert distribution.has_amx_bf16(EPYC_CPUINFO) is False
    assert distribution.has_amx_bf16("") is False
    # the name in another field is not a flag
    assert distribution.has_amx_bf16("model name\t: amx_bf16\n") is False


def test_auto_resolves_by_cpu_and_accelerators():
    resolve = distribution.resolve_precision
    assert resolve("auto", AMX_CPUINFO, accelerators=0) == (
        "mixed_bfloat16",
        "auto: this CPU has AMX bfloat16 matmuls",
    )
    assert resolve("auto", EPYC_CPUINFO, accelerators=0) == ("float32", NO_AMX)
    assert resolve("auto", AMX_CPUINFO, accelerators=1) == (
        "float32",
        "auto: a GPU or TPU is attached",
    )
    for name in ("float32", "mixed_bfloat16", "mixed_float16"):
        for cpuinfo in (AMX_CPUINFO, EPYC_CPUINFO):
            assert resolve(name, cpuinfo, 0) == (name, "set in the config")


def test_log_line():
    why = distribution.resolve_precision("auto", AMX_CPUINFO, 0)[1]
    assert distribution.precision_line("mixed_bfloat16", why) == AMX_LINE
    assert distribution.precision_line("float32", NO_AMX) == (
        "mixed_precision: float32 (auto: this CPU has no AMX bfloat16 matmuls)"
    )
    assert distribution.precision_line("float32", "set in the config") == (
        "mixed_precision: float32 (set in the config)"
    )


@pytest.mark.parametrize("cls", [PretrainingConfig, FinetuningConfig])
def test_config_default_is_auto_and_round_trips(tmp_path, cls):
    config = cls.from_hparams("m", str(tmp_path))
    assert config.mixed_precision == "auto"
    path = str(tmp_path / "config.json")
    config.to_json(path)
    assert json.load(open(path))["mixed_precision"] == "auto"
    assert cls.from_json(path) == config
    # a config written before "auto" existed records float32 and keeps it
    old = json.load(open(path))
    old["mixed_precision"] = "float32"
    json.dump(old, open(path, "w"))
    assert cls.from_json(path).mixed_precision == "float32"


def _run(config, lines):
    return electra_tf.pretraining.runner.run(config, log=lines.append)


def _recorded(config):
    path = os.path.join(config.model_dir, "pretrain_config.json")
    return json.load(open(path))["mixed_precision"]


def test_run_logs_and_records_the_choice_and_resume_keeps_it(
    tmp_path, monkeypatch
):
    make_data_dir(str(tmp_path), n_examples=16)
    monkeypatch.setattr(distribution, "has_amx_bf16", lambda cpuinfo=None: True)
    config = tiny_config(tmp_path, num_train_steps=2, save_checkpoints_steps=2)
    assert config.mixed_precision == "auto"
    lines = []
    _run(config, lines)
    assert AMX_LINE in lines
    assert (
        "  mixed_precision 'mixed_bfloat16'" in lines[lines.index(AMX_LINE) + 1]
    )
    assert _recorded(config) == "mixed_bfloat16"
    assert keras.mixed_precision.global_policy().name == "float32"  # restored
    # resumed on a machine without AMX: the run keeps its precision
    monkeypatch.setattr(
        distribution, "has_amx_bf16", lambda cpuinfo=None: False
    )
    lines = []
    _run(
        tiny_config(tmp_path, num_train_steps=4, save_checkpoints_steps=2),
        lines,
    )
    saved = os.path.join(config.model_dir, "pretrain_config.json")
    assert (
        "mixed_precision: mixed_bfloat16 (auto: the run in "
        f"{saved} started with it)"
    ) in lines
    assert _recorded(config) == "mixed_bfloat16"
    # an explicit value always wins
    monkeypatch.setattr(distribution, "has_amx_bf16", lambda cpuinfo=None: True)
    lines = []
    explicit = tiny_config(
        tmp_path, "explicit", num_train_steps=2, mixed_precision="float32"
    )
    _run(explicit, lines)
    assert "mixed_precision: float32 (set in the config)" in lines
    assert _recorded(explicit) == "float32"


# ----- slow: mixed_bfloat16 learns as float32 does ---------------------------

# Run-to-run noise: the largest difference between float32 runs of seeds
# 0, 1 and 2 of LEARNING_HPARAMS on the bundled corpus (measured
# 2026-12-02; the three values beside each), or a minimum of 0.01 (0.05 for
# the generator's loss) when that is larger. The last step's training
# losses are one batch each, the eval figures 8 batches.
NOISE_MEASURED = {
    "generator_loss": 0.4223,  # 6.1632, 6.2503, 6.5855
    "discriminator_loss": 0.0070,  # 0.2892, 0.2962, 0.2903
    "masked_lm_loss": 0.1013,  # 6.4657, 6.4560, 6.3644
    "masked_lm_accuracy": 0.0116,  # 0.0515, 0.0399, 0.0489
    "disc_loss": 0.0038,  # 0.2807, 0.2845, 0.2822
    "disc_auc": 0.0065,  # 0.8621, 0.8596, 0.8661
    "disc_accuracy": 0.0048,  # 0.8949, 0.8915, 0.8901
}
MINIMUM = {"generator_loss": 0.05}
TOLERANCE = {k: max(v, MINIMUM.get(k, 0.01)) for k, v in NOISE_MEASURED.items()}


def _quality_run(data_dir, precision, seed):
    hparams = dict(LEARNING_HPARAMS, mixed_precision=precision, seed=seed)
    name = f"{precision}_{seed}"
    train = PretrainingConfig.from_hparams(name, data_dir, hparams)
    scalars = electra_tf.pretraining.runner.run(train, log=[].append)
    evaluation = PretrainingConfig.from_hparams(
        name, data_dir, dict(hparams, do_train=False, do_eval=True)
    )
    results = electra_tf.pretraining.runner.run(evaluation, log=[].append)
    return {
        "generator_loss": scalars["generator_loss"],
        "discriminator_loss": scalars["discriminator_loss"],
        **{k: float(results[k]) for k in TOLERANCE if k in results},
    }


@pytest.mark.slow
def test_bfloat16_reaches_float32_losses_and_metrics(tmp_path):
    """Same seed, so both start from the same weights and batches: the only
    difference is the precision, and it must stay within the noise of
    changing the seed. At the start the generator's loss is ln(30522) =
    10.3 (near-zero logits at initializer_range 0.02), the discriminator's
    ln 2 = 0.69."""
    data_dir = ensure_default_data(str(tmp_path / "data"), show_progress=False)
    fp32 = _quality_run(data_dir, "float32", 0)
    bf16 = _quality_run(data_dir, "mixed_bfloat16", 0)
    print("float32", fp32, "\nmixed_bfloat16", bf16)
    for run in (fp32, bf16):
        assert run["masked_lm_loss"] < 10.3 - 3.0
        assert run["disc_loss"] < 0.69 - 0.3
        assert run["disc_auc"] > 0.8
    for key, tolerance in TOLERANCE.items():
        assert abs(bf16[key] - fp32[key]) <= tolerance, (key, fp32, bf16)


def test_finetuning_logs_the_choice_first(tmp_path, monkeypatch):
    """The line comes at run start, before the run reads its task data
    (missing here, so the run stops right after it)."""
    monkeypatch.setattr(distribution, "has_amx_bf16", lambda cpuinfo=None: True)
    config = FinetuningConfig.from_hparams(
        "tiny", str(tmp_path), {"task_names": ["sst"]}
    )
    lines = []
    with pytest.raises(InputError):
        electra_tf.finetuning.runner.run(config, log=lines.append)
    assert lines[0] == AMX_LINE
    assert json.loads(lines[1][len("Config: ") :])["mixed_precision"] == (
        "mixed_bfloat16"
    )
