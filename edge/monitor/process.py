"""The monitor's process: ``python -m edge.monitor.process LISTEN EVENTS REQUESTS`` (inherited descriptors).

Started by ``Monitor.start`` (edge/monitor/__init__.py), never by hand. It serves the page,
``/events``, ``/healthz`` and ``/metrics`` on the socket the line bound (LISTEN), takes in the
line's events from EVENTS (edge/monitor/feed.py) and asks the line for pixels and gauges over
REQUESTS, whose first message is its configuration (the token travels there, not in the command
line or the environment, where other users of the machine could read it).

It ends when the line closes EVENTS: at the end of the run (after ``--serve-linger``), or when
the line's process dies. It runs in a session of its own, so a Ctrl-C at the terminal reaches the
line, which ends the run and then the monitor, in that order.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
import threading
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from edge.events import Event
from edge.monitor.feed import EVENT_WITH_PIXELS, SYNC, Picture
from edge.monitor.state import MonitorState
from edge.sinks.base import FrameContext

# How long the monitor's process rests between two reads of the line's events (what the page
# shows is this much late at most), and the most it reads at once.
TAKE_IN_PAUSE_S = 0.1
READ_SIZE = 1 << 20
# How long a request for pixels or gauges waits for the line: a scrape of a stopped line answers without them.
ANSWER_TIMEOUT_S = 2.0
# Where Linux's idle scheduling class is missing, the monitor runs at the lowest nice value instead.
MONITOR_NICE = 19


def step_aside() -> None:
    """Put every thread of this process below the line: Linux's idle scheduling class, else the
    lowest priority (nice 19); where neither is allowed, the monitor runs at the line's priority.

    The monitor gets the time the inspection leaves idle and little else (the kernel still gives an
    idle-class thread a sliver of a busy core). A line thread that wakes (a frame captured, an
    inference done) takes the core from an idle-class thread at once; from a nice-19 one only once
    that thread's time slice ends, which can be milliseconds on a hand-over. Measured on 2 cores, it
    did not move the line's throughput or tail with a viewer beyond the runs' spread: the monitor's
    own work is not what a live view costs the line (docs/design-choices.md #37). Linux keeps the
    class per thread: those the imports started (numpy's BLAS workers) are moved one by one, and
    threads started later inherit it.
    """
    tasks = Path("/proc/self/task")
    threads = [int(task.name) for task in tasks.iterdir()] if tasks.is_dir() else [0]
    for thread in threads:
        _lower(thread)


def _lower(thread: int) -> None:
    """One thread into the idle class, else to nice 19; a thread that has ended meanwhile is skipped."""
    if hasattr(os, "SCHED_IDLE"):
        try:
            os.sched_setscheduler(thread, os.SCHED_IDLE, os.sched_param(0))
            return
        except ProcessLookupError:
            return
        except OSError:
            pass
    if hasattr(os, "setpriority"):
        try:
            os.setpriority(os.PRIO_PROCESS, thread, MONITOR_NICE)
        except OSError:
            pass


class PixelClient:
    """The monitor's side of the requests: one at a time, each answered by the line's ``FeedServer``.

    An answer that takes longer than ``timeout_s`` (a line busy or stopped) counts as none, and is
    recognised by its number and skipped when it comes late. Once the line's process has gone every
    answer is none: the page keeps what it has.
    """

    def __init__(self, conn: Connection, timeout_s: float = ANSWER_TIMEOUT_S) -> None:
        self._conn, self.timeout_s = conn, timeout_s
        self._lock = threading.Lock()
        self._asked = 0

    def _ask(self, *request: Any) -> Any:
        with self._lock:
            self._asked += 1
            deadline = time.monotonic() + self.timeout_s
            try:
                self._conn.send((self._asked, *request))
                while True:
                    if not self._conn.poll(max(0.0, deadline - time.monotonic())):
                        return None
                    number, reply = self._conn.recv()
                    if number == self._asked:
                        break
            except (EOFError, OSError):
                return None
        if isinstance(reply, tuple) and reply and reply[0] == "error":
            print(f"gainctl run: monitor: the line could not answer {request[0]!r}: {reply[1]}", file=sys.stderr)
            return None
        return reply

    def latest(self, since: int) -> Optional[Tuple[int, Picture]]:
        reply = self._ask("latest", since)
        return None if reply is None else (reply[0], _picture(*reply[1:]))

    def reject(self, station: Optional[str], frame: Optional[int]) -> Optional[Picture]:
        reply = self._ask("reject", station, frame)
        return None if reply is None else _picture(*reply)

    def gauges(self) -> Dict[str, Any]:
        return self._ask("gauges") or {}


def _picture(event: Dict[str, Any], image: Any, outputs: Any) -> Picture:
    return Event.from_dict(event), FrameContext(image, outputs)


def take_in(events: socket.socket, state: MonitorState, pause_s: float = TAKE_IN_PAUSE_S) -> None:
    """Note every event line until the line closes the socket; answer each sync mark once all before it are noted.

    Reads what has arrived, then rests ``pause_s``: the kernel holds the lines meanwhile, and the
    monitor's process wakes a few dozen times a second instead of once per decision, so on a
    small device it takes a core from the line that often and no more.
    """
    partial = b""
    while True:
        chunk = events.recv(READ_SIZE)
        if not chunk:
            return
        *lines, partial = (partial + chunk).split(b"\n")
        for line in lines:
            kind, body = line[:1], line[1:]
            if kind == SYNC:
                events.sendall(body + b"\n")
            else:
                text = body.decode()
                state.note(Event.from_json(text), pixels=kind == EVENT_WITH_PIXELS, text=text)
        time.sleep(pause_s)


def serve(listen: socket.socket, events: socket.socket, requests: Connection, config: Dict[str, Any]) -> None:
    """Serve until the line closes ``events``."""
    from edge.monitor.app import create_app
    from edge.monitor.frames import LIVE_FPS, FrameEncoder, warm_up
    from edge.monitor.metrics import LineCollector, line_registry
    from edge.monitor.server import MonitorServer

    info, threshold = config["info"], config["threshold"]
    warm_up(config["localizes"])  # the line starts once this process answers its first sync mark, below
    state = MonitorState()
    pixels = PixelClient(requests)
    encoder = FrameEncoder(state, pixels, config["localizes"], config["live_fps"] or LIVE_FPS)
    labels = {**{k: str(v) for k, v in info.items()}, "threshold": f"{threshold:.6g}"}
    registry = line_registry(LineCollector(state, labels, threshold, pixels.gauges, lambda: dict(encoder.drawn)),
                             config["line_pid"])
    closing = threading.Event()
    server = MonitorServer(create_app(state, encoder, registry, {**info, "threshold": threshold}, config["token"], closing),
                           listen)
    encoder.start()
    server.start()
    try:  # the line's first sync mark is answered only now: it waits for this to know the page is up
        take_in(events, state)
    finally:
        closing.set()
        encoder.stop()
        server.stop()


def main(argv: List[str]) -> int:
    # A browser that closes the page mid-stream is routine, not worth a console line of the line's run.
    logging.getLogger("asyncio").setLevel(logging.ERROR)
    step_aside()
    listen_fd, events_fd, requests_fd = (int(arg) for arg in argv)
    requests = Connection(requests_fd)
    try:
        config = requests.recv()
    except EOFError:  # the line gave up before it configured us
        return 1
    serve(socket.socket(fileno=listen_fd), socket.socket(fileno=events_fd), requests, config)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
