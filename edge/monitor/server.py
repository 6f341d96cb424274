"""The monitor's HTTP server: uvicorn on a thread of its own, on a socket bound before the run starts.

Binding first turns a taken port into a clear error at start, before the camera is opened and
the model loaded, instead of a server thread that dies on its own later.
"""

from __future__ import annotations

import socket
import threading
import time
from typing import Optional

from edge.monitor.address import MonitorError

START_TIMEOUT_S = 10.0
# Open streams (/events, /stream.mjpg) end when the app's ``closing`` is set; this bounds the rest.
SHUTDOWN_TIMEOUT_S = 2.0


def bind(host: str, port: int) -> socket.socket:
    """A listening-ready TCP socket on (host, port); port 0 takes a free one."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                                             flags=socket.AI_PASSIVE)[0]
    except socket.gaierror as exc:
        raise MonitorError(f"--serve {host}:{port}: cannot resolve {host!r} ({exc.strerror})") from exc
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError as exc:
        sock.close()
        raise MonitorError(f"--serve {host}:{port}: cannot listen there ({exc.strerror}); "
                           "is another program using the port?") from exc
    return sock


class MonitorServer:
    """Serves ``app`` on ``sock`` from a daemon thread until ``stop``."""

    def __init__(self, app: object, sock: socket.socket) -> None:
        import uvicorn

        self.socket = sock
        config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off",
                                timeout_graceful_shutdown=SHUTDOWN_TIMEOUT_S)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]},
                                        name="monitor-http", daemon=True)

    def start(self, timeout_s: float = START_TIMEOUT_S) -> None:
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise MonitorError("the monitor's web server did not start; see the messages above")
            time.sleep(0.02)

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(SHUTDOWN_TIMEOUT_S + 3.0)
        self.socket.close()

    @property
    def port(self) -> int:
        return int(self.socket.getsockname()[1])


def url(host: str, port: int, token: Optional[str] = None) -> str:
    """How to open the page (the token itself is left out of logs: ``?token=...``)."""
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/" + ("?token=..." if token else "")
