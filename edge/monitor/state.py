"""What the monitor's process knows about the line: counters, the last minute, health and an event ring.

The monitor's process reads the line's events from the feed (edge/monitor/feed.py) and hands each
to ``MonitorState.note``, which does O(1) work: it counts, remembers the latest decision with
pixels and the last rejects, and appends the event to a fixed ring. The pixels themselves stay in
the line's process until a picture is drawn. The web server's threads read the state: a reader
that falls behind the ring loses the oldest events, never delays the newest.
"""

from __future__ import annotations

import bisect
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable, Deque, Dict, List, Optional, Tuple

import numpy as np

from edge.events import ACCEPT, FAULT, REASON_INFERENCE_TIMEOUT, REJECT, Event

# Frame-to-decision buckets (seconds) of the /metrics histogram: 1 ms to 10 s.
LATENCY_BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
WINDOW_S = 60.0
EVENT_RING = 1024
REJECTS_SHOWN = 20
# No decision for this long while the run is on: frames stopped flowing (a camera that is away
# without a reconnect report, or a pipeline that is stuck).
STALL_S = 5.0
SOURCE_DOWN = ("source_lost", "source_gave_up")


class EventRing:
    """The newest ``size`` events, written by one thread and read by many without a lock.

    Each event has a sequence number; a reader keeps its cursor and asks for what came after it.
    The writer never waits: a reader more than ``size`` events behind skips the oldest ones.
    """

    def __init__(self, size: int = EVENT_RING) -> None:
        if size < 1:
            raise ValueError(f"an event ring holds at least 1 event, got {size}")
        self.size = size
        self.written = 0
        self._items: List[Any] = [None] * size

    def append(self, item: Any) -> None:
        self._items[self.written % self.size] = item
        self.written += 1  # published after the item is in place

    def since(self, cursor: int) -> Tuple[List[Any], int, int]:
        """(events after ``cursor``, the new cursor, how many were skipped because they were overwritten)."""
        end = self.written
        start = max(cursor, end - self.size)
        items = [self._items[i % self.size] for i in range(start, end)]
        overwritten = self.written - self.size  # the writer may have lapped the oldest while we copied
        if overwritten > start:
            items = items[overwritten - start:]
            start = overwritten
        return items, end, start - cursor


@dataclass
class Counts:
    """Decisions by kind and faults by reason since the start, plus the frame-to-decision histogram."""

    decisions: Dict[str, int] = field(default_factory=lambda: {ACCEPT: 0, REJECT: 0, FAULT: 0})
    fault_reasons: Dict[str, int] = field(default_factory=dict)
    latency_buckets: List[int] = field(default_factory=lambda: [0] * (len(LATENCY_BUCKETS_S) + 1))
    latency_sum_s: float = 0.0

    def copy(self) -> "Counts":
        return Counts(dict(self.decisions), dict(self.fault_reasons), list(self.latency_buckets), self.latency_sum_s)


@dataclass
class Second:
    """One second of the window: decisions made in it and the frame-to-decision latencies (s) of the inspected ones."""

    start: int
    decisions: int = 0
    latencies_s: List[float] = field(default_factory=list)


@dataclass
class Health:
    ok: bool
    reason: str


class MonitorState:
    """The line as the monitor's process sees it; ``note`` counts and keeps references, nothing else.

    Times are seconds since the epoch, as events carry them: the line's process and the monitor's
    read the same clock, so an event's own time stamp and ``clock()`` compare directly.
    """

    def __init__(self, *, stall_s: float = STALL_S, window_s: float = WINDOW_S, rejects: int = REJECTS_SHOWN,
                 ring: int = EVENT_RING, clock: Callable[[], float] = time.time) -> None:
        self.stall_s, self.window_s, self._clock = stall_s, window_s, clock
        self.events = EventRing(ring)
        self._lock = threading.Lock()
        self._counts = Counts()
        # Whole seconds, so a reader copies about 60 references under the lock, however fast the line.
        self._window: Deque[Second] = deque(maxlen=int(window_s) + 2)
        self._rejects: Deque[Event] = deque(maxlen=rejects)  # with pixels in the line's process
        self.latest: Optional[Event] = None  # the newest decision with pixels
        self.last_decision: Optional[Event] = None
        self.started = clock()
        self._first_decision_t: Optional[float] = None
        self._last_decision_t: Optional[float] = None
        self._ended_t: Optional[float] = None
        # (status reason, since) per station whose source is away: one camera coming back says nothing of another
        self._source_down: Dict[Optional[str], Tuple[str, float]] = {}
        self._stalled: Optional[str] = None

    # -- the feed's side: O(1) ----------------------------------------------------------------
    def note(self, event: Event, pixels: bool = False, text: Optional[str] = None) -> None:
        """One event of the line, in order; ``pixels``: the line kept its frame (a decision that can be drawn).

        The ring keeps the event's JSON (``text`` when the line sent it, so it is not made twice) for ``/events``.
        """
        self.events.append(text if text is not None else event.to_json())
        if event.kind == "status":
            self._note_status(event)
        elif event.kind == "decision":
            self._note_decision(event, pixels)

    def _note_decision(self, event: Event, pixels: bool) -> None:
        now = self._when(event)
        decision = event.decision or FAULT
        latency_s = None if decision == FAULT or event.latency_ms is None else event.latency_ms / 1000.0
        with self._lock:
            counts = self._counts
            counts.decisions[decision] = counts.decisions.get(decision, 0) + 1
            if decision == FAULT:
                reason = event.reason or "unknown"
                counts.fault_reasons[reason] = counts.fault_reasons.get(reason, 0) + 1
            if latency_s is not None:
                counts.latency_buckets[bisect.bisect_left(LATENCY_BUCKETS_S, latency_s)] += 1
                counts.latency_sum_s += latency_s
            if not self._window or self._window[-1].start != int(now):
                self._window.append(Second(int(now)))
            second = self._window[-1]
            second.decisions += 1
            if latency_s is not None:
                second.latencies_s.append(latency_s)
            self.last_decision, self._last_decision_t = event, now
            if self._first_decision_t is None:
                self._first_decision_t = now
            if pixels:
                self.latest = event
                if decision == REJECT:
                    self._rejects.append(event)

    def _when(self, event: Event) -> float:
        """When the line made ``event``: its own time stamp, not when it reached this process.

        The monitor takes events in batches (edge/monitor/process.py), so arrival times bunch up: a
        window measured by them reads a batch of decisions as made in the same instant.
        """
        return event.ts_decision if event.ts_decision is not None else self._clock()

    def _note_status(self, event: Event) -> None:
        now = self._when(event)
        with self._lock:
            if event.reason in SOURCE_DOWN:
                self._source_down[event.station] = (event.reason, now)
            elif event.reason == "source_reconnected":
                self._source_down.pop(event.station, None)
            elif event.reason == REASON_INFERENCE_TIMEOUT:
                timeout = event.detail.get("timeout_s")
                self._stalled = "inference stalled: the runner answered nothing" + (f" within {timeout:g} s" if timeout else "")
            elif event.reason == "summary":
                self._ended_t = now

    # -- the monitor's side ---------------------------------------------------------------------
    def counts(self) -> Counts:
        with self._lock:
            return self._counts.copy()

    def rejects(self) -> List[Event]:
        """The last rejects with pixels, oldest first."""
        with self._lock:
            return list(self._rejects)

    def window(self) -> Dict[str, Any]:
        """Throughput and frame-to-decision p50/p99 over the last ``window_s`` (up to the run's end)."""
        with self._lock:
            until = self._ended_t if self._ended_t is not None else self._clock()
            first = self._first_decision_t
            recent = [s for s in self._window if s.start >= until - self.window_s]
            # Only the newest second still grows: copy it; the older ones are done.
            newest = Second(recent[-1].start, recent[-1].decisions, list(recent[-1].latencies_s)) if recent else None
        if newest is not None:
            recent[-1] = newest
        span = min(self.window_s, until - first) if first is not None else 0.0
        decisions = sum(s.decisions for s in recent)
        latencies = np.array([lat for s in recent for lat in s.latencies_s]) * 1000.0
        stats: Dict[str, Any] = {"window_s": self.window_s, "decisions": decisions,
                                 "fps": round(decisions / span, 2) if span > 0 else 0.0}
        for name, q in (("p50_ms", 50), ("p99_ms", 99)):
            stats[name] = round(float(np.percentile(latencies, q)), 3) if latencies.size else None
        return stats

    def health(self) -> Health:
        """Whether frames flow; when not, why (the first that applies of: ended, stalled, source down, no decisions)."""
        now = self._clock()
        with self._lock:
            ended, stalled, down, last = self._ended_t, self._stalled, dict(self._source_down), self._last_decision_t
        if ended is not None:
            return Health(False, "the run has ended")
        if stalled is not None:
            return Health(False, stalled)
        if down:
            return Health(False, "; ".join(
                ("source" if station is None else f"station {station}'s source") + " "
                + ("lost" if reason == "source_lost" else "lost for good (gave up reconnecting)") + f" {now - since:.1f} s ago"
                for station, (reason, since) in sorted(down.items(), key=lambda item: item[1][1])))
        if last is None:
            return Health(False, f"no frame decided yet ({now - self.started:.1f} s since start)")
        if now - last > self.stall_s:
            return Health(False, f"no decision for {now - last:.1f} s: frames stopped flowing")
        return Health(True, f"frames flowing: last decision {now - last:.2f} s ago")
