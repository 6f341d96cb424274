"""best.pt selection: only epochs with every loss at full weight; the metric per strategy."""

import pytest

from gain_mtl.evaluate.scores import HISTORY_KEYS
from gain_mtl.schedule import STRATEGIES, loss_weights
from gain_mtl.train.selection import (
    AUROC_LOC,
    allowed_metrics,
    first_eligible_epoch,
    is_eligible,
    metric_value,
    resolve_metric,
)


@pytest.mark.parametrize("strategy", list(STRATEGIES))
@pytest.mark.parametrize("epochs", [4, 8, 12, 20, 100])
def test_eligible_epochs_train_every_loss_at_full_weight(strategy, epochs):
    target = dict(STRATEGIES[strategy].weights)
    eligible = [e for e in range(epochs) if is_eligible(strategy, e, epochs, 0.5)]
    assert eligible, "a run of four or more epochs always has an eligible epoch"
    assert eligible == list(range(eligible[0], epochs)), "eligibility, once reached, holds to the end"
    for e in range(epochs):
        full = loss_weights(strategy, e / epochs, 0.5) == target
        assert is_eligible(strategy, e, epochs, 0.5) == full


def test_s5_only_from_the_last_stage_and_s1_from_the_start():
    assert first_eligible_epoch("S1", 20, 0.5) == 0
    assert first_eligible_epoch("S5", 20, 0.5) == 15  # stage 4 starts at 0.75
    assert first_eligible_epoch("S4", 20, 0.5) == 13  # loc at full weight after half of stage 3
    assert first_eligible_epoch("S3", 20, 0.5) == 5


def test_too_short_a_run_falls_back_to_the_last_epoch():
    assert first_eligible_epoch("S5", 2, 0.5) is None
    assert [is_eligible("S5", e, 2, 0.5) for e in range(2)] == [False, True]


def test_auto_metric_includes_localization_where_the_strategy_trains_it():
    assert [resolve_metric(s, "auto") for s in ("S1", "S2", "S3")] == ["auroc"] * 3
    assert [resolve_metric(s, "auto") for s in ("S4", "S5", "S6")] == [AUROC_LOC] * 3
    assert resolve_metric("S5", "f1") == "f1"
    assert set(HISTORY_KEYS) < set(allowed_metrics(HISTORY_KEYS))


def test_metric_value_sums_terms_and_is_none_when_one_is_undefined():
    assert metric_value({"auroc": 0.9, "loc_iou": 0.4}, AUROC_LOC) == pytest.approx(1.3)
    assert metric_value({"auroc": 0.9, "loc_iou": None}, AUROC_LOC) is None
    assert metric_value({"auroc": 0.75}, "auroc") == 0.75
