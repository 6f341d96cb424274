"""The inspection loop: capture -> bounded queue -> resize -> async inference -> decision -> sinks.

Threads (roboflow's InferencePipeline shape, with a sentinel that ends each queue):

- capture: reads the source, stamps frames, applies the mode's queueing policy;
- inference: resizes (the graph normalises) and submits to the runner asynchronously, so capture,
  inference and output overlap;
- output: takes frames in capture order, waits for each result until its deadline, decides and
  hands the event to every sink.

Every frame that enters the pipeline becomes a ``Pending`` that the output thread resolves exactly
once: with the model's verdict, or with a fault (source lost, overflow, timeout, error). In
``every-frame`` mode pendings are created at capture, in order, so each frame gets exactly one
decision, in order; a live source that outruns inference waits briefly (backpressure) and then
turns the frame into an ``overflow`` fault rather than dropping it. In ``latest`` mode a one-frame
mailbox keeps only the newest frame; replaced frames are counted as dropped and get no decision.
"""

from __future__ import annotations

import queue
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from edge.backends.base import Runner
from edge.decision import Verdict, decide, fault
from edge.events import (ACCEPT, FAULT, REASON_INFERENCE_ERROR, REASON_OVERFLOW, REASON_TIMEOUT, REJECT, Event,
                         status)
from edge.preprocess import resize_frame
from edge.sinks.base import FrameContext, Sink
from edge.sources import Frame, Source

MODES = ("every-frame", "latest")
_SENTINEL = object()


class Pending:
    """One frame on its way to a verdict; resolved once, first writer wins (result or timeout)."""

    def __init__(self, frame: Frame) -> None:
        self.frame = frame
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


class LatestSlot:
    """A one-frame mailbox: ``put`` replaces an unread frame (counted as dropped).

    The end-of-stream sentinel never replaces a frame: the last frame is still decided.
    """

    def __init__(self) -> None:
        self._item: Any = None
        self._has = False
        self._closed = False
        self._cv = threading.Condition()
        self.dropped = 0

    def put(self, item: Any) -> None:
        with self._cv:
            if item is _SENTINEL:
                self._closed = True
            else:
                if self._has:
                    self.dropped += 1
                self._item, self._has = item, True
            self._cv.notify()

    def get(self) -> Any:
        with self._cv:
            self._cv.wait_for(lambda: self._has or self._closed)
            if not self._has:
                return _SENTINEL
            item, self._item, self._has = self._item, None, False
            return item


@dataclass
class Summary:
    frames: int = 0
    accepts: int = 0
    rejects: int = 0
    faults: int = 0
    dropped: int = 0
    sink_errors: int = 0
    fault_reasons: Dict[str, int] = field(default_factory=dict)
    latency_ms: Dict[str, float] = field(default_factory=dict)  # p50/p90/p99 over inspected frames
    fps: float = 0.0
    elapsed_s: float = 0.0

    def to_dict(self) -> Dict[str, Any]:
        return dict(self.__dict__)

    def format(self) -> str:
        lat = " ".join(f"{k}={v:.1f}ms" for k, v in self.latency_ms.items()) or "n/a"
        reasons = ", ".join(f"{k}={v}" for k, v in sorted(self.fault_reasons.items()))
        return (f"frames={self.frames} accepts={self.accepts} rejects={self.rejects} faults={self.faults}"
                f"{f' ({reasons})' if reasons else ''} dropped={self.dropped} sink_errors={self.sink_errors} "
                f"latency {lat} fps={self.fps:.1f} elapsed={self.elapsed_s:.1f}s")


class Pipeline:
    def __init__(self, source: Source, runner: Runner, threshold: float, sinks: Sequence[Sink], *,
                 mode: str = "every-frame", deadline_ms: Optional[float] = None, queue_size: int = 8,
                 max_frames: Optional[int] = None, overflow_wait_s: Optional[float] = None,
                 sink_error_interval_s: float = 5.0, run_id: Optional[str] = None) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; choose one of {MODES}")
        if deadline_ms is not None and deadline_ms <= 0:
            raise ValueError(f"--deadline-ms must be positive, got {deadline_ms}")
        if queue_size < 1:
            raise ValueError(f"queue size must be at least 1, got {queue_size}")
        self.source, self.runner, self.threshold, self.sinks = source, runner, float(threshold), list(sinks)
        self.mode = mode
        self.deadline_s = deadline_ms / 1000.0 if deadline_ms else None
        self.max_frames = max_frames
        period = 1.0 / source.nominal_fps if source.nominal_fps > 0 else 0.1
        self.overflow_wait_s = overflow_wait_s if overflow_wait_s is not None else 2 * period
        self.sink_error_interval_s = sink_error_interval_s
        self.run_id = run_id or uuid.uuid4().hex[:12]
        spec = runner.input_spec
        self.size = (spec.width, spec.height)
        # Frames holding pixels, from capture to decision: bounds memory in every-frame mode.
        self._slots = threading.Semaphore(queue_size + max(1, runner.jobs))
        self._work: "queue.Queue[Any]" = queue.Queue()
        self._latest = LatestSlot()
        self._out: "queue.Queue[Any]" = queue.Queue()
        self._summary = Summary()
        self._latencies: List[float] = []
        self._sink_error_last: Dict[str, Tuple[float, int]] = {}
        self._errors: List[BaseException] = []

    # -- control ---------------------------------------------------------------------------
    def stop(self) -> None:
        """End capture; everything already captured is still decided and delivered. Signal-safe."""
        self.source.stop()

    def run(self) -> Summary:
        """Run to the end of the source (or ``stop()``); returns the summary once all is delivered."""
        self.source.on_status = self._source_status
        started = time.monotonic()
        threads = [threading.Thread(target=self._guard, args=(fn,), name=name, daemon=True)
                   for name, fn in (("capture", self._capture), ("inference", self._infer_loop), ("output", self._output_loop))]
        for t in threads:
            t.start()
        try:
            while any(t.is_alive() for t in threads):
                threads[-1].join(0.2)  # short joins keep the main thread responsive to signals
                if self._errors and not threads[-1].is_alive():
                    break  # output is gone: nothing more can be delivered
        finally:
            self.source.stop()
            self.source.close()
        s = self._summary
        s.dropped = self._latest.dropped
        s.elapsed_s = round(time.monotonic() - started, 3)
        s.fps = round(s.frames / s.elapsed_s, 2) if s.elapsed_s > 0 else 0.0
        if self._latencies:
            lat = np.asarray(self._latencies)
            s.latency_ms = {f"p{q}": round(float(np.percentile(lat, q)), 3) for q in (50, 90, 99)}
        self._dispatch(status("summary", self.run_id, **s.to_dict()), None)
        if self._errors:
            raise RuntimeError(f"pipeline stopped on an internal error: {self._errors[0]!r}") from self._errors[0]
        return s

    def _guard(self, fn: Any) -> None:
        """An unexpected error in one stage must still end the others (sentinel) and surface."""
        try:
            fn()
        except BaseException as exc:
            self._errors.append(exc)
            self.source.stop()
            self._work.put(_SENTINEL)
            self._latest.put(_SENTINEL)
            self._out.put(_SENTINEL)

    def _source_status(self, message: str, **detail: Any) -> None:
        self._out.put(status(message, self.run_id, **detail))

    # -- stages ----------------------------------------------------------------------------
    def _capture(self) -> None:
        count = 0
        try:
            for frame in self.source.frames():
                if self.mode == "latest":
                    self._latest.put(frame)
                else:
                    self._enqueue(frame)
                count += 1
                if self.max_frames is not None and count >= self.max_frames:
                    break
        finally:
            (self._latest if self.mode == "latest" else self._work).put(_SENTINEL)

    def _enqueue(self, frame: Frame) -> None:
        pending = Pending(frame)
        if frame.image is None:
            pending.resolve(verdict=fault(frame.fault or REASON_INFERENCE_ERROR))
            self._out.put(pending)
            return
        # Backpressure: a file waits as long as needed; a live camera waits a little, then the
        # frame is a counted overflow fault (its pixels are let go, its slot still gets a verdict).
        if not self._slots.acquire(timeout=None if not self.source.live else self.overflow_wait_s):
            frame.image = None
            pending.resolve(verdict=fault(REASON_OVERFLOW))
            self._out.put(pending)
            return
        self._out.put(pending)
        self._work.put(pending)

    def _infer_loop(self) -> None:
        while True:
            if self.mode == "latest":
                item = self._latest.get()
                if item is not _SENTINEL:
                    item = Pending(item)
                    if item.frame.image is None:
                        item.resolve(verdict=fault(item.frame.fault or REASON_INFERENCE_ERROR))
                    else:
                        self._slots.acquire()
                    self._out.put(item)
            else:
                item = self._work.get()
            if item is _SENTINEL:
                self._out.put(_SENTINEL)
                return
            if not item.done:
                self._start(item)

    def _start(self, pending: Pending) -> None:
        frame = pending.frame
        if self.deadline_s is not None and time.monotonic() > frame.t_capture + self.deadline_s:
            pending.resolve(verdict=fault(REASON_TIMEOUT))  # too late already: skip the work
            return
        image = resize_frame(frame.image, *self.size)

        def done(outputs: Optional[Dict[str, np.ndarray]], error: Optional[BaseException]) -> None:
            if error is not None:
                pending.resolve(verdict=fault(REASON_INFERENCE_ERROR))
                self._out.put(status("inference_error", self.run_id, frame=frame.id, error=repr(error)))
            else:
                pending.resolve(outputs=outputs)

        try:
            self.runner.submit({self.runner.input_spec.name: image[None]}, done)
        except Exception as exc:
            done(None, exc)

    def _output_loop(self) -> None:
        while True:
            item = self._out.get()
            if item is _SENTINEL:
                return
            if isinstance(item, Event):
                self._dispatch(item, None)
                continue
            self._finish(item)

    def _finish(self, pending: Pending) -> None:
        frame = pending.frame
        timeout = None
        if self.deadline_s is not None:
            timeout = max(0.0, frame.t_capture + self.deadline_s - time.monotonic())
        if not pending.wait(timeout):
            pending.resolve(verdict=fault(REASON_TIMEOUT))
        verdict = pending.verdict
        if verdict is None and timeout is not None and time.monotonic() > frame.t_capture + self.deadline_s:
            # Ready but not decided in time (a slow sink held the output): the part has moved on.
            verdict = fault(REASON_TIMEOUT)
        if verdict is None:
            try:
                verdict = decide(pending.outputs, self.threshold, (frame.image.shape[1], frame.image.shape[0]))
            except Exception as exc:
                verdict = fault(REASON_INFERENCE_ERROR)
                self._dispatch(status("decision_error", self.run_id, frame=frame.id, error=repr(exc)), None)
        now = time.monotonic()
        event = Event(
            kind="decision", frame=frame.id, ts_capture=round(frame.ts_capture, 6),
            ts_decision=round(time.time(), 6), decision=verdict.decision, score=verdict.score,
            threshold=self.threshold, latency_ms=round((now - frame.t_capture) * 1000.0, 3),
            region=verdict.region, attention_peak=verdict.attention_peak, reason=verdict.reason, run=self.run_id,
        )
        self._count(event)
        self._dispatch(event, FrameContext(frame.image, pending.outputs))
        if frame.image is not None:
            frame.image = None
            self._slots.release()

    def _count(self, event: Event) -> None:
        s = self._summary
        s.frames += 1
        if event.decision == ACCEPT:
            s.accepts += 1
        elif event.decision == REJECT:
            s.rejects += 1
        else:
            s.faults += 1
            s.fault_reasons[event.reason or "unknown"] = s.fault_reasons.get(event.reason or "unknown", 0) + 1
        if event.decision != FAULT:
            self._latencies.append(event.latency_ms)

    def _dispatch(self, event: Event, context: Optional[FrameContext]) -> None:
        for sink in self.sinks:
            try:
                sink.send(event, context)
            except Exception as exc:
                self._sink_failed(sink, event, exc)

    def _sink_failed(self, failed: Sink, event: Event, exc: Exception) -> None:
        """Count it; tell the other sinks, at most once per interval per sink (no event storms)."""
        self._summary.sink_errors += 1
        now = time.monotonic()
        last, suppressed = self._sink_error_last.get(failed.name, (-1e9, 0))
        if now - last < self.sink_error_interval_s:
            self._sink_error_last[failed.name] = (last, suppressed + 1)
            return
        self._sink_error_last[failed.name] = (now, 0)
        note = status("sink_error", self.run_id, sink=failed.name, error=repr(exc), frame=event.frame,
                      suppressed_since_last=suppressed)
        print(f"gainctl run: sink {failed.name} failed: {exc!r}", file=sys.stderr)
        for sink in self.sinks:
            if sink is failed:
                continue
            try:
                sink.send(note, None)
            except Exception:
                pass  # that sink's own failure is counted when it fails on a decision
