"""The line's side of the monitor: a sink that streams events to the monitor's process and keeps pixels for it.

The monitor serves HTTP, draws and encodes JPEGs in a process of its own (edge/monitor/process.py),
so none of that takes the line's interpreter lock or its cores' time slices at the wrong moment.
Per event the line pays one JSON line written to a non-blocking socket. Pixels never cross unless
the monitor's process asks for them: the newest frame while someone watches the live view (at most
its frame rate) and a reject's frame when its picture is first opened; until then the line keeps
references only (``PixelKeeper``).

A monitor that stops reading, or dies, costs the line nothing: lines the socket does not take wait
in a bounded buffer, beyond which they are dropped and counted. The journal, not the monitor, is
the record of decisions.

Wire format on the event socket, one line each: ``E<json>`` an event, ``P<json>`` a decision whose
pixels the line kept, ``S<n>`` a sync mark the monitor's process answers with ``<n>`` on the same
socket once it has taken in everything before it.
"""

from __future__ import annotations

import select
import socket
import sys
import threading
import time
from collections import OrderedDict
from multiprocessing.connection import Connection
from typing import Any, Callable, Dict, List, Optional, Tuple

from edge.events import REJECT, Event
from edge.monitor.state import REJECTS_SHOWN
from edge.sinks.base import FrameContext, Sink

EVENT, EVENT_WITH_PIXELS, SYNC = b"E", b"P", b"S"
# Event lines held while the monitor's process is not reading: minutes of a fast line, then dropped.
BACKLOG_LIMIT = 16 << 20
# The kernel buffer the line writes into without waiting (capped by the system's limit).
SEND_BUFFER = 4 << 20

# A reject of the gallery: (station, frame). Each station numbers its frames from 0, so the frame
# alone would let one station's picture replace another's; the station is None for one source.
RejectKey = Tuple[Optional[str], Optional[int]]
Picture = Tuple[Event, FrameContext]


class MonitorGone(RuntimeError):
    """The monitor's process did not answer in time or has stopped."""


class PixelKeeper:
    """The newest decided frame and the last rejects' frames, by reference: keeping costs the line no copy."""

    def __init__(self, rejects: int = REJECTS_SHOWN) -> None:
        self._lock = threading.Lock()
        self._latest: Optional[Picture] = None
        self._seq = 0
        self._rejects: "OrderedDict[RejectKey, Picture]" = OrderedDict()
        self._size = rejects

    def keep(self, event: Event, context: Optional[FrameContext]) -> bool:
        """Keep ``event``'s pixels if it is a decision that has them; whether it did."""
        if event.kind != "decision" or context is None or context.image is None:
            return False
        with self._lock:
            self._latest = (event, context)
            self._seq += 1
            if event.decision == REJECT:
                key = (event.station, event.frame)
                self._rejects.pop(key, None)
                self._rejects[key] = (event, context)
                while len(self._rejects) > self._size:
                    self._rejects.popitem(last=False)
        return True

    def latest(self, since: int) -> Optional[Tuple[int, Picture]]:
        """(its number, the newest frame) if one came after frame number ``since``, else None."""
        with self._lock:
            if self._latest is None or self._seq == since:
                return None
            return self._seq, self._latest

    def reject(self, station: Optional[str], frame: Optional[int]) -> Optional[Picture]:
        with self._lock:
            return self._rejects.get((station, frame))


class MonitorFeed(Sink):
    """The sink the run sends every event to; writes each as a line to the monitor's process, never waiting."""

    name = "monitor"
    inline = False  # the journal and GPIO go first

    def __init__(self, sock: socket.socket, keeper: PixelKeeper) -> None:
        self.keeper = keeper
        self._sock = sock
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER)
        except OSError:  # the system's limit applies; a smaller buffer only means an earlier backlog
            pass
        sock.setblocking(False)
        self._lock = threading.Lock()
        self._sync_lock = threading.Lock()
        self._pending = bytearray()
        self._written = 0  # bytes the socket has taken since the start: where each sync mark ends
        self._syncs = 0
        self.sent = 0      # events the monitor's process has been given (or will be: they are in the socket's way)
        self.dropped = 0   # events it was not given: buffer full, or the process gone
        self.gone: Optional[str] = None  # why the monitor's process stopped taking events
        self._reported = (0, None)

    def send(self, event: Event, context: Optional[FrameContext] = None) -> None:
        pixels = self.keeper.keep(event, context)
        self._write((EVENT_WITH_PIXELS if pixels else EVENT) + event.to_json().encode() + b"\n")

    def _write(self, line: bytes) -> None:
        with self._lock:
            if self._pending and self.gone is None:
                self._push()  # make room first: the monitor may have caught up, or be gone (which this finds out)
            if self.gone is not None or len(self._pending) + len(line) > BACKLOG_LIMIT:
                self.dropped += 1
                return
            self._pending += line
            self.sent += 1
            self._push()

    def _push(self) -> None:
        """Write what the socket takes now (the lock held)."""
        try:
            taken = self._sock.send(self._pending)
        except BlockingIOError:
            return
        except OSError as exc:
            self.gone = f"the monitor's process stopped taking events ({exc.strerror or exc})"
            # The events still pending will never be read: they were dropped, not sent.
            lost = sum(1 for line in self._pending.split(b"\n") if line[:1] in (EVENT, EVENT_WITH_PIXELS))
            self.sent, self.dropped = self.sent - lost, self.dropped + lost
            self._pending.clear()
            return
        del self._pending[:taken]
        self._written += taken

    def _flush_to(self, end: int, deadline: float) -> None:
        """Wait until the socket has taken the first ``end`` bytes ever written, holding the lock only to write.

        The line keeps sending meanwhile; only what came before ``end`` is waited for.
        """
        while True:
            with self._lock:
                if self.gone is not None:
                    raise MonitorGone(self.gone)
                self._push()
                if self._written >= end:
                    return
            self._wait(deadline, write=True)

    def sync(self, timeout_s: float) -> None:
        """Return once the monitor's process has taken in every event sent so far (for a reader of its answers)."""
        deadline = time.monotonic() + timeout_s
        with self._sync_lock:
            with self._lock:
                self._syncs += 1
                mark = str(self._syncs).encode()
                self._pending += SYNC + mark + b"\n"
                end = self._written + len(self._pending)
            self._flush_to(end, deadline)
            answered = b""
            while mark not in answered.split(b"\n"):
                self._wait(deadline, write=False)
                try:
                    chunk = self._sock.recv(4096)
                except OSError as exc:
                    raise MonitorGone(f"the monitor's process has stopped ({exc.strerror or exc})") from exc
                if not chunk:
                    raise MonitorGone("the monitor's process has stopped")
                answered += chunk

    def _wait(self, deadline: float, write: bool) -> None:
        left = deadline - time.monotonic()
        ready = select.select([] if write else [self._sock], [self._sock] if write else [], [], max(left, 0.0))
        if left <= 0 or not (ready[1] if write else ready[0]):
            raise MonitorGone("the monitor's process did not take in the events in time")

    def finish(self, timeout_s: float) -> None:
        """Write what is pending (up to ``timeout_s``) and tell the monitor's process the line is over."""
        with self._lock:
            end = self._written + len(self._pending)
        try:
            self._flush_to(end, time.monotonic() + timeout_s)
        except MonitorGone as exc:
            if timeout_s > 0 and self.gone is None:
                print(f"gainctl run: monitor: {exc}; the page may miss the last events", file=sys.stderr)
        with self._lock:
            try:
                self._sock.shutdown(socket.SHUT_WR)
            except OSError:
                pass

    def close(self) -> None:
        """Nothing to deliver: the run is over, and the monitor keeps showing it until ``Monitor.close``."""
        with self._lock:
            if self._pending and self.gone is None:
                self._push()

    def counters(self) -> Dict[str, int]:
        return {"sent": self.sent, "dropped": self.dropped}

    def behind(self) -> Optional[str]:
        reported = (self.dropped, self.gone)
        if reported == self._reported or not (self.dropped or self.gone):
            return None
        self._reported = reported
        return self.gone or f"{self.dropped} events not passed to the monitor: its process is not reading"


class FeedServer:
    """Answers the monitor process's requests (a picture's pixels, the gauges) on a thread of the line's process.

    A request is ``(number, kind, *args)`` and its answer ``(number, reply)``, so an asker that gave
    up waiting can tell a late answer from the one it waits for. A request costs the line one
    pickled frame at most, at the rate a viewer asks for them.
    """

    def __init__(self, conn: Connection, keeper: PixelKeeper, gauges: Callable[[], Dict[str, Any]]) -> None:
        self.conn, self.keeper, self.gauges = conn, keeper, gauges
        self._thread = threading.Thread(target=self._serve, name="monitor-feed", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout_s: float) -> None:
        """Wait for the thread (it ends when the monitor's process has), then close the connection."""
        if self._thread.is_alive():
            self._thread.join(timeout_s)
        self.conn.close()

    def _serve(self) -> None:
        while True:
            try:
                number, kind, *args = self.conn.recv()
            except (EOFError, OSError):  # the monitor's process has ended
                return
            try:
                reply = (number, self._answer(kind, args))
            except Exception as exc:  # a gauge that fails must not end the monitor's access to pictures
                reply = (number, ("error", repr(exc)))
            try:
                self.conn.send(reply)
            except OSError:  # the monitor's process has ended
                return
            except Exception as exc:  # an answer that cannot be pickled: say so rather than leave the asker waiting
                try:
                    self.conn.send((number, ("error", repr(exc))))
                except OSError:
                    return

    def _answer(self, kind: str, args: List[Any]) -> Any:
        if kind == "latest":
            found = self.keeper.latest(*args)
            return None if found is None else (found[0], *_wire(found[1]))
        if kind == "reject":
            picture = self.keeper.reject(*args)
            return None if picture is None else _wire(picture)
        if kind == "gauges":
            return self.gauges()
        return ("error", f"no such request {kind!r}")


def _wire(picture: Picture) -> Tuple[Dict[str, Any], Any, Any]:
    event, context = picture
    return event.to_dict(), context.image, context.outputs
