"""train.amp: the choice, the old true/false, what each device resolves it to, and what a run records."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from gain_mtl.config import ConfigError, config_from_dict, load_config
from gain_mtl.train import trainer as trainer_module
from gain_mtl.train.trainer import Amp, Trainer, TrainError, cpu_bf16_feature

CPU = torch.device("cpu")


@pytest.mark.parametrize(("raw", "mode"), [(True, "auto"), (False, "off"), ("bf16", "bf16"), ("fp16", "fp16")])
def test_old_booleans_and_the_choices_load(raw, mode):
    assert config_from_dict({"train": {"amp": raw}}).train.amp == mode


def test_default_is_auto_and_a_bad_choice_names_the_key():
    assert load_config("default").train.amp == "auto"
    with pytest.raises(ConfigError, match=r"train\.amp' must be one of auto, bf16, fp16, off, got 'half'"):
        load_config("tiny", ["train.amp=half"])


def test_detection_agrees_with_the_processors_flags():
    cpuinfo = Path("/proc/cpuinfo")
    if not cpuinfo.is_file():
        pytest.skip("no /proc/cpuinfo to compare with")
    flags = set(next(line for line in cpuinfo.read_text().splitlines() if line.startswith("flags")).split())
    expected = "amx_bf16" if "amx_bf16" in flags else "avx512_bf16" if "avx512_bf16" in flags else None
    assert cpu_bf16_feature() == expected


@pytest.mark.parametrize(("feature", "mode", "dtype"), [("avx512_bf16", "bf16", torch.bfloat16), (None, "off", None)])
def test_auto_on_cpu_uses_bf16_only_where_the_cpu_has_it(monkeypatch, feature, mode, dtype):
    monkeypatch.setattr(trainer_module, "cpu_bf16_feature", lambda: feature)
    amp = Amp.for_device(CPU, "auto")
    assert (amp.mode, amp.dtype, amp.enabled, amp.scaler.is_enabled()) == (mode, dtype, dtype is not None, False)
    assert amp.description.startswith(f"amp: {mode}") and (feature or "no AMX or AVX-512 BF16") in amp.description


def test_cpu_refuses_fp16_and_says_when_bf16_is_emulated(monkeypatch):
    with pytest.raises(TrainError, match="train.amp=fp16 is CUDA only"):
        Amp.for_device(CPU, "fp16")
    monkeypatch.setattr(trainer_module, "cpu_bf16_feature", lambda: None)
    assert "emulated" in Amp.for_device(CPU, "bf16").description
    assert Amp.for_device(CPU, "off").description == "amp: off, float32 on cpu"


@pytest.fixture(scope="module")
def synth_root(tmp_path_factory):
    from gain_mtl.data.synth import synthesize

    return synthesize(tmp_path_factory.mktemp("synth") / "data", n_normal=8, n_defective=8, size=64, seed=3)


def test_run_records_the_precision_used_and_resumes_from_an_old_boolean(synth_root, tmp_path, capsys):
    run = tmp_path / "run"
    legacy = load_config("tiny", ["train.epochs=1", "train.amp=true", "train.device=cpu"])
    Trainer(legacy, synth_root, run, resume=False).fit()
    used = Amp.for_device(CPU, "auto")
    assert used.description in capsys.readouterr().out
    assert load_config(run / "config.yaml").train.amp == used.mode  # resolved, not "auto"
    for amp in ("off", "auto", "false"):  # another precision does not block the resumption
        resumed = Trainer(load_config("tiny", ["train.epochs=1", f"train.amp={amp}"]), synth_root, run, resume=True)
        assert resumed.config.train.amp in {"off", used.mode}
