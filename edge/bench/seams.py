"""Clocks at the pipeline's seams, for ``gainctl bench --stream``: the pipeline runs unchanged.

A source, a runner and a sink are wrapped to read the clock where a frame passes them; a source
can also release frames as a line camera does, one per slot at a given rate.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable, Iterator

import numpy as np

from edge.sinks.base import Sink
from edge.sources import StatusFn, ignore_status

# Paced runs release frames at this fraction of the throughput they are given: a loaded line that
# keeps up, where frame-to-decision is what a part waits for, not the queue of a saturated backend.
PACE_FRACTION = 0.8


class TimedSource:
    """Delegates to a source and records how long each frame took to come out of it."""

    def __init__(self, source: Any, rate_fps: float | None = None) -> None:
        self._source = source
        self._interval = 1.0 / rate_fps if rate_fps else 0.0
        self.capture_ms: list[float] = []
        self.sample: np.ndarray | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._source, name)

    def frames(self, report: StatusFn = ignore_status) -> Iterator[Any]:
        iterator = iter(self._source.frames(report))
        next_slot = time.monotonic()
        while True:
            start = time.perf_counter()
            try:
                frame = next(iterator)
            except StopIteration:
                return
            self.capture_ms.append((time.perf_counter() - start) * 1000.0)
            if self.sample is None and frame.image is not None:
                self.sample = frame.image.copy()
            if self._interval:
                # A camera delivers the frame at its slot: the capture time is when it is released.
                next_slot += self._interval
                time.sleep(max(0.0, next_slot - time.monotonic()))
                frame.ts_capture, frame.t_capture = time.time(), time.monotonic()
            yield frame


class TimedRunner:
    """Delegates to an active runner; records submit and completion times, in submission order."""

    def __init__(self, runner: Any) -> None:
        self._runner = runner
        self.submitted: list[float] = []
        self.completed: dict[int, float] = {}
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._runner, name)

    def submit(self, feed: dict[str, np.ndarray], callback: Callable[..., None]) -> None:
        with self._lock:
            index = len(self.submitted)
            self.submitted.append(time.perf_counter())

        def done(outputs: Any, error: Any) -> None:
            self.completed[index] = time.perf_counter()
            callback(outputs, error)

        self._runner.submit(feed, done)


class ClockSink(Sink):
    """Reads the clock when a decision event reaches it; put first and last around the real sinks."""

    name = "bench-clock"

    def __init__(self) -> None:
        self.times: list[float] = []
        self.events: list[Any] = []

    def send(self, event: Any, context: Any = None) -> None:
        if getattr(event, "kind", None) == "decision":
            self.times.append(time.perf_counter())
            self.events.append(event)

    def close(self) -> None:
        pass

    def notes(self) -> list[str]:
        return []
