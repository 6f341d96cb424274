"""Percentiles against numpy's definition on known samples."""

from __future__ import annotations

import numpy as np
import pytest

from edge.bench.stats import percentile, summarize

SAMPLES = {
    "one": [7.0],
    "two": [1.0, 3.0],
    "ramp": list(range(1, 101)),
    "skewed": [1.0, 1.1, 1.2, 1.3, 9.0, 1.05, 1.15, 30.0, 1.0, 1.25, 1.3],
    "lognormal": list(np.random.default_rng(3).lognormal(2.0, 0.6, size=997)),
}


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_summary_matches_numpy(name: str) -> None:
    values = SAMPLES[name]
    summary = summarize(values)
    for key, q in (("p50", 50), ("p90", 90), ("p95", 95), ("p99", 99)):
        assert summary[key] == pytest.approx(np.percentile(values, q), rel=1e-12, abs=1e-12), key
    assert summary["min"] == min(values) and summary["max"] == max(values)
    assert summary["mean"] == pytest.approx(np.mean(values))
    assert summary["n"] == len(values)


def test_known_values() -> None:
    # 1..100: rank (n-1)*q/100 -> p50 between 50 and 51, p99 at 99.01.
    ramp = [float(v) for v in range(1, 101)]
    assert percentile(ramp, 50) == pytest.approx(50.5)
    assert percentile(ramp, 99) == pytest.approx(99.01)
    assert percentile(ramp, 0) == 1.0 and percentile(ramp, 100) == 100.0


def test_bad_input_is_named() -> None:
    with pytest.raises(ValueError, match="no latency samples"):
        summarize([])
    with pytest.raises(ValueError, match="empty sample"):
        percentile([], 50)
    with pytest.raises(ValueError, match="outside 0..100"):
        percentile([1.0], 101)
