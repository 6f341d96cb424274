"""One decision rule, one set of metrics: the gate, the guard, evaluation, export and the bench count alike.

A NaN, inf or out-of-range score is a fault on the line, and a fault is never an accept; every
place that turns scores into decisions must count it as stopped, not as a pass.
"""

from __future__ import annotations

import numpy as np
import pytest

from edge.decision import decision_of, flagged
from edge.events import ACCEPT, FAULT, REJECT
from edge.metrics import classification_metrics, localization_metrics

SCORES = np.array([0.1, np.nan, 0.9, np.inf, -0.2, 0.5], dtype=np.float32)
LABELS = np.array([0, 0, 1, 1, 0, 1])


def test_flagged_is_a_reject_or_a_fault() -> None:
    assert flagged(SCORES, 0.5).tolist() == [False, True, True, True, True, True]
    assert [decision_of(float(s), 0.5) for s in SCORES] == [ACCEPT, FAULT, REJECT, FAULT, FAULT, REJECT]


def test_classification_metrics_count_a_fault_as_stopped() -> None:
    c = classification_metrics(SCORES, LABELS, 0.5)["confusion"]
    assert c == {"tp": 3, "fp": 2, "tn": 1, "fn": 0}


def test_the_int8_gate_sees_a_nan_as_a_changed_decision() -> None:
    from calibration.gate import compare

    fp32 = {"defect_prob": np.array([0.1, 0.2, 0.9, 0.8], np.float32)}
    int8 = {"defect_prob": np.array([0.1, np.nan, 0.9, 0.8], np.float32)}
    metrics = {"fp32": {"recall": 1.0}, "int8": {"recall": 1.0}}
    report = compare(fp32, int8, (0.5, 0.5), metrics, guard=0.1)
    assert report.agreement == 0.75 and not report.passed


def test_the_accuracy_guard_counts_a_nan_as_stopped() -> None:
    from calibration.guard import guard_metric, guard_samples

    labels = np.array([0, 0, 1, 1])
    samples = guard_samples(np.zeros((4, 2, 2, 3), np.uint8), labels, np.array([False, False, True, True]))
    prob = np.array([0.1, np.nan, 0.9, 0.8])
    assert guard_metric(prob, samples, lambda p, l, parts: 0.5) == 0.75  # recall 1, agreement 3/4


def test_predictions_csv_writes_a_fault_for_an_invalid_score(tmp_path) -> None:
    pytest.importorskip("torch")
    from types import SimpleNamespace
    from pathlib import Path

    from gain_mtl.evaluation import write_predictions

    pred = SimpleNamespace(label=np.array([0, 1, 1]), prob=np.array([0.1, 0.9, np.nan]))
    samples = [SimpleNamespace(image=Path(f"{n}.png")) for n in "abc"]
    rows = write_predictions(pred, samples, 0.5, tmp_path / "p.csv").read_text().splitlines()
    assert [r.split(",")[-1] for r in rows[1:]] == [ACCEPT, REJECT, FAULT]


def test_bench_iou_is_the_export_iou_at_map_resolution() -> None:
    """The bench resizes each mask to the map (nearest) as the export reads masks at the map's size."""
    cv2 = pytest.importorskip("cv2")
    from edge.bench.accuracy import localization_iou

    mask = np.zeros((32, 32), np.uint8)
    mask[4:20, 8:28] = 1
    maps = np.zeros((2, 8, 8), np.float32)
    maps[0, 1:5, 2:7] = 0.8
    maps[1, 0:2, 0:2] = 0.8
    at_map = np.stack([cv2.resize(mask, (8, 8), interpolation=cv2.INTER_NEAREST)] * 2)
    expected = localization_metrics(maps, at_map, np.array([True, True]), 0.6)["loc_iou"]
    assert localization_iou(maps, [mask, mask], 0.6) == pytest.approx(expected)
    assert localization_iou(maps, [mask, None], 0.6) == pytest.approx(
        localization_metrics(maps[:1], at_map[:1], np.array([True]), 0.6)["loc_iou"])
    assert localization_iou(maps, [None, None], 0.6) is None
