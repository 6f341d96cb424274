"""``gainctl run --serve``: a web page, ``/events``, ``/healthz`` and ``/metrics`` beside the inspection.

The monitor joins the run as one more sink (``Monitor.sink``), whose ``send`` only keeps
references; drawing, encoding and serving happen on the monitor's own threads, and drawing only
for a viewer. Importing this package imports no web library: ``Monitor`` does, so a run without
``--serve`` never loads them.
"""

from __future__ import annotations

import importlib.util
from typing import Any, Callable, Dict, Mapping, Optional, Sequence

from edge.monitor.address import MonitorError, check_exposure, parse_address
from edge.monitor.state import MonitorState
from edge.sinks.base import Sink

LIBRARIES = ("starlette", "uvicorn", "prometheus_client")


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
        from edge.monitor.frames import LIVE_FPS
        from edge.monitor.server import bind

        self.token, self.live_fps = token, live_fps or LIVE_FPS
        self.state = MonitorState()
        self._socket = bind(self.host, port)
        self.encoder: Any = None
        self._server: Any = None
        self._closing: Any = None

    @property
    def sink(self) -> Sink:
        """What the pipeline sends every event to (put it in its sink list)."""
        return self.state

    @property
    def port(self) -> int:
        return int(self._socket.getsockname()[1])

    def url(self, with_token: bool = False) -> str:
        from edge.monitor.server import url

        return url(self.host, self.port, self.token if with_token else None)

    def start(self, info: Dict[str, Any], threshold: float, queue_depth: Callable[[], int],
              sinks: Sequence[Sink] = (), localizes: bool = True,
              station_sinks: Optional[Mapping[Optional[str], Sequence[Sink]]] = None) -> None:
        """Serve: ``info`` (model, backend, ...) is shown on the page and in ``gainctl_model_info``.

        ``sinks`` (the line's) and ``station_sinks`` (each station's own, by its name) are the ones
        whose backlog ``/metrics`` reports. ``localizes=False`` (a bundle that never trained its
        localization head) draws no heatmap.
        """
        import threading

        from edge.monitor.app import create_app
        from edge.monitor.frames import FrameEncoder
        from edge.monitor.metrics import LineCollector, line_registry
        from edge.monitor.server import MonitorServer

        labels = {**{k: str(v) for k, v in info.items()}, "threshold": f"{threshold:.6g}"}
        registry = line_registry(LineCollector(self.state, labels, threshold, queue_depth, sinks, station_sinks))
        self._closing = threading.Event()
        self.encoder = FrameEncoder(self.state, localizes, self.live_fps)
        app = create_app(self.state, self.encoder, registry, {**info, "threshold": threshold}, self.token, self._closing)
        self._server = MonitorServer(app, self._socket)
        self.encoder.start()
        self._server.start()

    def close(self) -> None:
        """Stop serving; the run's sinks are closed by the run."""
        if self._closing is not None:
            self._closing.set()
        if self.encoder is not None:
            self.encoder.stop()
        if self._server is not None:
            self._server.stop()
        else:
            self._socket.close()


__all__ = ["Monitor", "MonitorError", "MonitorState"]
