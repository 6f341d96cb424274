"""Decisions: threshold, defect regions in frame coordinates, attention peak, faults."""

from __future__ import annotations

import numpy as np

from edge.decision import MAX_REGIONS, MIN_REGION_CELLS, decide, defect_regions


def _outputs(score: float, loc: np.ndarray | None = None) -> dict:
    loc = np.zeros((1, 1, 8, 8), np.float32) if loc is None else loc
    att = np.zeros((1, 1, 4, 4), np.float32)
    att[0, 0, 3, 1] = 0.9
    return {"defect_prob": np.array([score], np.float32), "attention_map": att, "localization_map": loc}


def test_threshold_splits_accept_and_reject() -> None:
    assert decide(_outputs(0.49), 0.5, (80, 40)).decision == "accept"
    assert decide(_outputs(0.5), 0.5, (80, 40)).decision == "reject"


def test_regions_are_every_component_largest_first_in_frame_pixels() -> None:
    loc = np.zeros((1, 1, 8, 8), np.float32)
    loc[0, 0, 0:4, 0:1] = 0.9        # 4 cells
    loc[0, 0, 4:7, 5:8] = 0.8        # 9 cells: the largest
    loc[0, 0, 5, 6] = 0.95           # its peak
    verdict = decide(_outputs(0.9, loc), 0.5, (80, 40))   # 10 px wide, 5 px high cells
    assert [(r.x, r.y, r.w, r.h, r.area, r.peak) for r in verdict.regions] == [
        (50, 20, 30, 15, 9 * 50, 0.95), (0, 0, 10, 20, 4 * 50, 0.9)]
    assert verdict.attention_peak == {"x": 30.0, "y": 35.0, "value": 0.9}


def test_components_touching_at_a_corner_are_one_region() -> None:
    loc = np.zeros((8, 8), np.float32)
    loc[0:2, 0:2] = 0.9
    loc[2:4, 2:4] = 0.9  # diagonal neighbour of the first block: 8-connected
    (region,) = defect_regions(loc, (8, 8), 0.5)
    assert (region.x, region.y, region.w, region.h, region.area) == (0, 0, 4, 4, 8)


def test_regions_come_from_the_localization_threshold_given() -> None:
    loc = np.zeros((1, 1, 8, 8), np.float32)
    loc[0, 0, 2:4, 2:4] = 0.45
    assert decide(_outputs(0.9, loc), 0.5, (8, 8)).regions == []
    (region,) = decide(_outputs(0.9, loc), 0.5, (8, 8), localization_threshold=0.4).regions
    assert (region.x, region.y, region.w, region.h, region.peak) == (2, 2, 2, 2, 0.45)


def test_a_model_that_does_not_localize_rejects_without_regions() -> None:
    loc = np.full((1, 1, 8, 8), 0.9, np.float32)
    verdict = decide(_outputs(0.9, loc), 0.5, (8, 8), localization_threshold=None)
    assert verdict.decision == "reject" and verdict.regions is None


def test_specks_are_dropped_and_the_count_is_capped() -> None:
    loc = np.zeros((64, 64), np.float32)
    loc[0, 0:MIN_REGION_CELLS - 1] = 0.9  # a speck
    for k in range(MAX_REGIONS + 3):      # more separate components than the cap, growing in size
        loc[4 + 5 * k:4 + 5 * k + 2, 0:2 + k] = 0.9
    regions = defect_regions(loc, (64, 64), 0.5)
    assert len(regions) == MAX_REGIONS
    assert [r.area for r in regions] == [2 * (2 + k) for k in range(MAX_REGIONS + 2, 2, -1)]
    assert all(r.y > 0 for r in regions)  # the speck on row 0 is not among them


def test_only_a_reject_carries_regions() -> None:
    loc = np.full((1, 1, 8, 8), 0.9, np.float32)
    assert decide(_outputs(0.2, loc), 0.5, (8, 8)).regions is None
    assert decide(_outputs(0.9, np.zeros((1, 1, 8, 8), np.float32)), 0.5, (8, 8)).regions == []


def test_invalid_scores_are_faults_never_accepts() -> None:
    for bad in (float("nan"), -0.1, 1.5):
        verdict = decide(_outputs(bad), 0.5, (80, 40))
        assert verdict.decision == "fault" and verdict.reason == "invalid_output"
