"""Decisions: threshold, region in frame coordinates, attention peak, faults."""

from __future__ import annotations

import numpy as np

from edge.decision import decide, largest_region


def _outputs(score: float, loc: np.ndarray | None = None) -> dict:
    loc = np.zeros((1, 1, 8, 8), np.float32) if loc is None else loc
    att = np.zeros((1, 1, 4, 4), np.float32)
    att[0, 0, 3, 1] = 0.9
    return {"defect_prob": np.array([score], np.float32), "attention_map": att, "localization_map": loc}


def test_threshold_splits_accept_and_reject() -> None:
    assert decide(_outputs(0.49), 0.5, (80, 40)).decision == "accept"
    assert decide(_outputs(0.5), 0.5, (80, 40)).decision == "reject"


def test_region_is_the_largest_component_in_frame_pixels() -> None:
    loc = np.zeros((1, 1, 8, 8), np.float32)
    loc[0, 0, 1:3, 1:2] = 0.9        # 2 cells
    loc[0, 0, 4:7, 5:8] = 0.8        # 9 cells: the largest
    verdict = decide(_outputs(0.9, loc), 0.5, (80, 40))   # 10 px wide, 5 px high cells
    r = verdict.region
    assert (r.x, r.y, r.w, r.h, r.area) == (50, 20, 30, 15, 9 * 50)
    assert verdict.attention_peak == {"x": 30.0, "y": 35.0, "value": 0.9}


def test_no_component_means_no_region() -> None:
    assert largest_region(np.zeros((1, 1, 8, 8), np.float32), (80, 40)) is None


def test_invalid_scores_are_faults_never_accepts() -> None:
    for bad in (float("nan"), -0.1, 1.5):
        verdict = decide(_outputs(bad), 0.5, (80, 40))
        assert verdict.decision == "fault" and verdict.reason == "invalid_output"
