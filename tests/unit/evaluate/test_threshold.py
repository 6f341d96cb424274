"""The decision threshold's rule (recall on new parts at a stated confidence) and the localization
threshold chosen on validation."""

from __future__ import annotations

import dataclasses
import math
import warnings

import numpy as np
import pytest

from edge import metrics as m
from gain_mtl.evaluate.loc_threshold import choose_loc_threshold
from gain_mtl.evaluate.predict import Predictions
from gain_mtl.evaluate.report import render_report
from gain_mtl.evaluate.scores import HISTORY_KEYS, history_metrics, score
from gain_mtl.evaluate.threshold import (
    CHOICE_KEYS,
    FALLBACK_THRESHOLD,
    RecallWarning,
    choose_threshold,
    defects_needed,
    part_recall,
    recall_check,
    recall_interval,
    split_recall_interval,
)


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z))


def _logit(p: float) -> float:
    return math.log(p / (1.0 - p))


def _split(n_defects: int, n_normal: int = 0, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Defect scores uniform on (0, 1) (so the true recall of a threshold t is 1 - t), normals below 0.5."""
    rng = np.random.default_rng(seed)
    prob = np.r_[rng.uniform(size=n_defects), 0.5 * rng.uniform(size=n_normal)]
    return prob, np.r_[np.ones(n_defects, int), np.zeros(n_normal, int)]


@pytest.mark.parametrize(("n", "rank", "achieved"), [
    # P(R_1 >= 0.9) = 1 - 0.9**n: 0.9015 for 22 defects, 0.9818 for 38.
    (22, 1, 1 - 0.9**22),
    # j = 2: P(Binomial(38, 0.9) <= 36) = 1 - 0.9**38 - 38 * 0.1 * 0.9**37 = 0.9047; j = 3 gives 0.746.
    (38, 2, 1 - 0.9**38 - 38 * 0.1 * 0.9**37),
])
def test_hand_worked_ranks(n, rank, achieved):
    prob, label = _split(n, 50)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a supported target warns nothing
        choice = choose_threshold(prob, label, 0.9, 0.9)
    assert choice.threshold_rank == rank and choice.threshold_supported and choice.threshold_warning is None
    assert choice.recall_confidence_achieved == pytest.approx(achieved)
    assert choice.n_val_defects == n
    assert choice.expected_recall == pytest.approx((n - rank + 1) / (n + 1))


def test_threshold_sits_mid_gap_below_the_chosen_defect():
    # 3 defects, target 0.5 at confidence 0.45: P(R_2 >= 0.5) = 0.5 is enough, P(R_3 >= 0.5) = 0.125 is not.
    prob = np.array([0.95, 0.7, 0.3, 0.8, 0.5, 0.2, 0.1])
    label = np.array([1, 1, 1, 0, 0, 0, 0])
    choice = choose_threshold(prob, label, 0.5, 0.45)
    assert choice.threshold_rank == 2
    # The next lower score of any class is the normal at 0.5.
    assert choice.threshold == pytest.approx(_sigmoid((_logit(0.7) + _logit(0.5)) / 2))
    assert choice.threshold_precision == pytest.approx(2 / 3)  # 0.95, 0.7 and the normal at 0.8
    # Nothing scores below the lowest defect: the threshold is that defect's score.
    choice = choose_threshold(np.array([0.6, 0.9, 0.7]), np.array([1, 1, 0]), 0.5, 0.5)
    assert choice.threshold_rank == 1 and choice.threshold == pytest.approx(0.6)


def test_too_few_defects_warn_with_the_number_needed():
    prob, label = _split(21, 20)
    with pytest.warns(RecallWarning, match="validation holds 21 defects; target recall 0.9 with confidence 0.9 "
                                           "needs at least 22 defects; add defects to validation or lower "
                                           "train.target_recall"):
        choice = choose_threshold(prob, label, 0.9, 0.9)
    assert not choice.threshold_supported and choice.threshold_rank == 1
    assert "needs at least 22" in choice.threshold_warning
    assert choice.recall_confidence_achieved == pytest.approx(1 - 0.9**21)
    # Every validation defect is caught, which is the most the split can say.
    assert m.classification_metrics(prob, label, choice.threshold)["recall"] == 1.0
    assert defects_needed(0.9, 0.9) == 22 and defects_needed(0.99, 0.9) == 230
    with pytest.warns(RecallWarning, match="cannot be supported by any number of defects"):
        assert not choose_threshold(prob, label, 1.0, 0.9).threshold_supported


def test_no_defects_falls_back_and_warns():
    with pytest.warns(RecallWarning, match="no defects"):
        choice = choose_threshold(np.array([0.2, 0.7]), np.array([0, 0]), 0.9, 0.9)
    assert choice.threshold == FALLBACK_THRESHOLD and choice.threshold_rank is None
    assert choice.expected_recall_interval is None and not choice.threshold_supported


def test_higher_confidence_never_raises_the_threshold():
    prob, label = _split(200, 100, seed=3)
    choices = [choose_threshold(prob, label, 0.9, c) for c in (0.5, 0.7, 0.8, 0.9, 0.95, 0.99)]
    ranks = [c.threshold_rank for c in choices]
    thresholds = [c.threshold for c in choices]
    assert ranks == sorted(ranks, reverse=True) and thresholds == sorted(thresholds, reverse=True)
    assert ranks[0] > ranks[-1]
    for c in choices:
        assert c.recall_confidence_achieved >= c.recall_confidence
        low, high = c.expected_recall_interval
        assert low < c.expected_recall < high


def test_rank_one_interval_is_the_beta_n_1_quantiles():
    # Beta(n, 1) has CDF x**n, so its q-quantile is q**(1/n).
    low, high = recall_interval(30, 1, 0.9)
    assert (low, high) == pytest.approx((0.05 ** (1 / 30), 0.95 ** (1 / 30)))


def test_confidence_holds_in_simulation():
    """Brute force: over many validation splits, the true recall of the chosen threshold is at
    least the target as often as the confidence says, and inside the interval about 90 % of the time."""
    n, trials, target, confidence = 60, 3000, 0.9, 0.8
    recalls, achieved, interval = [], None, None
    for seed in range(trials):
        prob, label = _split(n, 400, seed)
        choice = choose_threshold(prob, label, target, confidence)
        recalls.append(1.0 - choice.threshold)  # defects are uniform: true recall = 1 - threshold
        achieved, interval = choice.recall_confidence_achieved, choice.expected_recall_interval
    recalls = np.array(recalls)
    # Mid-gap placement catches a little more than the rank's score: at least the stated confidence.
    assert achieved - 0.025 <= np.mean(recalls >= target) <= achieved + 0.04
    assert 0.88 <= np.mean((recalls >= interval[0]) & (recalls <= interval[1])) <= 0.93
    # The old rule (catch ceil(0.9 n) of the validation defects) reaches the target about half the time.
    old = np.array([1.0 - np.sort(_split(n, 0, s)[0])[n - math.ceil(target * n)] for s in range(trials)])
    assert np.mean(old >= target) < 0.7


def _tiles(n_parts: int, per_part: int, seed: int) -> np.ndarray:
    """Defect scores of ``n_parts`` parts shot ``per_part`` times: a part's shots score alike."""
    rng = np.random.default_rng(seed)
    return np.repeat(0.1 + 0.8 * rng.uniform(size=n_parts), per_part) + rng.uniform(-0.1, 0.1, n_parts * per_part)


def test_with_parts_the_confidence_holds_where_counting_images_overstates_it():
    """Six shots of one part are not six defects: ranked as images, 30 parts x 6 shots promise a
    confidence they do not reach; ranked as parts (by their lowest shot), they keep it."""
    population = np.sort(_tiles(100_000, 1, seed=10**6))  # a new part's shot: one draw of the same model
    n_parts, per_part, target, confidence, trials = 30, 6, 0.8, 0.8, 500
    names = [f"tile-{i}" for i in range(n_parts) for _ in range(per_part)]
    label = np.ones(n_parts * per_part, int)
    reached, stated = {"parts": [], "images": []}, {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RecallWarning)
        for seed in range(trials):
            prob = _tiles(n_parts, per_part, seed)
            for rule, parts in (("parts", names), ("images", None)):
                choice = choose_threshold(prob, label, target, confidence, parts=parts)
                true_recall = 1.0 - np.searchsorted(population, choice.threshold) / population.size
                reached[rule].append(true_recall >= target)
                stated[rule] = choice.recall_confidence_achieved
    assert choice.n_val_defects == 180 and choice.n_val_defect_parts is None
    assert np.mean(reached["parts"]) >= stated["parts"] >= confidence
    assert np.mean(reached["images"]) < confidence - 0.08 < stated["images"]


def test_a_part_is_ranked_by_its_lowest_defect_image():
    # Two parts of three shots; part b's lowest shot (0.3) is below every shot of part a.
    prob = np.array([0.9, 0.8, 0.7, 0.95, 0.3, 0.6, 0.1, 0.2])
    label = np.array([1, 1, 1, 1, 1, 1, 0, 0])
    parts = ["a", "a", "a", "b", "b", "b", None, None]
    with pytest.warns(RecallWarning, match=r"validation holds 2 defective parts \(6 images\); .* needs at "
                                           r"least 22 defective parts; add defective parts to validation"):
        choice = choose_threshold(prob, label, 0.9, 0.9, parts=parts)
    assert (choice.n_val_defects, choice.n_val_defect_parts, choice.threshold_rank) == (6, 2, 1)
    assert 0.2 < choice.threshold <= 0.3 and choice.expected_recall == pytest.approx(2 / 3)
    # No defect image names a part (none at all, or normals only): ranked image by image, as without parts.
    plain = choose_threshold(prob, label, 0.5, 0.5)
    for unnamed in ([None] * 8, [None] * 6 + ["n", "n"]):
        assert choose_threshold(prob, label, 0.5, 0.5, parts=unnamed) == plain
    # One named defect part among unnamed ones: the rest are parts of their own, stated as parts.
    one = choose_threshold(prob, label, 0.5, 0.5, parts=["a", "a"] + [None] * 6)
    # Part scores 0.3, 0.6, 0.7, 0.8 (a: 0.9 and 0.8), 0.95; P(Beta(5 - j + 1, j) >= 0.5) >= 0.5 up to j = 3.
    assert (one.n_val_defect_parts, one.threshold_rank) == (5, 3) and 0.6 < one.threshold <= 0.7
    with pytest.raises(ValueError, match="parts names 3 images but there are 8 scores"):
        choose_threshold(prob, label, 0.5, 0.5, parts=["a"] * 3)


def test_part_recall_counts_parts_with_every_defect_image_caught():
    prob = np.array([0.9, 0.4, 0.8, 0.7, 0.6, 0.9])
    label = np.array([1, 1, 1, 1, 1, 0])
    parts = ["a", "a", "b", "b", None, "a"]  # a normal shot of part a does not count
    assert part_recall(prob, label, 0.5, parts) == (2, 3)  # b and the unnamed image; a misses its 0.4
    assert part_recall(prob, label, 0.3, parts) == (3, 3)
    assert part_recall(prob, label, 0.5, None) == (4, 5)  # without parts: images
    assert part_recall(prob, label, 0.5, [None] * 5 + ["a"]) == (4, 5)  # a part named on a normal only


def test_a_threshold_ranked_on_parts_is_checked_on_the_split_parts():
    val = _tiles(60, 6, seed=2)
    names = [f"t{i}" for i in range(60) for _ in range(6)]
    meta = choose_threshold(val, np.ones(360, int), 0.9, 0.8, parts=names).to_dict()
    assert meta["n_val_defect_parts"] == 60
    check = recall_check(meta, 0.97, 120, parts_caught=(19, 20))
    assert check["recall_unit"] == "parts" and check["split_checked_defects"] == 20
    assert check["split_checked_recall"] == pytest.approx(0.95)
    low, high = check["split_recall_interval"]
    assert check["split_recall_interval"] == list(split_recall_interval(60, meta["threshold_rank"], 20))
    assert check["recall_inside_interval"] == (low <= 0.95 <= high)
    assert not recall_check(meta, 0.97, 120, parts_caught=(5, 20))["recall_inside_interval"]
    with pytest.raises(ValueError, match="rank counts parts"):
        recall_check(meta, 0.97, 120)
    nothing = recall_check(meta, 0.0, 0, parts_caught=(0, 0))  # a split without defects checks nothing
    assert nothing["split_checked_recall"] is None and nothing["recall_inside_interval"] is None


def test_split_interval_covers_measured_recall():
    """The recall measured on 50 new defects falls in the split interval at least 90 % of the time."""
    n, split_defects, rank = 30, 50, 1
    low, high = split_recall_interval(n, rank, split_defects)
    assert low <= recall_interval(n, rank)[0] and high >= recall_interval(n, rank)[1]
    rng = np.random.default_rng(1)
    true_recall = 1.0 - rng.beta(rank, n - rank + 1, size=5000)  # 1 - U_(1) of n uniforms
    measured = rng.binomial(split_defects, true_recall) / split_defects
    assert np.mean((measured >= low) & (measured <= high)) >= 0.9


@pytest.mark.parametrize(("target", "confidence", "name"), [(0.0, 0.9, "target_recall"), (0.9, 1.0, "confidence"),
                                                            (0.9, 0.0, "confidence")])
def test_out_of_range_inputs_are_named(target, confidence, name):
    with pytest.raises(ValueError, match=name):
        choose_threshold(np.array([0.2, 0.7]), np.array([0, 1]), target, confidence)


def test_loc_threshold_maximises_mean_iou():
    loc = np.full((3, 8, 8), 0.1)
    masks = np.zeros((3, 8, 8), bool)
    masks[:, 2:5, 2:5] = True
    loc[masks] = 0.3  # defect pixels at 0.3, background at 0.1: IoU 1 for 0.1 < t <= 0.3
    loc[2] = 0.9  # not selected (a normal image): does not count
    select = np.array([True, True, False])
    t = choose_loc_threshold(loc, masks, select)
    assert t == pytest.approx(0.3)  # of the equal IoUs (0.15 .. 0.3), the one nearest 0.5
    assert m.localization_metrics(loc, masks, select, t)["loc_iou"] == pytest.approx(1.0)
    assert m.localization_metrics(loc, masks, select)["loc_iou"] == 0.0  # the fixed 0.5 draws nothing


def test_loc_threshold_without_masked_defects_is_the_default():
    loc = np.random.default_rng(0).uniform(size=(2, 4, 4))
    assert choose_loc_threshold(loc, np.zeros((2, 4, 4), bool), np.array([False, False])) == m.LOC_THRESHOLD


def _predictions(n: int, seed: int) -> Predictions:
    """n defects (masked, localization 0.3 on the mask) and n normals with uniform scores."""
    rng = np.random.default_rng(seed)
    label = np.r_[np.ones(n, int), np.zeros(n, int)]
    prob = np.r_[0.5 + 0.5 * rng.uniform(size=n), 0.6 * rng.uniform(size=n)]
    mask = np.zeros((2 * n, 8, 8), bool)
    mask[:n, 2:5, 2:5] = True
    localization = np.where(mask, 0.3, 0.05)
    maps = rng.uniform(size=(2 * n, 8, 8))
    return Predictions(prob, label, maps, maps, localization, mask, label == 1)


def test_history_record_carries_both_thresholds_and_the_expected_recall():
    pred = _predictions(40, 0)
    row = history_metrics(pred, choose_threshold(pred.prob, pred.label, 0.9, 0.9))
    assert set(HISTORY_KEYS) <= set(row) and set(CHOICE_KEYS) <= set(row)
    assert row["loc_threshold"] == pytest.approx(0.3) and row["loc_iou"] == pytest.approx(1.0)
    assert row["n_val_defects"] == 40 and row["threshold_supported"]


def test_eval_checks_the_measured_recall_against_the_split_interval():
    val = _predictions(40, 0)
    meta = choose_threshold(val.prob, val.label, 0.9, 0.9).to_dict()
    test = _predictions(30, 1)
    metrics = {"checkpoint": "best.pt", "data_root": "data", "split": "test", "strategy": "S5", "backbone": "b",
               "image_size": 8, "threshold_val_precision": meta["threshold_precision"]}
    scores = score(test, meta["threshold"], 0.3)
    metrics.update(recall_check(meta, scores["recall"], scores["n_defective"]), **scores)
    low, high = metrics["split_recall_interval"]
    assert low <= metrics["recall"] <= high and metrics["recall_inside_interval"]
    text = render_report(metrics)
    assert f"measured recall should lie in {low:.4f}-{high:.4f}" in text and "inside." in text
    assert "| 0.3 (validation) | 1.0000 |" in text  # localization at the chosen threshold, 0.5 beside it
    # A recall below the interval is flagged; a checkpoint without ranks has no interval to check against.
    assert not recall_check(meta, low - 0.1, 30)["recall_inside_interval"]
    assert "**outside**" in render_report({**metrics, "recall_inside_interval": False})
    assert recall_check({"threshold": 0.4}, 0.9, 30)["split_recall_interval"] is None
