"""What a run counts: decisions by kind, faults by reason, and a bounded sample of latencies.

Kept apart from the threads so that counting is a plain function of the events a station
decided: the summary says exactly what the sinks were told.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

import numpy as np

from edge.events import ACCEPT, FAULT, REJECT, Event

# The summary's latency percentiles are computed from at most this many inspected frames, so a
# camera running for months keeps a fixed ~0.3 MB for them (see LatencySample).
LATENCY_SAMPLE_SIZE = 10_000


class LatencySample:
    """A uniform random sample of a run's latencies, at most ``size`` of them (Vitter's algorithm R).

    The percentiles then describe the whole run, not only its last frames: exactly while at most
    ``size`` frames were inspected, estimated from ``size`` equally likely ones beyond that (p99
    from ~100 values above it with the default size). Seeded: which frames are kept depends only
    on how many there were.
    """

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError(f"a latency sample holds at least 1 value, got {size}")
        self.size = size
        self.seen = 0
        self.values: List[float] = []
        self._random = random.Random(0)

    def add(self, value: float) -> None:
        self.seen += 1
        if len(self.values) < self.size:
            self.values.append(value)
            return
        slot = self._random.randrange(self.seen)
        if slot < self.size:
            self.values[slot] = value

    def percentiles(self) -> Dict[str, float]:
        """p50/p90/p99 in the values' unit; empty when nothing was added."""
        if not self.values:
            return {}
        lat = np.asarray(self.values)
        return {f"p{q}": round(float(np.percentile(lat, q)), 3) for q in (50, 90, 99)}


@dataclass
class Summary:
    """What a run did, as the console's last line, the ``summary`` status event and ``bench --stream`` report it.

    ``frames`` counts decisions (accepts, rejects and faults, one per frame slot); ``dropped`` the
    frames ``latest`` mode replaced before their turn, which are owed none.
    """

    frames: int = 0
    accepts: int = 0
    rejects: int = 0
    faults: int = 0
    dropped: int = 0
    sink_errors: int = 0
    fault_reasons: Dict[str, int] = field(default_factory=dict)
    # p50/p90/p99 over the inspected frames (accepts and rejects): all of them when there were at
    # most LATENCY_SAMPLE_SIZE, else a uniform sample of that many; latency_samples says how many.
    latency_ms: Dict[str, float] = field(default_factory=dict)
    latency_samples: int = 0
    fps: float = 0.0
    elapsed_s: float = 0.0
    # Queued sinks (webhook, MQTT) by name: delivered, pending, failures, refused, overflowed when
    # the summary was made (pending ones are still sent at close or by the next run).
    sinks: Dict[str, Dict[str, int]] = field(default_factory=dict)
    # A line of several stations: each station's own summary, by station name, and how many batches
    # of each size went to the runner (both empty, and left out of to_dict, for one source).
    stations: Dict[str, "Summary"] = field(default_factory=dict)
    batches: Dict[int, int] = field(default_factory=dict)

    def to_dict(self) -> Dict[str, Any]:
        data = {k: v for k, v in self.__dict__.items() if k not in ("stations", "batches")}
        if self.stations:
            data["stations"] = {name: s.to_dict() for name, s in self.stations.items()}
            data["batches"] = dict(self.batches)
        return data

    def format(self) -> str:
        text = self._counts()
        text += "".join(f"; {name}: " + " ".join(f"{k}={v}" for k, v in counts.items())
                        for name, counts in self.sinks.items())
        if self.batches:
            text += " batches " + " ".join(f"{size}x{count}" for size, count in self.batches.items())
        return text + "".join(f"\n  {name}: {s._counts()}" for name, s in self.stations.items())

    def _counts(self) -> str:
        lat = " ".join(f"{k}={v:.1f}ms" for k, v in self.latency_ms.items()) or "n/a"
        reasons = ", ".join(f"{k}={v}" for k, v in sorted(self.fault_reasons.items()))
        return (f"frames={self.frames} accepts={self.accepts} rejects={self.rejects} faults={self.faults}"
                f"{f' ({reasons})' if reasons else ''} dropped={self.dropped} sink_errors={self.sink_errors} "
                f"latency {lat} fps={self.fps:.1f} elapsed={self.elapsed_s:.1f}s")


class Tally:
    """Counts one station's decision events as they are dispatched (called from its output thread only)."""

    def __init__(self, sample_size: Optional[int] = None) -> None:
        self.summary = Summary()
        self.latencies = LatencySample(sample_size or LATENCY_SAMPLE_SIZE)

    def count(self, event: Event) -> None:
        s = self.summary
        s.frames += 1
        if event.decision == ACCEPT:
            s.accepts += 1
        elif event.decision == REJECT:
            s.rejects += 1
        else:
            s.faults += 1
            s.fault_reasons[event.reason or "unknown"] = s.fault_reasons.get(event.reason or "unknown", 0) + 1
        if event.decision != FAULT:
            self.latencies.add(event.latency_ms)

    def close(self, elapsed_s: float, dropped: int) -> Summary:
        """The summary at the run's end: rates over ``elapsed_s``, percentiles of the sample."""
        s = self.summary
        s.dropped = dropped
        s.elapsed_s = round(elapsed_s, 3)
        s.fps = round(s.frames / s.elapsed_s, 2) if s.elapsed_s > 0 else 0.0
        s.latency_ms = self.latencies.percentiles()
        s.latency_samples = len(self.latencies.values)
        return s


def combine(stations: Dict[str, Tally], elapsed_s: float) -> Summary:
    """A line's summary from its stations' closed tallies: counts added up, each station's own kept.

    The line's percentiles are over the union of the stations' samples: exact while no station
    inspected more than its sample holds, a sample weighted towards the quieter stations beyond.
    """
    total = Tally(max(1, sum(len(t.latencies.values) for t in stations.values())))
    s = total.summary
    for tally in stations.values():
        part = tally.summary
        s.frames += part.frames
        s.accepts += part.accepts
        s.rejects += part.rejects
        s.faults += part.faults
        for reason, n in part.fault_reasons.items():
            s.fault_reasons[reason] = s.fault_reasons.get(reason, 0) + n
        for value in tally.latencies.values:
            total.latencies.add(value)
    total.close(elapsed_s, sum(t.summary.dropped for t in stations.values()))
    s.stations = {name: t.summary for name, t in stations.items()}
    return s
