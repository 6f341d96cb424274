"""benchmarks/train_speed.py's report: ratios within rounds, targets met or missed, the quality gap."""

from __future__ import annotations

from dataclasses import asdict

import pytest

from tests.conftest import benchmark_script


@pytest.fixture(scope="module")
def bench():
    return benchmark_script("train_speed")


def _speed(bench, new: list[float]) -> dict:
    case = bench.Case("tf_efficientnet_lite0", 224, 3, 2, 3.0, (bench.TODAY, bench.NEW))
    name = bench.case_name(case)
    return {"data": "test data", "threads": 2, "load_1min": [1.0, 2.0],
            "cases": [asdict(case)], "speed": {name: {bench.TODAY: [10.0, 5.0, 20.0], bench.NEW: new}},
            "cache_fill": {name: {"seconds": 1.0, "mib": 2.0, "in_memory": True}}}


FINGERPRINT = {"slug": "cpu-test", "cpu": {"model": "Test CPU", "usable_cores": 2, "isa": ["avx2"]},
               "memory_gib": 8, "python": "3.11", "libraries": {"torch": "2", "timm": "1"}}


def test_ratios_are_taken_within_rounds(bench):
    # Medians of images/s give 15/10 = 1.5x; the rounds' own ratios are 3x each.
    text = bench.report(_speed(bench, [30.0, 15.0, 60.0]), None, FINGERPRINT, "cmd", 60.0)
    assert "| bf16 + cache (new default) | 30.00 | 15.00-60.00 | 3.00 |" in text
    assert "Target 3x for the new default: 3.00x, **met**." in text
    assert "no CUDA row was measured" in text and "`cmd`; wall time 1.0 min" in text


def test_a_missed_target_says_by_how_much(bench):
    text = bench.report(_speed(bench, [20.0, 10.0, 40.0]), None, FINGERPRINT, "cmd", 60.0)
    assert "2.00x, **missed by 1.00x**" in text


@pytest.mark.parametrize(("bf16_auroc", "verdict"), [(0.905, "**met**"), (0.88, "**missed by 0.0100**")])
def test_quality_gap_is_judged_on_the_largest_same_seed_auroc_gap(bench, bf16_auroc, verdict):
    def runs(off: float, bf16: float) -> dict:
        return {"off": {"train_seconds": 100.0, "metrics": {"auroc": off, "recall": 0.9}},
                "bf16": {"train_seconds": 60.0, "metrics": {"auroc": bf16, "recall": 0.9}}}

    quality = {"commands": ["gainctl train"], "results": {"42": runs(0.9, bf16_auroc), "43": runs(0.95, 0.95)}}
    text = bench.report(_speed(bench, [30.0, 15.0, 60.0]), quality, FINGERPRINT, "cmd", 60.0)
    assert "| 42 | float32 | 100 | 0.9000 | - | - | 0.9000 |" in text  # metrics missing from eval show as -
    assert f"largest, {abs(bf16_auroc - 0.9):.4f}, against the target of 0.01: {verdict}" in text
    assert "float32 alone spans 0.0500 AUROC" in text
