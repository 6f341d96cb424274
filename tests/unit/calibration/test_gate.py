from __future__ import annotations

import numpy as np
import pytest

from calibration.gate import GateError, classification_metrics, compare, localization_iou


def _outputs(prob, loc):
    return {"defect_prob": prob, "attention_map": np.zeros((len(prob), 1, 2, 2), np.float32), "localization_map": loc}


def test_classification_metrics():
    m = classification_metrics(np.array([0.9, 0.4, 0.6, 0.1]), np.array([1, 1, 0, 0]), 0.5)
    assert m["recall"] == 0.5 and m["precision"] == 0.5 and m["f1"] == 0.5 and m["accuracy"] == 0.5


def test_localization_iou_over_masked_images_only():
    loc = np.zeros((2, 1, 2, 2)); loc[0, 0, 0, :] = 0.9
    mask = np.zeros((2, 1, 2, 2)); mask[0, 0, 0, 0] = 1
    assert localization_iou(loc, mask, np.array([True, False])) == 0.5
    assert localization_iou(loc, mask, np.array([False, False])) is None


def test_gate_passes_identical_outputs():
    prob = np.array([0.9, 0.8, 0.1, 0.2]); loc = np.zeros((4, 1, 4, 4))
    report = compare(_outputs(prob, loc), _outputs(prob, loc), np.array([1, 1, 0, 0]), 0.5, 0.5, guard=0.01)
    assert report.passed and report.agreement == 1.0 and report.max_score_diff == 0.0
    report.raise_if_failed()


def test_gate_failure_names_worst_outputs_and_lost_recall():
    label = np.array([1, 1, 1, 1, 0, 0, 0, 0])
    fp32 = _outputs(np.array([0.9] * 4 + [0.1] * 4), np.zeros((8, 1, 4, 4)))
    int8 = _outputs(np.array([0.9, 0.9, 0.3, 0.2] + [0.1] * 4), np.full((8, 1, 4, 4), 0.05))
    report = compare(fp32, int8, label, 0.5, 0.5, guard=0.05, mask=np.zeros((8, 1, 4, 4)),
                     has_mask=label.astype(bool))
    assert not report.passed
    assert report.worst_outputs[0] == "defect_prob"
    assert report.int8["recall"] == 0.5 and report.fp32["localization_iou"] == 1.0
    with pytest.raises(GateError, match=r"recall 0.500 vs FP32 1.000.*defect_prob \(max diff 0.7000\)"):
        report.raise_if_failed()
