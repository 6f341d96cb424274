"""``gainctl run --serve``: a web page, ``/events``, ``/healthz`` and ``/metrics`` beside the inspection.

The monitor runs in a process of its own (edge/monitor/process.py): its web server, event
streams, percentiles and JPEG drawing never hold the line's interpreter lock. The line's side is
one more sink (``Monitor.sink``, edge/monitor/feed.py) that writes each event as a line to a
non-blocking socket and keeps references to the pixels the monitor may ask for. Importing this
package imports no web library, nor does the line's process when it serves: only the monitor's
process loads them.
"""

from __future__ import annotations

import importlib.util
import math
import os
import socket
import subprocess
import sys
from multiprocessing.connection import Connection
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from edge.monitor.address import MonitorError, check_exposure, parse_address
from edge.monitor.feed import FeedServer, MonitorFeed, MonitorGone, PixelKeeper
from edge.children import child_options
from edge.monitor.server import bind, url
from edge.sinks.base import Sink

LIBRARIES = ("starlette", "uvicorn", "prometheus_client")
# The monitor's process imports the web libraries, numpy and OpenCV before it answers.
SPAWN_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0


class Monitor:
    """The monitor of one run: created (address checked, port bound) before the run, started with it.

    ``address`` is ``[HOST:]PORT``; without ``token`` only a loopback host is allowed.
    """

    def __init__(self, address: str, token: Optional[str] = None, *, live_fps: Optional[float] = None) -> None:
        self.host, port = parse_address(address)
        check_exposure(self.host, token)
        missing = [name for name in LIBRARIES if importlib.util.find_spec(name) is None]
        if missing:
            raise MonitorError(f"--serve needs {', '.join(missing)}: pip install 'gain-mtl[monitor]'")
        if live_fps is not None and not (math.isfinite(live_fps) and live_fps > 0):
            raise MonitorError(f"the live view's frame rate must be a positive number, got {live_fps}")
        self.token, self.live_fps = token, live_fps
        self._socket = bind(self.host, port)
        self.port = int(self._socket.getsockname()[1])
        self._events, self._their_events = socket.socketpair()
        self.feed = MonitorFeed(self._events, PixelKeeper())
        self._process: Optional[subprocess.Popen] = None
        self._server: Optional[FeedServer] = None

    @property
    def sink(self) -> Sink:
        """What the pipeline sends every event to (put it in its sink list)."""
        return self.feed

    @property
    def pid(self) -> Optional[int]:
        """The monitor's process, once started."""
        return None if self._process is None else self._process.pid

    def url(self, with_token: bool = False) -> str:
        return url(self.host, self.port, self.token if with_token else None)

    def start(self, info: Dict[str, Any], threshold: float, queue_depth: Any,
              sinks: Sequence[Sink] = (), localizes: bool = True,
              station_sinks: Optional[Mapping[Optional[str], Sequence[Sink]]] = None) -> None:
        """Start the monitor's process and serve: ``info`` (model, backend, ...) is shown on the page and in ``gainctl_model_info``.

        ``queue_depth()`` is the line's; ``sinks`` (the line's) and ``station_sinks`` (each station's
        own, by its name) are the ones whose backlog ``/metrics`` reports. ``localizes=False`` (a
        bundle that never trained its localization head) draws no heatmap.
        """
        watched: List[Tuple[str, Sink]] = [("", sink) for sink in sinks] + [
            (station or "", sink) for station, own in (station_sinks or {}).items() for sink in own]

        def gauges() -> Dict[str, Any]:
            # The sinks that queue say how much they hold; the others have no backlog.
            return {"queue_depth": int(queue_depth()),
                    "backlog": [(sink.name, station, int(sink.pending()))  # type: ignore[attr-defined]
                                for station, sink in watched if callable(getattr(sink, "pending", None))]}

        ours, theirs = socket.socketpair()
        fds = (self._socket.fileno(), self._their_events.fileno(), theirs.fileno())
        try:
            # Its own session: a Ctrl-C at the terminal reaches the line, which ends the monitor after the run.
            self._process = subprocess.Popen([sys.executable, "-m", "edge.monitor.process", *map(str, fds)],
                                             pass_fds=fds, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                             start_new_session=True, **child_options())
        except OSError as exc:
            ours.close()
            theirs.close()
            self.close()
            raise MonitorError(f"cannot start the monitor's process ({exc.strerror or exc})") from exc
        for inherited in (self._socket, self._their_events, theirs):
            inherited.close()  # the monitor's process holds them now
        requests = Connection(ours.detach())
        self._server = FeedServer(requests, self.feed.keeper, gauges)
        try:
            requests.send({"info": dict(info), "threshold": float(threshold), "token": self.token,
                           "localizes": bool(localizes), "live_fps": self.live_fps, "line_pid": os.getpid()})
            self._server.start()
            self.feed.sync(SPAWN_TIMEOUT_S)  # answered once the server is up
        except (OSError, MonitorGone) as exc:
            self.close(wait_s=0)
            raise MonitorError(f"the monitor's web server did not start ({exc}); see the messages above") from exc

    def sync(self, timeout_s: float = 10.0) -> None:
        """Return once the monitor has taken in every event sent so far: its answers then count them all."""
        try:
            self.feed.sync(timeout_s)
        except MonitorGone as exc:
            raise MonitorError(str(exc)) from exc

    def close(self, wait_s: float = STOP_TIMEOUT_S) -> None:
        """Stop serving: the monitor's process takes in what is pending (up to ``wait_s``), then ends.

        ``wait_s=0`` (a run stopped at once) ends it without waiting. The run's sinks are closed by the run.
        """
        self.feed.finish(wait_s / 2)
        if self._process is not None:
            try:
                self._process.wait(wait_s)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        if self._server is not None:
            self._server.stop(STOP_TIMEOUT_S)
        for own in (self._events, self._their_events, self._socket):
            own.close()


__all__ = ["Monitor", "MonitorError"]
