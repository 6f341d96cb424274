"""Latency statistics: the percentiles every benchmark table quotes.

Written out rather than delegated so the definition is pinned: linear interpolation between the
two nearest ranks (numpy's default, the "type 7" estimator), the same on a camera and on a desk.
"""

from __future__ import annotations

import math
from typing import Iterable, Sequence

# The columns of every latency summary, in table order.
PERCENTILES: tuple[tuple[str, float], ...] = (("p50", 50.0), ("p90", 90.0), ("p95", 95.0), ("p99", 99.0))


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) of values already sorted ascending, linearly interpolated."""
    if not sorted_values:
        raise ValueError("percentile of an empty sample: measure at least one run")
    if not 0.0 <= q <= 100.0:
        raise ValueError(f"percentile {q} is outside 0..100")
    position = (len(sorted_values) - 1) * q / 100.0
    low = math.floor(position)
    high = min(low + 1, len(sorted_values) - 1)
    fraction = position - low
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * fraction


def summarize(samples: Iterable[float]) -> dict[str, float]:
    """min / p50 / p90 / p95 / p99 / max / mean / n of a latency sample (any unit, kept as is)."""
    ordered = sorted(float(v) for v in samples)
    if not ordered:
        raise ValueError("no latency samples to summarize: measure at least one run")
    summary: dict[str, float] = {"n": len(ordered), "min": ordered[0]}
    for name, q in PERCENTILES:
        summary[name] = percentile(ordered, q)
    summary["max"] = ordered[-1]
    summary["mean"] = math.fsum(ordered) / len(ordered)
    return summary
