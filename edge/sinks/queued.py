"""A sink that can wait (network, broker) behind a bounded queue, a disk spool and its own threads.

The line's output thread only appends the event to a bounded in-memory queue (``queue=N``): no
JSON, no lock and no wake-up of another thread, so neither a dead or slow endpoint nor the sink's
own work is felt by the decisions. An intake thread wakes every ``INTAKE_INTERVAL_S`` (sooner when
the queue is a quarter full, and at close), writes what is queued as JSON into the on-disk spool in
one transaction, and wakes the delivery thread (the subclass's ``_deliver_loop``), which sends
spooled events in order and removes each one only once the destination acknowledged it.

Why a timer and not a wake-up per event: on a machine of two cores, waking a thread from the line's
thread often hands that thread a core while the line's thread still holds the interpreter lock, and
both wait. Measured at 400 events/s with MQTT and two webhooks (docs/design-choices.md #29): the
JSON and the wake-up per event and sink cost the line's thread 150 us of CPU per event, appending
costs it 5 us. Events are not changed once sent, so writing their JSON later gives the same text.

Delivery is **at least once**: an event can arrive twice (acknowledged but the acknowledgement
lost, or resent after a restart); every event carries ``run`` and ``frame`` so consumers can drop
duplicates. Events still spooled at exit are sent by the next run with the same spool.

The queue overflows only when the disk cannot keep up; those events, a batch the spool refuses
to write (disk full), and an event that JSON cannot hold are lost *for this sink* (the journal,
which is written inline and first, still has them) and counted as ``overflowed``. A sink whose oldest
undelivered event is older than ``lag_s``, that lost events, or whose last delivery failed says so
through ``behind()``, which the pipeline turns into a ``sink_behind`` status event.
"""

from __future__ import annotations

import collections
import sqlite3
import sys
import threading
import time
from pathlib import Path
from typing import Deque, Dict, List, Optional, Tuple

from edge.events import Event
from edge.sinks.base import FrameContext, Sink
from edge.sinks.spool import Spool

DEFAULT_QUEUE = 1000
INTAKE_BATCH = 256
# How long an event may wait in the queue before the intake thread spools it: 20 wake-ups a second
# whatever the frame rate, and a delay that a network destination does not notice.
INTAKE_INTERVAL_S = 0.05
# Least time close() gives the intake thread to spool what is queued: a healthy disk needs
# milliseconds for a full queue, and close_timeout=0 (leave the backlog to the next run) must
# still spool it rather than lose it.
SPOOL_AT_CLOSE_S = 2.0


class QueuedSink(Sink):
    """Base of the sinks that can wait. Subclasses set ``name``, implement ``_deliver_loop`` and call ``_start()``."""

    inline = False

    def __init__(self, spool_path: Path, *, queue_size: int = DEFAULT_QUEUE, close_timeout_s: float = 10.0,
                 lag_s: float = 5.0) -> None:
        self.spool = Spool(spool_path)
        self.close_timeout_s, self.lag_s = close_timeout_s, lag_s
        # Appended by the line's thread only, taken by the intake thread only: a deque needs no lock for that.
        self._queue: Deque[Event] = collections.deque()
        self._queue_size = queue_size
        self._wake_at = max(1, queue_size // 4)  # the line wakes the intake thread early only past this
        self._wake = threading.Event()
        lock = threading.RLock()
        self._cv = threading.Condition(lock)       # counters, acknowledgements, connection, stop
        self._more = threading.Condition(lock)     # the delivery thread's: the intake thread spooled more
        self._closing = False                 # close() began: the intake thread spools what is queued and ends
        self._stopping = False                # close() gave up waiting: delivery ends now
        self._closed = False
        self.overflowed = 0                   # events the full queue or the spool turned away (this sink only)
        self.delivered = 0
        self.failures = 0                     # delivery attempts that failed (each is retried)
        self.refused = 0                      # events the destination refused for good, dropped from the spool
        self.last_error: Optional[str] = None
        self._reported_overflow = 0
        left = len(self.spool)
        self.left_from_before = left          # spooled by an earlier run, sent first
        # (events ever accepted into the spool, monotonic time of that batch): the age of the
        # oldest undelivered event without a timestamp column in the spool.
        self._accepted = left
        self._arrivals: Deque[Tuple[int, float]] = collections.deque([(left, time.monotonic())] if left else [])
        self._intake = threading.Thread(target=self._intake_loop, name=f"{type(self).__name__}-intake", daemon=True)
        self._worker = threading.Thread(target=self._deliver_loop, name=f"{type(self).__name__}-delivery", daemon=True)

    def _start(self) -> None:
        self._intake.start()
        self._worker.start()

    # -- the line's side: never blocks ----------------------------------------------------
    def send(self, event: Event, context: Optional[FrameContext] = None) -> None:
        queued = self._queue
        if len(queued) >= self._queue_size:
            with self._cv:  # the intake thread counts lost batches too
                self.overflowed += 1
            return
        queued.append(event)
        if len(queued) == self._wake_at:
            self._wake.set()

    def _topic(self, event: Event) -> str:
        """Where the event goes within the destination (MQTT: decisions and status topics)."""
        return ""

    # -- intake thread: queue -> spool ----------------------------------------------------
    def _intake_loop(self) -> None:
        queued = self._queue
        while True:
            self._wake.wait(INTAKE_INTERVAL_S)
            self._wake.clear()
            closing = self._closing  # read before draining: close() comes after the line's last send
            while queued:
                events = [queued.popleft() for _ in range(min(INTAKE_BATCH, len(queued)))]
                batch = self._serialized(events)
                if batch and self._spooled(batch):
                    with self._cv:
                        self._accepted += len(batch)
                        self._arrivals.append((self._accepted, time.monotonic()))
                        self._more.notify_all()
            if closing:
                return

    def _serialized(self, events: List[Event]) -> List[Tuple[str, str]]:
        """(topic, JSON) of each event; one that JSON cannot hold is lost for this sink, like an overflow."""
        try:
            return [(self._topic(event), event.to_json()) for event in events]
        except (TypeError, ValueError):
            pass
        batch = []
        for event in events:
            try:
                batch.append((self._topic(event), event.to_json()))
            except (TypeError, ValueError) as exc:
                with self._cv:
                    self.overflowed += 1
                    self.last_error = f"an event of frame {event.frame} cannot be written as JSON ({exc})"
        return batch

    def _spooled(self, batch: List[Tuple[str, str]]) -> bool:
        """Write ``batch`` to the spool; False when the disk refused it (full, failing, spool closed).

        The intake thread must outlive such an error: were it to end, the queue would fill and
        every later event would be lost too, and ``close`` would wait on it. The batch is lost for
        this sink only (the journal has it) and reported by ``behind`` like a queue overflow.
        """
        try:
            self.spool.add_many(batch)
        except (OSError, sqlite3.Error) as exc:
            with self._cv:
                self.overflowed += len(batch)
                self.last_error = f"spool {self.spool.path} refused a write ({exc})"
            return False
        return True

    # -- delivery thread helpers ----------------------------------------------------------
    def _deliver_loop(self) -> None:
        raise NotImplementedError

    def _acknowledged(self, seq: int) -> None:
        """The destination has the event: drop it from the spool."""
        if not self.spool.remove(seq):
            return
        with self._cv:
            self.delivered += 1
            self._cv.notify_all()

    def _refuse(self, seq: int, error: str) -> None:
        """The destination will never take this event: drop it so the ones behind it are not held up."""
        if not self.spool.remove(seq):
            return
        with self._cv:
            self.refused += 1
            self.last_error = error
            self._cv.notify_all()
        print(f"gainctl run: {self.name} refused an event for good ({error}); the journal keeps it", file=sys.stderr)

    def _failed(self, error: str) -> None:
        with self._cv:
            self.failures += 1
            self.last_error = error

    def _pause(self, seconds: float) -> bool:
        """Sleep, but wake at once when the sink is stopped; True when it was."""
        with self._cv:
            return self._cv.wait_for(lambda: self._stopping, seconds)

    def _wait_for_work(self, after: int, limit: int) -> Optional[List[Tuple[int, str, str]]]:
        """Spooled events after the watermark ``after``, waiting for some; None once the sink is stopped."""
        while True:
            with self._cv:
                if self._stopping:
                    return None
                seen = self._accepted
            rows = self.spool.after(after, limit)
            if rows:
                return rows
            with self._more:  # woken by the intake thread as soon as it spooled more, not by acknowledgements
                self._more.wait_for(lambda: self._stopping or self._accepted != seen, 0.5)

    # -- reporting ------------------------------------------------------------------------
    def pending(self) -> int:
        """Events not delivered yet, in the queue and in the spool; counted, not queried (the line's thread asks)."""
        with self._cv:
            return len(self._queue) + self._accepted - self.delivered - self.refused

    def counters(self) -> Dict[str, int]:
        return {"delivered": self.delivered, "pending": self.pending(), "failures": self.failures,
                "refused": self.refused, "overflowed": self.overflowed}

    def _oldest_age_s(self) -> float:
        with self._cv:
            settled = self.delivered + self.refused
            while self._arrivals and self._arrivals[0][0] <= settled:
                self._arrivals.popleft()
            return time.monotonic() - self._arrivals[0][1] if self._arrivals else 0.0

    def behind(self) -> Optional[str]:
        reasons = []
        if self.overflowed > self._reported_overflow:
            reasons.append(f"{self.overflowed - self._reported_overflow} events lost to a full queue, a "
                           f"failed spool write (the disk spool could not keep up) or JSON that could not hold them")
            self._reported_overflow = self.overflowed
        age = self._oldest_age_s()
        if age > self.lag_s:
            reasons.append(f"oldest undelivered event waits {age:.1f} s")
        if reasons and self.last_error:
            reasons.append(f"last error: {self.last_error}")
        return "; ".join(reasons) or None

    # -- end ------------------------------------------------------------------------------
    def close(self) -> None:
        """Spool what is queued, wait up to ``close_timeout_s`` for delivery, keep the rest for the next run.

        Every wait is bounded, so a disk that stalls cannot keep the run from ending: the queued
        events get ``close_timeout_s`` (at least ``SPOOL_AT_CLOSE_S``) to reach the spool.
        """
        with self._cv:
            if self._closed:
                return  # an error path closes every sink, some of them twice
            self._closed = self._closing = True
        self._wake.set()
        spool_s = max(self.close_timeout_s, SPOOL_AT_CLOSE_S)
        self._intake.join(spool_s)
        deadline = time.monotonic() + self.close_timeout_s
        with self._cv:
            self._cv.wait_for(lambda: self.delivered + self.refused >= self._accepted, _left(deadline))
            self._stopping = True
            self._cv.notify_all()
            self._more.notify_all()
        self._worker.join(self._worker_join_s())
        self._disconnect()
        if self._intake.is_alive():
            # Its write holds the spool: counting or closing it would wait on the disk as well.
            print(f"gainctl run: the spool {self.spool.path} took no write for {self.name} in {spool_s:g} s; "
                  f"the events still queued are lost for this sink (the journal has them)", file=sys.stderr)
            return
        left = len(self.spool)
        self.spool.close()
        if left:
            print(f"gainctl run: {left} events are still spooled in {self.spool.path}; they are sent "
                  f"when a run with the sink {self.name} next reaches it", file=sys.stderr)

    def _worker_join_s(self) -> float:
        """How long a delivery in progress may take to notice the stop."""
        return 2.0

    def _disconnect(self) -> None:
        """Release the connection, after the delivery thread ended."""


def _left(deadline: float) -> float:
    """Seconds until the monotonic ``deadline``, never negative (a timeout argument)."""
    return max(0.0, deadline - time.monotonic())
