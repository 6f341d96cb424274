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

Nothing waits for ever on the runner. Without ``--deadline-ms`` a frame whose result has not come
back within ``inference_timeout_s`` (and, with or without it, a frame that finds every runner job
taken for that long) is an ``inference_timeout`` fault: the runtime lost a request, so the
pipeline stops capturing, decides what was already captured without waiting on the runner again,
and ``run`` raises ``RunnerUnresponsive`` once everything is delivered, for a supervisor to
restart the process. A stage that fails ends only its own queue, so what it already passed on
is still decided.
"""

from __future__ import annotations

import queue
import random
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from edge.backends.base import Runner
from edge.decision import DEFAULT_LOCALIZATION_THRESHOLD, Verdict, decide, fault
from edge.events import (ACCEPT, FAULT, REASON_INFERENCE_ERROR, REASON_INFERENCE_TIMEOUT, REASON_OVERFLOW, REASON_TIMEOUT,
                         REASON_UNREADABLE, REJECT, Event, status)
from edge.preprocess import resize_frame
from edge.sinks.base import FrameContext, Sink
from edge.sources import Frame, Source

MODES = ("every-frame", "latest")
_SENTINEL = object()
# Not a latency target (that is --deadline-ms) but the point where a result is lost rather than
# late: the slowest batch-1 inference in this repository's reports (efficientnetv2_s-512, ONNX
# Runtime INT8 on 2 CPU cores) takes under 1 s at its worst, so 10 s never faults a frame of a
# working runner, and the line still learns within seconds that nothing comes back.
INFERENCE_TIMEOUT_S = 10.0
# The summary's latency percentiles are computed from at most this many inspected frames, so a
# camera running for months keeps a fixed ~0.3 MB for them (see LatencySample).
LATENCY_SAMPLE_SIZE = 10_000


class RunnerUnresponsive(RuntimeError):
    """The runner stopped answering: the run was ended, every captured frame has its decision."""


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

    def to_dict(self) -> Dict[str, Any]:
        return dict(self.__dict__)

    def format(self) -> str:
        lat = " ".join(f"{k}={v:.1f}ms" for k, v in self.latency_ms.items()) or "n/a"
        reasons = ", ".join(f"{k}={v}" for k, v in sorted(self.fault_reasons.items()))
        return (f"frames={self.frames} accepts={self.accepts} rejects={self.rejects} faults={self.faults}"
                f"{f' ({reasons})' if reasons else ''} dropped={self.dropped} sink_errors={self.sink_errors} "
                f"latency {lat} fps={self.fps:.1f} elapsed={self.elapsed_s:.1f}s"
                + "".join(f"; {name}: " + " ".join(f"{k}={v}" for k, v in counts.items())
                          for name, counts in self.sinks.items()))


class Pipeline:
    """One source through one runner to the sinks (the stages are in the module's docstring).

    ``inference_timeout_s``: how long a frame may wait on the runner (for its result when there is
    no deadline, for a free job always) before the runner is taken for unresponsive.
    ``localization_threshold``: where the localization map marks a defect region (the bundle's;
    None for a model that does not localize: no regions).
    ``decision_detail``: fields every decision event carries in its ``detail``, so that a consumer
    of any one event knows how it was decided (e.g. at a threshold set by hand, not the bundle's).
    """

    def __init__(self, source: Source, runner: Runner, threshold: float, sinks: Sequence[Sink], *,
                 mode: str = "every-frame", deadline_ms: Optional[float] = None, queue_size: int = 8,
                 max_frames: Optional[int] = None, overflow_wait_s: Optional[float] = None,
                 sink_error_interval_s: float = 5.0, run_id: Optional[str] = None,
                 inference_timeout_s: float = INFERENCE_TIMEOUT_S,
                 localization_threshold: Optional[float] = DEFAULT_LOCALIZATION_THRESHOLD,
                 decision_detail: Optional[Dict[str, Any]] = None) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; choose one of {MODES}")
        if deadline_ms is not None and deadline_ms <= 0:
            raise ValueError(f"--deadline-ms must be positive, got {deadline_ms}")
        if queue_size < 1:
            raise ValueError(f"queue size must be at least 1, got {queue_size}")
        if inference_timeout_s <= 0:
            raise ValueError(f"the inference timeout must be positive, got {inference_timeout_s}")
        if localization_threshold is not None and not 0.0 < localization_threshold <= 1.0:
            raise ValueError(f"the localization threshold must be in (0, 1], got {localization_threshold}")
        self.source, self.runner, self.threshold = source, runner, float(threshold)
        self.sinks = sorted(sinks, key=lambda sink: not sink.inline)  # journal and GPIO first, queued sinks after
        self.mode = mode
        self.deadline_s = deadline_ms / 1000.0 if deadline_ms else None
        self.max_frames = max_frames
        period = 1.0 / source.nominal_fps if source.nominal_fps > 0 else 0.1
        self.overflow_wait_s = overflow_wait_s if overflow_wait_s is not None else 2 * period
        self.sink_error_interval_s = sink_error_interval_s
        self.inference_timeout_s = float(inference_timeout_s)
        self.localization_threshold = None if localization_threshold is None else float(localization_threshold)
        self.decision_detail = dict(decision_detail or {})
        self.run_id = run_id or uuid.uuid4().hex[:12]
        spec = runner.input_spec
        self.size = (spec.width, spec.height)
        # Frames holding pixels, from capture to decision: bounds memory in every-frame mode.
        self._slots = threading.Semaphore(queue_size + max(1, runner.jobs))
        # Frames submitted and not yet called back, at most one per runner job. Counted here, not
        # left to the runner's own backpressure, so the inference thread never blocks inside a
        # runner that lost requests; the condition also wakes it when the runner is given up on.
        self._jobs = max(1, runner.jobs)
        self._in_flight = 0
        self._in_flight_cv = threading.Condition()
        self._unresponsive: Optional[RunnerUnresponsive] = None
        self._work: "queue.Queue[Any]" = queue.Queue()
        self._latest = LatestSlot()
        self._out: "queue.Queue[Any]" = queue.Queue()
        self._summary = Summary()
        self._latencies = LatencySample(LATENCY_SAMPLE_SIZE)
        self._sink_error_last: Dict[str, Tuple[float, int]] = {}
        self._behind_checked = time.monotonic()
        self._errors: List[BaseException] = []

    # -- control ---------------------------------------------------------------------------
    def stop(self) -> None:
        """End capture; everything already captured is still decided and delivered. Signal-safe."""
        self.source.stop()

    def queue_depth(self) -> int:
        """Frames on their way from capture to decision (and status events queued among them), for monitoring."""
        return self._out.qsize()

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
        s.latency_ms = self._latencies.percentiles()
        s.latency_samples = len(self._latencies.values)
        s.sinks = {sink.name: sink.counters() for sink in self.sinks if not sink.inline}
        self._dispatch(status("summary", self.run_id, **s.to_dict()), None)
        if self._errors:
            raise RuntimeError(f"pipeline stopped on an internal error: {self._errors[0]!r}") from self._errors[0]
        if self._unresponsive is not None:
            raise self._unresponsive
        return s

    def _guard(self, fn: Any) -> None:
        """An unexpected error in one stage stops capture and surfaces from ``run``.

        Each stage ends its own output queue (in a ``finally``), so the stages after it still
        decide everything that was already handed on before the run ends.
        """
        try:
            fn()
        except BaseException as exc:
            self._errors.append(exc)
            self.source.stop()

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
        try:
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
                    return
                if not item.done:
                    self._start(item)
        finally:
            self._out.put(_SENTINEL)

    def _start(self, pending: Pending) -> None:
        """Submit one frame. Whatever goes wrong on the way is that frame's fault, and the run goes on."""
        frame = pending.frame
        if self.deadline_s is not None and time.monotonic() > frame.t_capture + self.deadline_s:
            pending.resolve(verdict=fault(REASON_TIMEOUT))  # too late already: skip the work
            return
        try:
            image = resize_frame(frame.image, *self.size)
        except Exception as exc:  # a 0x0 or malformed frame: the source gave something that is not an image
            self._frame_failed(pending, REASON_UNREADABLE, "unreadable_frame", exc)
            return
        if not self._take_job(pending):
            return

        def done(outputs: Optional[Dict[str, np.ndarray]], error: Optional[BaseException]) -> None:
            with self._in_flight_cv:
                self._in_flight -= 1
                self._in_flight_cv.notify_all()
            if error is not None:
                self._frame_failed(pending, REASON_INFERENCE_ERROR, "inference_error", error)
            else:
                pending.resolve(outputs=outputs)

        try:
            self.runner.submit({self.runner.input_spec.name: image[None]}, done)
        except Exception as exc:
            done(None, exc)

    def _take_job(self, pending: Pending) -> bool:
        """Wait for a free runner job; False (the frame is then a fault) once the runner is given up on."""
        with self._in_flight_cv:
            free = self._in_flight_cv.wait_for(
                lambda: self._in_flight < self._jobs or self._unresponsive is not None, self.inference_timeout_s)
            if free and self._unresponsive is None:
                self._in_flight += 1
                return True
        pending.resolve(verdict=fault(REASON_INFERENCE_TIMEOUT))  # unless its deadline came first
        if not free:
            self._runner_unresponsive(pending.frame.id)  # no job came back within the bound
        return False

    def _frame_failed(self, pending: Pending, reason: str, message: str, error: BaseException) -> None:
        pending.resolve(verdict=fault(reason))
        self._out.put(status(message, self.run_id, frame=pending.frame.id, error=repr(error)))

    def _runner_unresponsive(self, frame_id: int) -> None:
        """End the run: stop capture, and from now on decide frames without waiting on the runner."""
        with self._in_flight_cv:
            if self._unresponsive is not None:
                return
            self._unresponsive = RunnerUnresponsive(
                f"the {self.runner.name} runner answered nothing within {self.inference_timeout_s:g} s "
                f"(frame {frame_id} was waiting on it); the run was stopped")
            self._in_flight_cv.notify_all()  # a frame waiting for a job is decided now
        self.source.stop()
        self._out.put(status(REASON_INFERENCE_TIMEOUT, self.run_id, frame=frame_id, timeout_s=self.inference_timeout_s))
        print(f"gainctl run: {self._unresponsive}", file=sys.stderr)

    def _output_loop(self) -> None:
        while True:
            item = self._out.get()
            if item is _SENTINEL:
                return
            if isinstance(item, Event):
                self._dispatch(item, None)
                continue
            self._finish(item)

    def _result_wait(self, frame: Frame) -> Tuple[float, str]:
        """How long to wait for ``frame``'s result, and the fault reason if it does not come.

        Without a deadline the bound runs from now: every earlier frame is decided, so a working
        runner owes this one at most a single inference.
        """
        if self._unresponsive is not None:
            return 0.0, REASON_INFERENCE_TIMEOUT
        if self.deadline_s is not None:
            return max(0.0, frame.t_capture + self.deadline_s - time.monotonic()), REASON_TIMEOUT
        return self.inference_timeout_s, REASON_INFERENCE_TIMEOUT

    def _finish(self, pending: Pending) -> None:
        frame = pending.frame
        timeout, reason = self._result_wait(frame)
        if not pending.wait(timeout) and pending.resolve(verdict=fault(reason)) and reason == REASON_INFERENCE_TIMEOUT:
            self._runner_unresponsive(frame.id)
        verdict = pending.verdict
        if verdict is None and self.deadline_s is not None and time.monotonic() > frame.t_capture + self.deadline_s:
            # Ready but not decided in time (a slow sink held the output): the part has moved on.
            verdict = fault(REASON_TIMEOUT)
        if verdict is None:
            try:
                verdict = decide(pending.outputs, self.threshold, (frame.image.shape[1], frame.image.shape[0]),
                                 self.localization_threshold)
            except Exception as exc:
                verdict = fault(REASON_INFERENCE_ERROR)
                self._dispatch(status("decision_error", self.run_id, frame=frame.id, error=repr(exc)), None)
        now = time.monotonic()
        event = Event(
            kind="decision", frame=frame.id, ts_capture=round(frame.ts_capture, 6),
            ts_decision=round(time.time(), 6), decision=verdict.decision, score=verdict.score,
            threshold=self.threshold, latency_ms=round((now - frame.t_capture) * 1000.0, 3),
            regions=verdict.regions, attention_peak=verdict.attention_peak, reason=verdict.reason, run=self.run_id,
            file=frame.file, detail=dict(self.decision_detail),
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
            self._latencies.add(event.latency_ms)

    def _dispatch(self, event: Event, context: Optional[FrameContext]) -> None:
        for sink in self.sinks:
            try:
                sink.send(event, context)
            except Exception as exc:
                self._sink_failed(sink, event, exc)
        if event.kind == "decision":
            self._check_behind()

    def _check_behind(self) -> None:
        """Once per interval, ask the queued sinks whether they fall behind; warn the others and the operator."""
        now = time.monotonic()
        if now - self._behind_checked < self.sink_error_interval_s:
            return
        self._behind_checked = now
        for lagging in self.sinks:
            why = lagging.behind()
            if why:
                print(f"gainctl run: sink {lagging.name} is behind: {why}", file=sys.stderr)
                self._tell_others(lagging, status("sink_behind", self.run_id, sink=lagging.name, why=why,
                                                  **lagging.counters()))

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
        self._tell_others(failed, note)

    def _tell_others(self, about: Sink, note: Event) -> None:
        for sink in self.sinks:
            if sink is about:
                continue
            try:
                sink.send(note, None)
            except Exception:
                pass  # that sink's own failure is counted when it fails on a decision
