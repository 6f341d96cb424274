"""Bundle schema: round trip, verification, versioning, metadata mirrored into model files."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

import edge.backends
from edge.backends import BackendInfo, select
from edge.bundle import BUNDLE_FILE, SCHEMA_VERSION, BundleError, BundleSpec, InputSpec, load_bundle, write_bundle_json
from edge.mirror import spec_from_onnx, spec_from_openvino


def test_loads_and_verifies(tiny_bundle_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bundle = load_bundle(tiny_bundle_dir)
    assert bundle.precisions() == ["fp32"]
    assert bundle.artifact("openvino", "fp32") == tiny_bundle_dir / "openvino" / "model.xml"
    assert bundle.threshold("fp32", "openvino") == 0.5
    # TensorRT FP16 is built from the FP32 ONNX, so it runs at FP32's threshold; the backend table
    # says so, not the bundle (it has no FP16 file, hence no FP16 threshold of its own).
    monkeypatch.setattr(BackendInfo, "installed", lambda self: True)
    monkeypatch.setattr(edge.backends, "has_nvidia_gpu", lambda: True)
    assert select(bundle, "tensorrt", "fp16").threshold == 0.5
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


def test_round_trip_keeps_each_thresholds_recall_and_the_localization_threshold() -> None:
    recall = {"expected_recall": 0.96, "expected_recall_interval": [0.91, 0.99], "recall_interval_level": 0.9,
              "recall_confidence": 0.9, "recall_confidence_achieved": 0.93, "threshold_rank": 2, "n_val_defects": 60,
              "threshold_supported": True, "threshold_warning": None}
    spec = BundleSpec(input=InputSpec(32, 32), thresholds={"fp32": {"onnx": 0.4}, "int8": {"openvino": 0.38}},
                      threshold_recall={"fp32": {"onnx": recall}, "int8": {"openvino": {**recall, "threshold_rank": 1}}},
                      localization_threshold=0.35)
    back = BundleSpec.from_json(spec.to_json())
    assert back == spec and back.schema_version == SCHEMA_VERSION == 5
    assert back.localization_threshold == 0.35 and back.threshold_recall["int8"]["openvino"]["threshold_rank"] == 1
    # A v3 description without the localization threshold is not guessed at.
    data = spec.to_dict()
    del data["localization_threshold"]
    with pytest.raises(BundleError, match="malformed.*localization_threshold.*re-export"):
        BundleSpec.from_dict(data)


def test_a_model_without_trained_localization_has_no_localization_threshold() -> None:
    spec = BundleSpec(input=InputSpec(32, 32), thresholds={"fp32": {"onnx": 0.4}}, localization_threshold=None)
    assert BundleSpec.from_json(spec.to_json()).localization_threshold is None
    # Version 3 always had a number there: a null in a v3 description is damage, not "none".
    with pytest.raises(BundleError, match="malformed.*re-export"):
        BundleSpec.from_dict({**spec.to_dict(), "schema_version": 3})
    v3 = BundleSpec.from_dict({**spec.to_dict(), "schema_version": 3, "localization_threshold": 0.3})
    assert v3.localization_threshold == 0.3


def test_bundles_of_older_schemas_are_refused_with_the_fix(tiny_bundle_dir: Path, tmp_path: Path) -> None:
    copy = shutil.copytree(tiny_bundle_dir, tmp_path / "b")
    data = json.loads((copy / BUNDLE_FILE).read_text())
    for old in (1, 2):
        (copy / BUNDLE_FILE).write_text(json.dumps({**data, "schema_version": old}))
        with pytest.raises(BundleError, match=rf"version {old} is not supported.*re-export the bundle"):
            load_bundle(copy)


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
    with pytest.raises(BundleError, match=rf"bundle.json.*version {SCHEMA_VERSION + 1}.*versions 3, 4, {SCHEMA_VERSION}"):
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
    spec = BundleSpec(input=InputSpec(32, 32), thresholds={"fp32": {"onnx": 0.5}}, localization_threshold=0.0,
                      threshold_recall={"int8": {"onnx": {"expected_recall_interval": [0.9, 1.2]}}})
    with pytest.raises(BundleError, match=r"threshold_recall\[int8\]\[onnx\] describes no threshold.*"
                                          r"interval \[0.9, 1.2\] is not within \[0, 1\].*localization_threshold = 0.0"):
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


def _edited(bundle: Path, edit) -> Path:
    """``bundle`` with its bundle.json changed by ``edit`` (the model files keep what the export mirrored)."""
    data = json.loads((bundle / BUNDLE_FILE).read_text())
    edit(data)
    (bundle / BUNDLE_FILE).write_text(json.dumps(data))
    return bundle


GATED = {"calibration": {"gates": {"onnx": {"passed": False, "recall_drop": 0.1}}},
         "robustness": {"fp32": {"onnx": {"passed": False, "perturbations": {}}}}}


@pytest.mark.parametrize("edit, field", [
    (lambda data: data["calibration"]["gates"]["onnx"].update(passed=True), "calibration.gates"),
    (lambda data: data["calibration"].pop("gates"), "calibration.gates"),
    (lambda data: data["robustness"]["fp32"]["onnx"].update(passed=True), "robustness"),
    (lambda data: data.update(robustness={}), "robustness"),
], ids=["gate-passed", "gate-removed", "robustness-passed", "robustness-removed"])
def test_an_edited_gate_verdict_disagrees_with_the_mirror(tmp_path: Path, edit, field: str) -> None:
    """The verdicts pick the model ``gainctl run`` takes by default: editing them is refused like a threshold."""
    from edge.bench.synthetic import build_tiny_bundle
    from edge.mirror import MirrorMismatch, check_mirror

    bundle = build_tiny_bundle(tmp_path / "bundle", openvino=False, **GATED)
    check_mirror(load_bundle(bundle), bundle / "model.onnx", "onnx")
    _edited(bundle, edit)
    with pytest.raises(MirrorMismatch, match=rf"\({field}: .* in bundle.json, .* in the model file\)"):
        check_mirror(load_bundle(bundle), bundle / "model.onnx", "onnx", threshold_given=True)


def test_a_bundle_of_an_older_schema_agrees_with_its_mirror(tmp_path: Path) -> None:
    """Schemas 3 and 4 have no robustness table, in bundle.json or in the model files: nothing to disagree on."""
    from edge.bench.synthetic import build_tiny_bundle
    from edge.mirror import check_mirror

    bundle = _edited(build_tiny_bundle(tmp_path / "bundle", openvino=False, schema_version=4),
                     lambda data: data.pop("robustness"))
    check_mirror(load_bundle(bundle), bundle / "model.onnx", "onnx")
