"""Every metric against numbers worked out by hand on crafted inputs."""

from __future__ import annotations

import numpy as np
import pytest

from edge import metrics as m


def test_classification_at_threshold_by_hand():
    prob = np.array([0.9, 0.8, 0.4, 0.3, 0.6, 0.1])
    label = np.array([1, 1, 1, 0, 0, 0])
    out = m.classification_metrics(prob, label, 0.5)
    # predicted defective: 0.9, 0.8, 0.6 -> TP 2, FP 1; missed 0.4 -> FN 1; TN 2
    assert out["confusion"] == {"tp": 2, "fp": 1, "tn": 2, "fn": 1}
    assert out["accuracy"] == pytest.approx(4 / 6)
    assert out["precision"] == pytest.approx(2 / 3)
    assert out["recall"] == pytest.approx(2 / 3)
    assert out["f1"] == pytest.approx(2 / 3)
    # at 0.35 the 0.4 defect is caught: TP 3, FP 1, precision 3/4, recall 1, f1 6/7
    low = m.classification_metrics(prob, label, 0.35)
    assert (low["precision"], low["recall"], low["f1"]) == pytest.approx((0.75, 1.0, 6 / 7))


def test_classification_without_predictions_is_zero_not_nan():
    out = m.classification_metrics(np.array([0.1, 0.2]), np.array([1, 0]), 0.5)
    assert out["precision"] == 0.0 and out["recall"] == 0.0 and out["f1"] == 0.0


def test_auroc_by_hand_with_ties():
    # positives 0.9, 0.5; negatives 0.5, 0.1. Pairs: (0.9>0.5) 1, (0.9>0.1) 1, (0.5=0.5) 0.5, (0.5>0.1) 1
    assert m.auroc(np.array([0.9, 0.5, 0.5, 0.1]), np.array([1, 1, 0, 0])) == pytest.approx(3.5 / 4)
    assert m.auroc(np.array([0.1, 0.9]), np.array([1, 0])) == 0.0
    assert m.auroc(np.array([0.1, 0.9]), np.array([1, 1])) is None


def test_cam_iou_minmax_then_half():
    cam = np.array([[10.0, 8.0, 0.0], [6.0, 2.0, 0.0], [0.0, 0.0, 0.0]])
    mask = np.array([[1, 1, 0], [0, 0, 0], [0, 0, 1]])
    # normalised: 1, .8, 0 / .6, .2, 0 / 0...; >= .5: (0,0) (0,1) (1,0) -> 3 pixels
    # intersection with mask {(0,0),(0,1),(2,2)}: 2; union: 4
    assert m.cam_iou(cam, mask) == pytest.approx(2 / 4)
    # a constant map points nowhere: IoU with a non-empty mask is 0
    assert m.cam_iou(np.full((3, 3), 7.0), mask) == 0.0


def test_point_game_hit_and_miss():
    mask = np.zeros((4, 4), dtype=np.uint8)
    mask[2:, 2:] = 1
    hit = np.zeros((4, 4))
    hit[3, 2] = 5.0
    miss = np.zeros((4, 4))
    miss[0, 1] = 5.0
    assert m.point_game(hit, mask) == 1.0
    assert m.point_game(miss, mask) == 0.0
    # min-max normalisation does not move the maximum: negative maps work the same way
    assert m.point_game(hit - 100.0, mask) == 1.0


def test_energy_inside_by_hand():
    cam = np.array([[4.0, 2.0], [1.0, 0.0]])
    mask = np.array([[1, 0], [0, 0]])
    # normalised 1, .5, .25, 0 -> total 1.75, inside 1
    assert m.energy_inside(cam, mask) == pytest.approx(1 / 1.75)
    assert m.energy_inside(cam, np.ones((2, 2))) == pytest.approx(1.0)
    assert m.energy_inside(np.ones((2, 2)), mask) == 0.0  # no energy at all


def test_localization_metrics_on_crafted_maps():
    masks = np.zeros((2, 4, 4), dtype=bool)
    masks[0, :2, :2] = True  # 4 pixels
    masks[1, 0, 0] = True
    loc = np.zeros((2, 4, 4))
    loc[0, :2, :3] = 0.7  # 6 predicted, 4 in the mask: IoU 4/6, 2 wrong pixels of 16
    loc[1, 3, 3] = 0.9  # misses entirely: IoU 0
    out = m.localization_metrics(loc, masks, np.array([True, True]))
    assert out["loc_iou"] == pytest.approx((4 / 6 + 0) / 2)
    assert out["loc_dice"] == pytest.approx((2 * (4 / 6) / (1 + 4 / 6) + 0) / 2)
    assert out["pixel_accuracy"] == pytest.approx((14 / 16 + 14 / 16) / 2)
    # Dice from IoU equals the set definition 2|A n B| / (|A| + |B|)
    assert m.dice_from_iou(4 / 6) == pytest.approx(2 * 4 / (6 + 4))


def test_explanation_metrics_average_only_selected():
    maps = np.zeros((2, 2, 2))
    maps[0, 0, 0] = 1.0
    maps[1, 1, 1] = 1.0
    masks = np.zeros((2, 2, 2), dtype=bool)
    masks[:, 0, 0] = True
    both = m.explanation_metrics(maps, masks, np.array([True, True]))
    assert both == pytest.approx({"iou": 0.5, "point_game": 0.5, "energy_inside": 0.5})
    first = m.explanation_metrics(maps, masks, np.array([True, False]))
    assert first == pytest.approx({"iou": 1.0, "point_game": 1.0, "energy_inside": 1.0})
    assert m.explanation_metrics(maps, masks, np.array([False, False]))["iou"] is None

