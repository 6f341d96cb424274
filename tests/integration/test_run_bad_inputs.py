"""`gainctl run` refuses bad configurations with a clear message and exit code 2."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from gain_mtl.cli import main
from tests.helpers.tiny_bundle import build_tiny_bundle, write_video


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("bad_inputs")
    write_video(root / "v.avi", 3)
    return build_tiny_bundle(root / "bundle"), root / "v.avi"


def _run(*args: str):
    return CliRunner().invoke(main, ["run", *args])


def _copy(bundle: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(bundle, tmp_path / "copy"))


def test_missing_bundle(setup, tmp_path: Path) -> None:
    result = _run("--model", str(tmp_path / "nothing"), "--source", str(setup[1]))
    assert result.exit_code == 2 and "bundle folder not found" in result.output


def test_tampered_bundle(setup, tmp_path: Path) -> None:
    copy = _copy(setup[0], tmp_path)
    (copy / "model.onnx").write_bytes((copy / "model.onnx").read_bytes() + b"\0")
    result = _run("--model", str(copy), "--source", str(setup[1]))
    assert result.exit_code == 2 and "model.onnx" in result.output and "re-export the bundle" in result.output


def test_unknown_schema_version(setup, tmp_path: Path) -> None:
    copy = _copy(setup[0], tmp_path)
    data = json.loads((copy / "bundle.json").read_text())
    data["schema_version"] = 99
    (copy / "bundle.json").write_text(json.dumps(data))
    result = _run("--model", str(copy), "--source", str(setup[1]))
    assert result.exit_code == 2 and "version 99 is not supported" in result.output


def test_camera_that_does_not_open(setup) -> None:
    result = _run("--model", str(setup[0]), "--camera", "97")
    assert result.exit_code == 2 and "cannot open camera 97" in result.output


@pytest.mark.parametrize("args, listed", [
    (["--precision", "int8"], "available here: openvino/fp32, onnxruntime/fp32"),
    (["--backend", "tensorrt"], "available here: openvino/fp32, onnxruntime/fp32"),
])
def test_backend_or_precision_unavailable_lists_what_is(setup, args: list, listed: str) -> None:
    result = _run("--model", str(setup[0]), "--source", str(setup[1]), *args)
    assert result.exit_code == 2 and listed in result.output


@pytest.mark.parametrize("args, message", [
    (["--sink", "kafka://x"], "unknown sink 'kafka://x'"),
    (["--show"], "--show needs an OpenCV build with a GUI"),
    (["--deadline-ms", "0"], "--deadline-ms must be positive"),
    (["--device", "NPU", "--backend", "openvino"], "device NPU is not present"),
])
def test_other_configuration_errors(setup, args: list, message: str) -> None:
    import re

    import cv2

    if "--show" in args and not re.search(r"GUI:\s+NONE", cv2.getBuildInformation()):
        pytest.skip("this OpenCV build has a GUI, so --show is valid here")
    result = _run("--model", str(setup[0]), "--source", str(setup[1]), *args)
    assert result.exit_code == 2 and message in result.output, result.output
