"""A station: one source's capture and its ordered output, deciding each of its frames once.

The capture thread reads the source, stamps every frame as a ``Pending`` and hands it to the
intake; the output thread takes the station's pendings in capture order, waits for each result
until its deadline (or the watchdog's bound), decides, counts and dispatches. Every-frame mode
queues a pending for output at capture, so each frame gets exactly one decision, in order; latest
mode queues it when the scheduler takes it, so a replaced frame gets none (it is counted as
dropped). Stations share nothing but the intake, the watchdog and the dispatcher: a station whose
camera is lost faults its own slots while the others go on.
"""

from __future__ import annotations

import queue
import time
from dataclasses import dataclass, field
from typing import Any, Dict, Optional, Sequence, Tuple

from edge.decision import Verdict, decide, fault
from edge.events import REASON_INFERENCE_ERROR, REASON_INFERENCE_TIMEOUT, REASON_OVERFLOW, REASON_TIMEOUT, Event, status
from edge.pipeline.dispatch import Dispatcher
from edge.pipeline.intake import Intake, Pending
from edge.pipeline.stats import Tally
from edge.pipeline.watchdog import Watchdog
from edge.sinks.base import FrameContext, Sink
from edge.sources import Source

MODES = ("every-frame", "latest")
_END = object()


@dataclass
class StationSpec:
    """What a station is: its source and how its frames are decided.

    ``name``: None for a run of one source (its events then carry no station). ``sinks``: this
    station's own sinks, besides the line's. ``overflow_wait_s``: how long a live source's frame
    waits for a slot before it is an overflow fault (default: two frame periods).
    """

    source: Source
    name: Optional[str] = None
    mode: str = "every-frame"
    deadline_ms: Optional[float] = None
    queue_size: int = 8
    max_frames: Optional[int] = None
    overflow_wait_s: Optional[float] = None
    sinks: Sequence[Sink] = field(default_factory=tuple)

    def check(self) -> None:
        """Refuse settings that cannot work, naming the station."""
        where = f" (station {self.name})" if self.name else ""
        if self.mode not in MODES:
            raise ValueError(f"unknown mode {self.mode!r}{where}; choose one of {MODES}")
        if self.deadline_ms is not None and self.deadline_ms <= 0:
            raise ValueError(f"--deadline-ms must be positive, got {self.deadline_ms}{where}")
        if self.queue_size < 1:
            raise ValueError(f"queue size must be at least 1, got {self.queue_size}{where}")


class Station:
    """One source's frames, from capture to dispatched decision (see the module's docstring)."""

    def __init__(self, spec: StationSpec, *, run_id: str, threshold: float, localization_threshold: Optional[float],
                 decision_detail: Dict[str, Any], jobs: int, intake: Intake, watchdog: Watchdog,
                 dispatcher: Dispatcher, route: Optional[Sequence[Sink]]) -> None:
        spec.check()
        self.spec, self.source, self.name = spec, spec.source, spec.name
        self.latest = spec.mode == "latest"
        self.deadline_s = spec.deadline_ms / 1000.0 if spec.deadline_ms else None
        period = 1.0 / spec.source.nominal_fps if spec.source.nominal_fps > 0 else 0.1
        self.overflow_wait_s = spec.overflow_wait_s if spec.overflow_wait_s is not None else 2 * period
        self.run_id, self.threshold = run_id, threshold
        self.localization_threshold, self.decision_detail = localization_threshold, decision_detail
        self.intake, self.watchdog, self.dispatcher, self.route = intake, watchdog, dispatcher, route
        self.tally = Tally()
        self.out: "queue.Queue[Any]" = queue.Queue()
        self._ended = False
        # Frames holding pixels, from capture to decision: bounds memory in every-frame mode.
        intake.add_lane(self, spec.queue_size + max(1, jobs), self.latest)

    # -- capture ---------------------------------------------------------------------------
    def capture(self) -> None:
        """Read the source to its end (or ``stop``); every frame enters the intake or is a fault at once."""
        count = 0
        try:
            for frame in self.source.frames(self.source_status):
                pending = Pending(frame, self)
                if frame.image is None:
                    pending.resolve(verdict=fault(frame.fault or REASON_INFERENCE_ERROR))
                if self.latest:
                    self.intake.offer(pending, None)
                else:
                    self._enqueue(pending)
                count += 1
                if self.spec.max_frames is not None and count >= self.spec.max_frames:
                    break
        finally:
            self.intake.close(self)

    def _enqueue(self, pending: Pending) -> None:
        """Every-frame: queue for output now; a file waits for a slot, a live camera only briefly."""
        self.out.put(pending)
        if pending.done:
            return
        if not self.intake.offer(pending, None if not self.source.live else self.overflow_wait_s):
            pending.frame.image = None  # its pixels are let go, its slot still gets a verdict
            pending.resolve(verdict=fault(REASON_OVERFLOW))

    def source_status(self, message: str, **detail: Any) -> None:
        """The status handler given to the source: its reports join this station's stream."""
        self.note(message, **detail)

    # -- hooks of the scheduler -----------------------------------------------------------
    def note(self, message: str, **detail: Any) -> None:
        """A status event in this station's stream, after the decisions queued before it."""
        self.out.put(self._status(message, **detail))

    def taken(self, pending: Pending) -> None:
        """The scheduler took ``pending``: in latest mode it now has its place in the output."""
        if self.latest:
            self.out.put(pending)

    def drained(self) -> None:
        """Nothing more comes for this station: its output ends after what is queued. Idempotent."""
        if not self._ended:
            self._ended = True
            self.out.put(_END)

    # -- output ----------------------------------------------------------------------------
    def output(self) -> None:
        """Decide and dispatch this station's frames and notes, in order, until its stream ends."""
        while True:
            item = self.out.get()
            if item is _END:
                return
            if isinstance(item, Event):
                self.dispatcher.send(item, None, self.route)
            else:
                self._finish(item)

    def queue_depth(self) -> int:
        return self.out.qsize()

    def _result_wait(self, pending: Pending) -> Tuple[float, str]:
        """How long to wait for ``pending``'s result, and the fault reason if it does not come.

        Without a deadline the bound runs from now: every earlier frame of the station is decided,
        so a working runner owes this one at most a few inferences.
        """
        if self.watchdog.unresponsive is not None:
            return 0.0, REASON_INFERENCE_TIMEOUT
        if self.deadline_s is not None:
            return max(0.0, pending.frame.t_capture + self.deadline_s - time.monotonic()), REASON_TIMEOUT
        return self.watchdog.timeout_s, REASON_INFERENCE_TIMEOUT

    def _finish(self, pending: Pending) -> None:
        frame = pending.frame
        timeout, reason = self._result_wait(pending)
        if not pending.wait(timeout) and pending.resolve(verdict=fault(reason)) and reason == REASON_INFERENCE_TIMEOUT:
            self.watchdog.expire(pending)
        verdict = pending.verdict
        if verdict is None and self.deadline_s is not None and time.monotonic() > frame.t_capture + self.deadline_s:
            # Ready but not decided in time (a slow sink held the output): the part has moved on.
            verdict = fault(REASON_TIMEOUT)
        if verdict is None:
            verdict = self._decide(pending)
        now = time.monotonic()
        event = Event(
            kind="decision", frame=frame.id, ts_capture=round(frame.ts_capture, 6),
            ts_decision=round(time.time(), 6), decision=verdict.decision, score=verdict.score,
            threshold=self.threshold, latency_ms=round((now - frame.t_capture) * 1000.0, 3),
            regions=verdict.regions, attention_peak=verdict.attention_peak, reason=verdict.reason, run=self.run_id,
            file=frame.file, detail=dict(self.decision_detail), station=self.name,
        )
        self.tally.count(event)
        self.dispatcher.send(event, FrameContext(frame.image, pending.outputs), self.route)
        if frame.image is not None:
            frame.image = None
            self.intake.release(self)

    def _decide(self, pending: Pending) -> Verdict:
        frame = pending.frame
        try:
            return decide(pending.outputs, self.threshold, (frame.image.shape[1], frame.image.shape[0]),
                          self.localization_threshold)
        except Exception as exc:
            self.dispatcher.send(self._status("decision_error", frame=frame.id, error=repr(exc)), None, self.route)
            return fault(REASON_INFERENCE_ERROR)

    def _status(self, message: str, **detail: Any) -> Event:
        event = status(message, self.run_id, **detail)
        event.station = self.name
        return event
