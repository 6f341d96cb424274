"""The INT8 bundle of a briefly trained tiny model: valid, hashed, self-describing, INT8 close to FP32."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from edge.bundle import BundleError, load_bundle
from edge.mirror import spec_from_onnx, spec_from_openvino
from tests.integration.conftest import GUARD

pytestmark = pytest.mark.slow

# The fixture model must rank the parts at least this well for agreement to mean something.
MIN_AUROC = 0.9


def test_bundle_validates_and_hashes_match(int8_bundle):
    bundle = load_bundle(int8_bundle, verify=True)
    assert set(bundle.available()) == {"onnx/fp32", "onnx/int8", "openvino/fp32", "openvino/int8"}
    for name in ("bundle.json", "model.onnx", "model-int8.onnx", "openvino/model.xml", "openvino/model.bin",
                 "openvino/model-int8.xml", "openvino/model-int8.bin", "calibration/manifest.json", "report.md"):
        assert (int8_bundle / name).is_file(), name
    spec = bundle.spec
    assert spec.input.dtype == "uint8" and spec.input.channel_order == "BGR" and spec.input.normalisation_folded
    assert spec.thresholds.keys() == {"fp32", "int8"} and spec.strategy == "S5"
    assert all(by_format.keys() == {"onnx", "openvino"} for by_format in spec.thresholds.values())
    assert set(spec.metrics) == {"fp32", "int8"} and "recall" in spec.metrics["int8"]["test"]
    assert spec.calibration["accuracy_control"] and spec.calibration["accuracy_guard"] == GUARD
    assert spec.versions["onnxruntime"] and spec.data_manifest_digest and spec.config_digest
    report = (int8_bundle / "report.md").read_text()
    assert "## INT8" in report and "inference graph" in report


def test_each_threshold_carries_its_expected_recall(int8_bundle, export_run):
    from gain_mtl.train.checkpoint import load_checkpoint

    spec = load_bundle(int8_bundle).spec
    meta = load_checkpoint(export_run / "checkpoints" / "best.pt")["meta"]
    assert spec.localization_threshold == meta["loc_threshold"]
    assert {p: set(f) for p, f in spec.threshold_recall.items()} == {p: set(f) for p, f in spec.thresholds.items()}
    for by_format in spec.threshold_recall.values():
        for recall in by_format.values():
            low, high = recall["expected_recall_interval"]
            assert 0.0 < low < recall["expected_recall"] < high <= 1.0
            assert recall["recall_confidence"] == meta["recall_confidence"]
            assert recall["n_val_defects"] == meta["n_val_defects"]
    report = (int8_bundle / "report.md").read_text()
    assert "## Decision thresholds" in report and f"{low:.4f}-{high:.4f}" in report


def test_every_shipped_model_carries_its_robustness_table(int8_bundle):
    """bundle.json and report.md hold each shipped model's decisions under every camera perturbation."""
    from edge.bench.robustness import GUARDED, PERTURBATIONS

    spec = load_bundle(int8_bundle).spec
    assert {p: set(f) for p, f in spec.robustness.items()} == {p: set(f) for p, f in spec.thresholds.items()}
    for precision, by_format in spec.robustness.items():
        for fmt, r in by_format.items():
            assert r["threshold"] == spec.thresholds[precision][fmt]
            assert list(r["perturbations"]) == list(PERTURBATIONS) and r["guarded"] == list(GUARDED)
            assert r["min_agreement"] == 0.0 and r["passed"]
            for row in r["perturbations"].values():
                assert 0.0 <= row["agreement"] <= 1.0 and 0.0 <= row["recall"] <= 1.0
    report = (int8_bundle / "report.md").read_text()
    assert "## Robustness to the camera (test split)" in report and "| int8 (openvino) | jpeg-50 |" in report


def test_tampered_artifact_is_detected(int8_bundle, tmp_path):
    copy = shutil.copytree(int8_bundle, tmp_path / "bundle")
    weights = copy / "openvino" / "model-int8.bin"
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(BundleError, match="model-int8.bin"):
        load_bundle(copy, verify=True)


def test_metadata_readable_from_a_lone_model_file(int8_bundle, tmp_path):
    bundle = load_bundle(int8_bundle)
    for name in ("model.onnx", "model-int8.onnx"):
        lone = shutil.copy(int8_bundle / name, tmp_path / name)
        spec = spec_from_onnx(lone)
        assert spec.thresholds == bundle.spec.thresholds and spec.target_recall == bundle.spec.target_recall
    ir = spec_from_openvino(int8_bundle / "openvino" / "model-int8.xml")
    assert ir.thresholds == bundle.spec.thresholds


def test_calibration_set_is_held_out_and_stratified(int8_bundle, export_run, export_data):
    from gain_mtl.data.split import read_manifest

    split = read_manifest(export_run / "split.json", export_data)
    rel = {part: {s.image.relative_to(export_data).as_posix() for s in samples} for part, samples in split.parts().items()}
    manifest = json.loads((int8_bundle / "calibration" / "manifest.json").read_text())
    used = {item["path"] for item in manifest["images"]}
    assert used and used <= rel["val"]
    assert not used & rel["train"] and not used & rel["test"]
    labels = [item["label"] for item in manifest["images"]]
    assert 0 in labels and sum(labels) / len(labels) >= 0.3
    assert manifest["defective"] == sum(labels) and manifest["split"] == "val"


@pytest.mark.parametrize("fmt", ["onnx", "openvino"])
def test_int8_agrees_with_fp32_on_test_decisions(int8_bundle, export_run, export_data, fmt):
    """Re-measured here with the edge runners, independently of the export's own gate."""
    from calibration.dataset import load_frame
    from edge.backends import open_runner, select
    from edge.decision import flagged
    from gain_mtl.data.split import read_manifest

    bundle = load_bundle(int8_bundle)
    test = read_manifest(export_run / "split.json", export_data).test
    frames = np.stack([load_frame(s.image, bundle.spec.input.height) for s in test])
    backend = {"onnx": "onnxruntime", "openvino": "openvino"}[fmt]
    decisions = {}
    for precision in ("fp32", "int8"):
        with open_runner(bundle, backend=backend, precision=precision) as runner:
            prob = runner.infer({"image": frames})["defect_prob"]
        decisions[precision] = flagged(prob, select(bundle, backend, precision).threshold)
    agreement = float(np.mean(decisions["fp32"] == decisions["int8"]))
    gate = bundle.spec.calibration["gates"][fmt]
    assert gate["passed"] and abs(gate["agreement"] - agreement) < 1e-9  # the export measured the same
    # Agreement is only worth asserting on a model whose scores rank the parts.
    assert bundle.spec.metrics["fp32"]["test"]["auroc"] >= MIN_AUROC
    assert agreement >= 0.95


def test_openvino_only_bundle_holds_no_onnx_and_no_onnx_threshold(export_run, export_data, tmp_path):
    """The FP32 ONNX is made on the way to the IR, but a bundle for OpenVINO alone neither ships it
    nor keeps a threshold or metrics for it."""
    from gain_mtl.export.exporter import export_bundle

    out = export_bundle(export_run / "checkpoints" / "best.pt", export_data, tmp_path / "b", targets=("openvino",),
                        robustness_guard=0.0)
    bundle = load_bundle(out)
    assert bundle.available() == ["openvino/fp32"] and not (out / "model.onnx").exists()
    assert bundle.spec.thresholds.keys() == {"fp32"} and bundle.spec.thresholds["fp32"].keys() == {"openvino"}
    assert bundle.spec.metrics["fp32"]["artifact"] == "openvino"
    assert spec_from_openvino(out / "openvino" / "model.xml").thresholds == bundle.spec.thresholds


def test_a_strategy_without_localization_loss_exports_no_localization_threshold(export_data, tmp_path):
    # S1 never trains the localization head: its map is noise, so the bundle names no threshold
    # for regions and says why in its report.
    from click.testing import CliRunner

    from gain_mtl.cli import main
    from gain_mtl.config import load_config
    from gain_mtl.train.trainer import train

    run = train(load_config("tiny", ["train.epochs=2", "train.strategy=S1"]), export_data, tmp_path / "run")
    out = tmp_path / "bundle"
    result = CliRunner().invoke(main, ["export", "--checkpoint", str(run / "checkpoints" / "best.pt"),
                                       "--data", str(export_data), "--out", str(out), "--targets", "onnx",
                                       "--robustness-guard", "0"])
    assert result.exit_code == 0, result.output + repr(result.exception)
    spec = load_bundle(out).spec
    assert spec.strategy == "S1" and spec.localization_threshold is None
    assert "does not train the localization head" in (out / "report.md").read_text()
