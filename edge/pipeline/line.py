"""A line: stations through one runner to the sinks, and the threads that run them.

Threads: one capture and one output per station, one scheduler for all (edge/pipeline/station.py,
scheduler.py). A stage that fails ends only its own stream, so what it already passed on is still
decided; the error then surfaces from ``run`` once everything is delivered. When the watchdog
gives up on the runner, capture stops everywhere, what was captured is decided without waiting on
the runner again, and ``run`` raises ``RunnerUnresponsive`` for a supervisor to restart the process.
"""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any, Callable, Dict, List, Optional, Sequence

from edge.backends.base import Runner
from edge.decision import DEFAULT_LOCALIZATION_THRESHOLD
from edge.events import REASON_INFERENCE_TIMEOUT, status
from edge.pipeline.dispatch import Dispatcher, StatusHandler, console
from edge.pipeline.intake import Intake, Pending
from edge.pipeline.scheduler import BATCH_WAIT_S, Scheduler
from edge.pipeline.station import Station, StationSpec
from edge.pipeline.stats import Summary, combine
from edge.pipeline.watchdog import INFERENCE_TIMEOUT_S, Watchdog
from edge.sinks.base import Sink


class Line:
    """Stations (one per source) sharing one runner and the sinks.

    ``sinks`` receive every station's events; a station's own ``StationSpec.sinks`` only its own.
    ``inference_timeout_s``: how long a frame may wait on the runner (for its result when there is
    no deadline, for a free job always) before the runner is taken for unresponsive.
    ``localization_threshold``: where the localization map marks a defect region (the bundle's;
    None for a model that does not localize: no regions).
    ``decision_detail``: fields every decision event carries in its ``detail``, so that a consumer
    of any one event knows how it was decided (e.g. at a threshold set by hand, not the bundle's).
    ``status_handlers``: called with every status event the sinks receive (default: the console
    lines an operator must act on).
    ``batch_wait_s``: with several stations, how long a batch may wait for the other stations'
    frames (edge/pipeline/scheduler.py; never past a deadline).
    """

    def __init__(self, stations: Sequence[StationSpec], runner: Runner, threshold: float, sinks: Sequence[Sink], *,
                 sink_error_interval_s: float = 5.0, run_id: Optional[str] = None,
                 inference_timeout_s: float = INFERENCE_TIMEOUT_S,
                 localization_threshold: Optional[float] = DEFAULT_LOCALIZATION_THRESHOLD,
                 decision_detail: Optional[Dict[str, Any]] = None,
                 status_handlers: Sequence[StatusHandler] = (console,), batch_wait_s: float = BATCH_WAIT_S) -> None:
        if not stations:
            raise ValueError("a line needs at least one source")
        names = [spec.name for spec in stations]
        if len(stations) > 1 and (None in names or len(set(names)) != len(names)):
            raise ValueError(f"each station of a line of several needs a name of its own, got {names}")
        for spec in stations:
            spec.check()
        if localization_threshold is not None and not 0.0 < localization_threshold <= 1.0:
            raise ValueError(f"the localization threshold must be in (0, 1], got {localization_threshold}")
        self.runner = runner
        self.threshold = float(threshold)
        self.run_id = run_id or uuid.uuid4().hex[:12]
        self.intake = Intake()
        self.watchdog = Watchdog(runner.name, runner.jobs, inference_timeout_s, on_expire=self._runner_unresponsive)
        own = [sink for spec in stations for sink in spec.sinks]
        self.dispatcher = Dispatcher([*sinks, *own], self.run_id, sink_error_interval_s, status_handlers)
        self.stations = [
            Station(spec, run_id=self.run_id, threshold=self.threshold,
                    localization_threshold=None if localization_threshold is None else float(localization_threshold),
                    decision_detail=dict(decision_detail or {}), jobs=runner.jobs, intake=self.intake,
                    watchdog=self.watchdog, dispatcher=self.dispatcher,
                    route=[*sinks, *spec.sinks] if own else None)
            for spec in stations]
        # One frame per station at most, spread over the runner's jobs (so that the cameras of one
        # trigger run on every job at once, not all on one while the others idle), and never more
        # than the runner takes in one feed.
        batch = min(-(-len(self.stations) // runner.jobs), runner.max_batch or len(self.stations))
        self.scheduler = Scheduler(runner, self.intake, self.watchdog, max_batch=batch, batch_wait_s=batch_wait_s)
        self.stopping = False
        self._errors: List[BaseException] = []
        self._output_failed = False

    # -- control ---------------------------------------------------------------------------
    def stop(self) -> None:
        """End capture; everything already captured is still decided and delivered. Signal-safe."""
        self.stopping = True
        for station in self.stations:
            station.source.stop()

    def queue_depth(self) -> int:
        """Frames on their way from capture to decision (and status events queued among them), for monitoring."""
        return sum(station.queue_depth() for station in self.stations)

    def run(self) -> Summary:
        """Run to the end of every source (or ``stop()``); returns the summary once all is delivered."""
        self.scheduler.warm_up()
        started = time.monotonic()
        threads = [self._thread("scheduler", self.scheduler.run, after=self._end_outputs)]
        outputs = []
        for i, station in enumerate(self.stations):
            suffix = f"-{station.name or i}"
            threads.append(self._thread("capture" + suffix, station.capture))
            outputs.append(self._thread("output" + suffix, station.output, delivers=True))
        threads += outputs
        for t in threads:
            t.start()
        try:
            while not self._output_failed and any(t.is_alive() for t in outputs):
                # short joins keep the main thread responsive to signals
                next(t for t in outputs if t.is_alive()).join(0.2)
        finally:
            for station in self.stations:
                station.source.stop()
                station.source.close()
        summary = self._summary(time.monotonic() - started)
        self.dispatcher.send(status("summary", self.run_id, **summary.to_dict()))
        if self._errors:
            raise RuntimeError(f"pipeline stopped on an internal error: {self._errors[0]!r}") from self._errors[0]
        if self.watchdog.unresponsive is not None:
            raise self.watchdog.unresponsive
        return summary

    def _summary(self, elapsed_s: float) -> Summary:
        for station in self.stations:
            station.tally.close(elapsed_s, self.intake.dropped(station))
        if len(self.stations) == 1:
            summary = self.stations[0].tally.summary
        else:
            summary = combine({station.name: station.tally for station in self.stations}, elapsed_s)
            summary.batches = dict(sorted(self.scheduler.batches.items()))
        summary.sink_errors = self.dispatcher.errors
        summary.sinks = self.dispatcher.queued_counters()
        return summary

    # -- failures --------------------------------------------------------------------------
    def _thread(self, name: str, fn: Callable[[], None], after: Optional[Callable[[], None]] = None,
                delivers: bool = False) -> threading.Thread:
        """A daemon thread for one stage: an unexpected error stops capture and surfaces from ``run``.

        ``after`` runs however the stage ended, so the stages after it still decide everything
        that was already handed on. A failed stage that ``delivers`` (an output) ends the wait:
        what is queued behind it can no longer be delivered.
        """

        def guarded() -> None:
            try:
                fn()
            except BaseException as exc:
                self._errors.append(exc)
                self._output_failed = self._output_failed or delivers
                self.stop()
                self.intake.abort()
            finally:
                if after is not None:
                    after()

        return threading.Thread(target=guarded, name=name, daemon=True)

    def _end_outputs(self) -> None:
        for station in self.stations:
            station.drained()

    def _runner_unresponsive(self, pending: Pending) -> None:
        """The watchdog gave up: stop capture and tell the frame's station (its sinks and the status handlers)."""
        self.stop()
        pending.lane.note(REASON_INFERENCE_TIMEOUT, frame=pending.frame.id, timeout_s=self.watchdog.timeout_s,
                          runner=self.runner.name)


class Pipeline(Line):
    """One source through one runner to the sinks: a line of one unnamed station."""

    def __init__(self, source: Any, runner: Runner, threshold: float, sinks: Sequence[Sink], *,
                 mode: str = "every-frame", deadline_ms: Optional[float] = None, queue_size: int = 8,
                 max_frames: Optional[int] = None, overflow_wait_s: Optional[float] = None, **line: Any) -> None:
        super().__init__([StationSpec(source, None, mode, deadline_ms, queue_size, max_frames, overflow_wait_s)],
                         runner, threshold, sinks, **line)

    @property
    def source(self) -> Any:
        return self.stations[0].source
