"""The bundle's report.md states each threshold's expected recall and the localization threshold."""

from __future__ import annotations

from edge.bundle import BundleSpec, InputSpec
from gain_mtl.export.report import render_report


def test_report_shows_each_thresholds_recall_interval_and_one_warning_per_text():
    warning = "validation holds 18 defects; target recall 0.95 with confidence 0.9 needs at least 45 defects"
    recall = {"threshold_precision": 0.8, "expected_recall": 0.9474, "expected_recall_interval": [0.8467, 0.9972],
              "recall_interval_level": 0.9, "recall_confidence": 0.9, "recall_confidence_achieved": 0.6028,
              "threshold_rank": 1, "n_val_defects": 18, "threshold_supported": False, "threshold_warning": warning}
    # Where validation named parts, the rank counts parts.
    int8 = {**recall, "threshold_rank": 2, "expected_recall_interval": [0.8, 0.99], "n_val_defect_parts": 15}
    spec = BundleSpec(input=InputSpec(64, 64), thresholds={"fp32": {"onnx": 0.17}, "int8": {"onnx": 0.22}},
                      threshold_recall={"fp32": {"onnx": recall}, "int8": {"onnx": int8}},
                      target_recall=0.95, localization_threshold=0.45, strategy="S5", backbone="b")
    cost = {"params_full": 1, "params_pruned": 1, "gflops_full": 0.1, "gflops_pruned": 0.1, "image_size": 64}
    details = {"cost": cost, "onnx": "opset 17", "parity": {}}
    text = render_report(spec, details, None)
    assert "Localization threshold (defect regions): 0.45" in text
    assert "| fp32 (onnx) | 0.1700 | 0.8000 | 0.9474 | 0.8467-0.9972 | 0.6028 | 18 of 18 images | False |" in text
    assert "| int8 (onnx) | 0.2200 | 0.8000 | 0.9474 | 0.8000-0.9900 | 0.6028 | 14 of 15 parts | False |" in text
    assert text.count(warning) == 1 and f"- fp32 (onnx), int8 (onnx): {warning}" in text
