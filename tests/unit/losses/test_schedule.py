"""The strategy weight table and the four-stage schedule (design sections 3.3, 4, 5)."""

from __future__ import annotations

import pytest

from gain_mtl.schedule import (
    LOSS_NAMES,
    STAGES,
    STRATEGIES,
    check_strategy,
    final_logits_key,
    loss_weights,
    s6_alpha,
    stage_at,
    trains_localization,
)

# design table 3.3: cls, am, cam_guide, loc, guide, cf, consist
TABLE = {
    "S1": (1.0, 0, 0, 0, 0, 0, 0),
    "S2": (1.0, 0, 0.3, 0, 0, 0, 0),
    "S3": (0.3, 1.0, 1.0, 0, 0.5, 0, 0),
    "S4": (0.3, 1.0, 1.0, 0.2, 0.5, 0, 0.2),
    "S5": (0.3, 1.0, 1.0, 0.2, 0.5, 0.3, 0.2),
    "S6": (0.3, 1.0, 1.0, 0.2, 0.5, 0.3, 0.2),
}
ADDED_AT = {"cls": 1, "am": 2, "guide": 2, "cam_guide": 2, "loc": 3, "consist": 3, "cf": 4}
STAGE_STARTS = {1: 0.0, 2: 0.25, 3: 0.5, 4: 0.75}


def expected(strategy: str, stage: int, loc_ramp: float = 1.0) -> dict[str, float]:
    target = dict(zip(LOSS_NAMES, TABLE[strategy]))
    out = {n: (target[n] if ADDED_AT[n] <= stage else 0.0) for n in LOSS_NAMES}
    out["loc"] *= loc_ramp
    return out


@pytest.mark.parametrize("strategy", list(TABLE))
def test_weight_table_at_stage_boundaries(strategy):
    assert loss_weights(strategy, 0.0) == expected(strategy, 1)
    assert loss_weights(strategy, 0.2499) == expected(strategy, 1)
    assert loss_weights(strategy, 0.25) == expected(strategy, 2)
    assert loss_weights(strategy, 0.5) == expected(strategy, 3, loc_ramp=0.0)  # warm-up starts at 0
    assert loss_weights(strategy, 0.625) == expected(strategy, 3, loc_ramp=1.0)  # warm-up done
    assert loss_weights(strategy, 0.75) == expected(strategy, 4)
    assert loss_weights(strategy, 0.99) == expected(strategy, 4)


@pytest.mark.parametrize("strategy", ["S4", "S5", "S6"])
def test_loc_warmup_midpoint_and_ratio(strategy):
    mid = 0.5 + 0.5 * 0.5 * 0.25  # halfway through the first half of stage 3
    assert loss_weights(strategy, mid)["loc"] == pytest.approx(0.1)
    assert loss_weights(strategy, 0.5, loc_warmup_ratio=0.0)["loc"] == pytest.approx(0.2)
    assert loss_weights(strategy, 0.5 + 0.25 * 0.5, loc_warmup_ratio=1.0)["loc"] == pytest.approx(0.1)


def test_stages_and_final_heads():
    assert [stage_at(p) for p in (0.0, 0.24, 0.25, 0.5, 0.74, 0.75, 0.999, 1.0)] == [1, 1, 2, 3, 3, 4, 4, 4]
    assert [s.start for s in STAGES] == list(STAGE_STARTS.values())
    assert {n for s in STAGES for n in s.adds} == set(LOSS_NAMES)
    assert [final_logits_key(s) for s in STRATEGIES] == ["cls_logits"] * 2 + ["attended_cls_logits"] * 4


def test_s6_alpha_schedule():
    assert s6_alpha("S5", 0.3) is None
    assert s6_alpha("S6", 0.0) == pytest.approx(0.5)
    assert s6_alpha("S6", 0.5) == pytest.approx(0.25)
    assert s6_alpha("S6", 1.0) == pytest.approx(0.0)
    assert s6_alpha("S6", 0.5, start=1.0, end=0.5) == pytest.approx(0.75)


def test_bad_strategy_and_progress_are_refused():
    with pytest.raises(ValueError, match="S1, S2, S3, S4, S5, S6"):
        check_strategy("S7")
    with pytest.raises(ValueError, match="progress"):
        loss_weights("S5", 1.5)
    with pytest.raises(ValueError, match="loc_warmup_ratio"):
        loss_weights("S5", 0.5, loc_warmup_ratio=2.0)


def test_only_strategies_with_a_localization_loss_train_the_localization_head() -> None:
    assert [name for name in STRATEGIES if trains_localization(name)] == ["S4", "S5", "S6"]
    with pytest.raises(ValueError, match="unknown strategy 'S9'"):
        trains_localization("S9")
