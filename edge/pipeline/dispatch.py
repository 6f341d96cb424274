"""Dispatch: every event to every sink, inline sinks first, and trouble with a sink reported, not felt.

Sinks are written to be called from one thread at a time (edge/sinks/base.py); a line with
several stations decides on several threads, so the dispatcher serialises the calls. Inline sinks
(journal, GPIO, stdout) deliver inside ``send`` and go first; queued ones (webhook, MQTT) only
enqueue, so the lock is held for as long as the inline sinks take, which is what the line would
wait for anyway.

Status handlers are passed in (what roboflow's InferencePipeline calls status update handlers):
each receives every status event the sinks receive, e.g. to tell the operator on the console.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import Callable, Collection, Dict, Optional, Sequence, Tuple

from edge.events import REASON_INFERENCE_TIMEOUT, Event, status
from edge.sinks.base import FrameContext, Sink

StatusHandler = Callable[[Event], None]


def console(event: Event) -> None:
    """The status handler of ``gainctl run``: what an operator must act on, on stderr."""
    d = event.detail
    if event.reason == "sink_error":
        line = f"sink {d.get('sink')} failed: {d.get('error')}"
    elif event.reason == "sink_behind":
        line = f"sink {d.get('sink')} is behind: {d.get('why')}"
    elif event.reason == REASON_INFERENCE_TIMEOUT:
        line = (f"the {d.get('runner')} runner answered nothing within {d.get('timeout_s'):g} s "
                f"(frame {event.frame if event.frame is not None else d.get('frame')} was waiting on it); the run was stopped")
    else:
        return
    where = f"{event.station}: " if event.station else ""
    print(f"gainctl run: {where}{line}", file=sys.stderr)


class Dispatcher:
    """Sends events to the sinks in order; counts sink failures and polls queued sinks for lag.

    ``interval_s``: at most one ``sink_error`` note per failing sink, and one lag check, per
    interval (no event storms from a sink that is down).
    """

    def __init__(self, sinks: Sequence[Sink], run_id: str, interval_s: float = 5.0,
                 status_handlers: Sequence[StatusHandler] = (console,)) -> None:
        self.sinks = sorted(sinks, key=lambda sink: not sink.inline)  # journal and GPIO first, queued sinks after
        self.run_id = run_id
        self.interval_s = interval_s
        self.status_handlers = tuple(status_handlers)
        self.errors = 0
        self._error_last: Dict[str, Tuple[float, int]] = {}
        self._behind_checked = time.monotonic()
        self._lock = threading.Lock()

    def send(self, event: Event, context: Optional[FrameContext] = None,
             route: Optional[Collection[Sink]] = None) -> None:
        """Deliver ``event`` to every sink (of ``route`` only, when given: a station's own sinks).

        A sink that raises becomes a counted ``sink_error`` note to the other sinks of the route.
        """
        with self._lock:
            self._deliver(event, context, skip=None, route=route)
            if event.kind == "decision":
                self._check_behind()

    def queued_counters(self) -> Dict[str, Dict[str, int]]:
        """The queued sinks' delivery counters, by name, for the summary."""
        return {sink.name: sink.counters() for sink in self.sinks if not sink.inline}

    def _deliver(self, event: Event, context: Optional[FrameContext], skip: Optional[Sink],
                 route: Optional[Collection[Sink]] = None) -> None:
        for sink in self.sinks:
            if sink is skip or (route is not None and sink not in route):
                continue
            try:
                sink.send(event, context)
            except Exception as exc:
                if skip is None:  # a note's own failure is counted when that sink fails on a decision
                    self._failed(sink, event, exc, route)
        if event.kind == "status":
            for handler in self.status_handlers:
                handler(event)

    def _check_behind(self) -> None:
        """Once per interval, ask the queued sinks whether they fall behind; tell the others."""
        now = time.monotonic()
        if now - self._behind_checked < self.interval_s:
            return
        self._behind_checked = now
        for lagging in self.sinks:
            why = lagging.behind()
            if why:
                self._deliver(status("sink_behind", self.run_id, sink=lagging.name, why=why, **lagging.counters()),
                              None, skip=lagging)

    def _failed(self, failed: Sink, event: Event, exc: Exception, route: Optional[Collection[Sink]]) -> None:
        """Count it; tell the other sinks, at most once per interval per sink."""
        self.errors += 1
        now = time.monotonic()
        last, suppressed = self._error_last.get(failed.name, (-1e9, 0))
        if now - last < self.interval_s:
            self._error_last[failed.name] = (last, suppressed + 1)
            return
        self._error_last[failed.name] = (now, 0)
        note = status("sink_error", self.run_id, sink=failed.name, error=repr(exc), frame=event.frame,
                      suppressed_since_last=suppressed)
        note.station = event.station
        self._deliver(note, None, skip=failed, route=route)
