"""Every bad input to `gainctl export` is refused with exit code 2 and a message that says the fix."""

from __future__ import annotations

import importlib.util
import json
import shutil

import pytest
import torch
from click.testing import CliRunner

from gain_mtl.cli import main

pytestmark = pytest.mark.slow


def _export(*args: str):
    return CliRunner().invoke(main, ["export", *args])


def _args(checkpoint, data, out, *extra):
    return ["--checkpoint", str(checkpoint), "--data", str(data), "--out", str(out), *extra]


def test_missing_checkpoint(tmp_path, export_data):
    result = _export(*_args(tmp_path / "nope.pt", export_data, tmp_path / "b"))
    assert result.exit_code == 2 and "nope.pt not found" in result.output


def test_incompatible_checkpoint(tmp_path, export_data):
    bad = tmp_path / "run" / "checkpoints" / "best.pt"
    bad.parent.mkdir(parents=True)
    torch.save({"format": "something-else/3", "model": {}}, bad)
    result = _export(*_args(bad, export_data, tmp_path / "b"))
    assert result.exit_code == 2 and "incompatible checkpoint" in result.output
    assert not (tmp_path / "b").exists()


@pytest.mark.parametrize("drop_label,missing", [(1, "no defective"), (0, "no normal")])
def test_validation_split_without_a_class(tmp_path, export_run, export_data, drop_label, missing):
    run = shutil.copytree(export_run, tmp_path / "run", ignore=shutil.ignore_patterns("tensorboard"))
    split = json.loads((run / "split.json").read_text())
    split["train"] += [e for e in split["val"] if e["label"] == drop_label]
    split["val"] = [e for e in split["val"] if e["label"] != drop_label]
    split.pop("digest")  # an edited split: the check on its classes comes first
    (run / "split.json").write_text(json.dumps(split))
    result = _export(*_args(run / "checkpoints" / "best.pt", export_data, tmp_path / "b", "--int8"))
    assert result.exit_code == 2 and f"validation split has {missing}" in result.output


def test_unknown_target(tmp_path, export_run, export_data):
    result = _export(*_args(export_run / "checkpoints" / "best.pt", export_data, tmp_path / "b", "--targets", "onnx,coreml"))
    assert result.exit_code == 2 and "coreml" in result.output and "onnx, openvino, tensorrt" in result.output


def test_existing_output_needs_force(tmp_path, export_run, export_data):
    out = tmp_path / "b"
    out.mkdir()
    (out / "keep.txt").write_text("user data")
    result = _export(*_args(export_run / "checkpoints" / "best.pt", export_data, out))
    assert result.exit_code == 2 and "--force" in result.output
    assert (out / "keep.txt").read_text() == "user data"


@pytest.mark.skipif(importlib.util.find_spec("tensorrt") is not None, reason="tensorrt is installed here")
def test_target_without_its_library_names_the_extra(tmp_path, export_run, export_data):
    result = _export(*_args(export_run / "checkpoints" / "best.pt", export_data, tmp_path / "b", "--targets", "onnx,tensorrt"))
    assert result.exit_code == 2 and "pip install 'gain-mtl[tensorrt]'" in result.output


def test_failed_int8_guard_keeps_no_bundle(tmp_path, export_run, export_data, monkeypatch):
    """A gate that fails (forced here) aborts the export and leaves neither the bundle nor a partial folder."""
    from calibration import gate

    real = gate.compare

    def failing(*args, **kwargs):
        report = real(*args, **kwargs)
        report.passed, report.failures = False, ["decision agreement forced below the guard"]
        return report

    monkeypatch.setattr(gate, "compare", failing)
    out = tmp_path / "b"
    result = _export(*_args(export_run / "checkpoints" / "best.pt", export_data, out, "--int8", "--targets", "onnx"))
    assert result.exit_code == 2
    assert "breaks the accuracy guard" in result.output and "Outputs that moved most: " in result.output
    assert not out.exists() and not list(tmp_path.glob(".b.*"))


@pytest.mark.parametrize("extra, message", [
    (["--robustness-guard", "1.5"], "--robustness-guard must be in [0, 1] (0 turns it off), got 1.5"),
    (["--robustness-on", "jpeg-75,jpeg-10"], "--robustness-on: unknown perturbation(s) jpeg-10; known: jpeg-75"),
])
def test_bad_robustness_options_name_the_value(tmp_path, export_run, export_data, extra, message):
    result = _export(*_args(export_run / "checkpoints" / "best.pt", export_data, tmp_path / "b", *extra))
    assert result.exit_code == 2 and message in result.output
    assert not (tmp_path / "b").exists()


def test_a_model_that_flips_under_the_camera_is_refused_by_name(tmp_path, export_run, export_data):
    """The tiny fixture model flips part of its decisions when the frames are 15 % darker: a guard
    that allows no flip there refuses the export, names the model and the perturbation, writes nothing."""
    out = tmp_path / "b"
    result = _export(*_args(export_run / "checkpoints" / "best.pt", export_data, out, "--targets", "onnx",
                            "--robustness-guard", "1", "--robustness-on", "brightness-15%"))
    assert result.exit_code == 2, result.output
    assert "fp32 (onnx) breaks the robustness guard: brightness-15%: agreement" in result.output
    assert "< 1.000" in result.output and "augment.jpeg" in result.output
    assert not out.exists() and not list(tmp_path.glob(".b.*"))
