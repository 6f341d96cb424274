"""Bundle schema: round trip, verification, versioning, metadata mirrored into model files."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

import edge.backends
from edge.backends import BackendInfo, decision_threshold
from edge.bundle import (BUNDLE_FILE, SCHEMA_VERSION, BundleError, BundleSpec, InputSpec, load_bundle,
                         spec_from_onnx, spec_from_openvino, write_bundle_json)


def test_loads_and_verifies(tiny_bundle_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bundle = load_bundle(tiny_bundle_dir)
    assert bundle.precisions() == ["fp32"]
    assert bundle.artifact("openvino", "fp32") == tiny_bundle_dir / "openvino" / "model.xml"
    assert bundle.threshold("fp32", "openvino") == 0.5
    # TensorRT FP16 is built from the FP32 ONNX, so it runs at FP32's threshold; the backend table
    # says so, not the bundle (it has no FP16 file, hence no FP16 threshold of its own).
    monkeypatch.setattr(BackendInfo, "installed", lambda self: True)
    monkeypatch.setattr(edge.backends, "has_nvidia_gpu", lambda: True)
    assert decision_threshold(bundle, "tensorrt", "fp16") == 0.5
    with pytest.raises(BundleError, match="no threshold for onnx/fp16"):
        bundle.threshold("fp16", "onnx")
    assert sorted(bundle.available()) == ["onnx/fp32", "openvino/fp32"]
    with pytest.raises(BundleError, match="no threshold for openvino/int8; thresholds exist for onnx/fp32, openvino/fp32"):
        bundle.threshold("int8", "openvino")
    with pytest.raises(BundleError, match="available: onnx/fp32, openvino/fp32"):
        bundle.artifact("openvino", "int8")


def test_json_round_trip() -> None:
    spec = BundleSpec(input=InputSpec(64, 48), thresholds={"fp32": {"onnx": 0.4}, "int8": {"onnx": 0.42, "openvino": 0.41}},
                      metrics={"int8": {"val": {"recall": 0.97}, "test": {"recall": 0.95}}})
    assert BundleSpec.from_json(spec.to_json()) == spec


@pytest.mark.parametrize("target", ["openvino/model.bin", "model.onnx"])
def test_tampered_artifact_is_refused(tiny_bundle_dir: Path, tmp_path: Path, target: str) -> None:
    copy = tmp_path / "b"
    shutil.copytree(tiny_bundle_dir, copy)
    data = bytearray((copy / target).read_bytes())
    data[-1] ^= 0xFF
    (copy / target).write_bytes(bytes(data))
    with pytest.raises(BundleError, match=rf"{Path(target).name}.*re-export the bundle"):
        load_bundle(copy)
    load_bundle(copy, verify=False)  # reading the description alone still works


def test_unknown_schema_version_names_file_and_supported_version(tiny_bundle_dir: Path, tmp_path: Path) -> None:
    copy = tmp_path / "b"
    shutil.copytree(tiny_bundle_dir, copy)
    data = json.loads((copy / BUNDLE_FILE).read_text())
    data["schema_version"] = SCHEMA_VERSION + 1
    (copy / BUNDLE_FILE).write_text(json.dumps(data))
    with pytest.raises(BundleError, match=rf"bundle.json.*version {SCHEMA_VERSION + 1}.*version {SCHEMA_VERSION}"):
        load_bundle(copy)


def test_missing_folder_and_missing_description(tmp_path: Path) -> None:
    with pytest.raises(BundleError, match="not found"):
        load_bundle(tmp_path / "absent")
    with pytest.raises(BundleError, match="bundle.json: missing"):
        load_bundle(tmp_path)


def test_invalid_values_are_refused(tmp_path: Path) -> None:
    spec = BundleSpec(input=InputSpec(32, 32), thresholds={"fp32": {"onnx": 1.5}})
    with pytest.raises(BundleError, match=r"threshold\[fp32\]\[onnx\] = 1.5"):
        write_bundle_json(tmp_path, spec)
    spec = BundleSpec(input=InputSpec(32, 32), thresholds={"fp32": {"tflite": 0.5}})
    with pytest.raises(BundleError, match="unknown format 'tflite'"):
        write_bundle_json(tmp_path, spec)
    assert not (tmp_path / BUNDLE_FILE).exists()


def test_metadata_readable_from_the_onnx_file_alone(tiny_bundle_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lone = tmp_path / "model.onnx"
    shutil.copy(tiny_bundle_dir / "model.onnx", lone)
    expected = load_bundle(tiny_bundle_dir).spec
    spec = spec_from_onnx(lone)
    assert spec.thresholds == expected.thresholds and spec.input == expected.input
    monkeypatch.setitem(sys.modules, "onnx", None)  # a camera with onnxruntime only
    assert spec_from_onnx(lone).thresholds == expected.thresholds


def test_metadata_readable_from_openvino_ir(tiny_bundle_dir: Path) -> None:
    assert spec_from_openvino(tiny_bundle_dir / "openvino" / "model.xml").thresholds == {"fp32": {"onnx": 0.5, "openvino": 0.5}}
