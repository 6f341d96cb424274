from __future__ import annotations

import numpy as np
import pytest

from calibration.gate import GateError, compare


def _outputs(prob, loc):
    return {"defect_prob": prob, "attention_map": np.zeros((len(prob), 1, 2, 2), np.float32), "localization_map": loc}


def test_gate_passes_identical_outputs():
    prob = np.array([0.9, 0.8, 0.1, 0.2]); loc = np.zeros((4, 1, 4, 4))
    metrics = {"fp32": {"recall": 1.0}, "int8": {"recall": 1.0}}
    report = compare(_outputs(prob, loc), _outputs(prob, loc), (0.5, 0.5), metrics, guard=0.01)
    assert report.passed and report.agreement == 1.0 and report.max_score_diff == 0.0
    report.raise_if_failed()


def test_gate_uses_each_precisions_own_threshold():
    fp32 = _outputs(np.array([0.9, 0.1]), np.zeros((2, 1, 2, 2)))
    int8 = _outputs(np.array([0.7, 0.1]), np.zeros((2, 1, 2, 2)))
    metrics = {"fp32": {"recall": 1.0}, "int8": {"recall": 1.0}}
    assert compare(fp32, int8, (0.8, 0.6), metrics, guard=0.0).agreement == 1.0
    assert compare(fp32, int8, (0.8, 0.8), metrics, guard=0.0).agreement == 0.5


def test_gate_failure_names_worst_outputs_and_lost_recall():
    fp32 = _outputs(np.array([0.9] * 4 + [0.1] * 4), np.zeros((8, 1, 4, 4)))
    int8 = _outputs(np.array([0.9, 0.9, 0.3, 0.2] + [0.1] * 4), np.full((8, 1, 4, 4), 0.05))
    metrics = {"fp32": {"recall": 1.0}, "int8": {"recall": 0.5}}
    report = compare(fp32, int8, (0.5, 0.5), metrics, guard=0.05)
    assert not report.passed
    assert report.worst_outputs == ["defect_prob", "localization_map", "attention_map"]
    with pytest.raises(GateError, match=r"agreement 0.750.*recall 0.500 vs FP32 1.000.*defect_prob \(max diff 0.7000\)"):
        report.raise_if_failed()
