"""The hand-off from capture to inference: frames of every station waiting for the runner.

A ``Pending`` is one frame on its way to a verdict; it is resolved exactly once (first writer
wins: the result, an error, a timeout). The ``Intake`` holds the pendings that need inference,
oldest first across stations, and each station's slots: frames holding pixels from capture to
decision, which bound memory.

- every-frame: a frame takes a slot at capture (waiting for one: a file as long as needed, a live
  camera briefly, after which the frame is an ``overflow`` fault) and is never replaced;
- latest: a station keeps at most one frame waiting; a newer one replaces it (counted as
  dropped), and the frame takes its slot only when the scheduler takes it, so capture never waits.

The end of a station's capture is reported to the scheduler once its last frame is taken
(``Batch.drained``): only then may its output stream end.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Deque, Dict, List, Optional

import numpy as np

from edge.decision import Verdict
from edge.sources import Frame


class Pending:
    """One frame on its way to a verdict, from station ``lane``; resolved once, first writer wins."""

    def __init__(self, frame: Frame, lane: Any) -> None:
        self.frame = frame
        self.lane = lane
        self.outputs: Optional[Dict[str, np.ndarray]] = None
        self.verdict: Optional[Verdict] = None
        self._done = threading.Event()
        self._lock = threading.Lock()

    def resolve(self, outputs: Optional[Dict[str, np.ndarray]] = None, verdict: Optional[Verdict] = None) -> bool:
        with self._lock:
            if self._done.is_set():
                return False
            self.outputs, self.verdict = outputs, verdict
            self._done.set()
            return True

    @property
    def done(self) -> bool:
        return self._done.is_set()

    def wait(self, timeout: Optional[float]) -> bool:
        return self._done.wait(timeout)


@dataclass
class Batch:
    """What the scheduler takes at once: frames to infer, and stations whose capture has ended."""

    items: List[Pending] = field(default_factory=list)
    drained: List[Any] = field(default_factory=list)


@dataclass
class _LaneState:
    lane: Any
    free: int
    latest: bool
    dropped: int = 0
    closed: bool = False
    reported: bool = False


class Intake:
    """Frames of every station waiting for inference, oldest first, under one condition."""

    def __init__(self) -> None:
        self._queue: Deque[Pending] = deque()
        self._lanes: Dict[int, _LaneState] = {}
        self._cv = threading.Condition()
        self._aborted = False

    def add_lane(self, lane: Any, slots: int, latest: bool) -> None:
        self._lanes[id(lane)] = _LaneState(lane, free=slots, latest=latest)

    def dropped(self, lane: Any) -> int:
        return self._lanes[id(lane)].dropped

    def offer(self, pending: Pending, wait_s: Optional[float]) -> bool:
        """Queue a frame for inference; False when no slot came within ``wait_s`` (every-frame only)."""
        state = self._lanes[id(pending.lane)]
        with self._cv:
            if state.latest:
                for queued in self._queue:
                    if queued.lane is pending.lane:
                        self._queue.remove(queued)
                        state.dropped += 1
                        break
            elif pending.frame.image is not None:
                if not self._cv.wait_for(lambda: state.free > 0 or self._aborted, wait_s) or self._aborted:
                    return False
                state.free -= 1
            self._queue.append(pending)
            self._cv.notify_all()
            return True

    def release(self, lane: Any) -> None:
        """A frame of ``lane`` was decided and let go of its pixels."""
        with self._cv:
            self._lanes[id(lane)].free += 1
            self._cv.notify_all()

    def close(self, lane: Any) -> None:
        """``lane``'s capture has ended: what it queued is still taken."""
        with self._cv:
            self._lanes[id(lane)].closed = True
            self._cv.notify_all()

    def abort(self) -> None:
        """An internal error: offers waiting for a slot give up at once (their frames become faults)."""
        with self._cv:
            self._aborted = True
            self._cv.notify_all()

    def take(self, max_items: int = 1) -> Optional[Batch]:
        """Wait for frames (up to ``max_items``, oldest first) or ended stations; None once all have ended."""
        with self._cv:
            while True:
                batch = Batch(items=self._take_ready(max_items), drained=self._newly_drained())
                if batch.items or batch.drained:
                    return batch
                if all(state.reported for state in self._lanes.values()):
                    return None
                self._cv.wait()

    def more(self, max_items: int, until: float) -> List[Pending]:
        """Up to ``max_items`` further frames, waiting for them until ``until`` (monotonic) at most."""
        taken: List[Pending] = []
        with self._cv:
            while len(taken) < max_items:
                taken += self._take_ready(max_items - len(taken))
                left = until - time.monotonic()
                if len(taken) >= max_items or left <= 0:
                    break
                self._cv.wait(left)
        return taken

    def _take_ready(self, max_items: int) -> List[Pending]:
        taken: List[Pending] = []
        for pending in list(self._queue):
            if len(taken) >= max_items:
                break
            state = self._lanes[id(pending.lane)]
            if state.latest and not pending.done:
                if state.free == 0:
                    continue  # waits for one of its station's frames to be decided
                state.free -= 1
            self._queue.remove(pending)
            taken.append(pending)
        return taken

    def _newly_drained(self) -> List[Any]:
        waiting = {id(pending.lane) for pending in self._queue}
        ended = [state for key, state in self._lanes.items() if state.closed and not state.reported and key not in waiting]
        for state in ended:
            state.reported = True
        return [state.lane for state in ended]
