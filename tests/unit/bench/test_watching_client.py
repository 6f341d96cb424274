"""The bench's watching client keeps watching a stream that falls silent, as a browser does, and says so."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterator

import pytest

import edge.bench.monitor as bench_monitor

CHUNK = b"x" * 100


class _Silent(BaseHTTPRequestHandler):
    """Every stream sends one chunk and then nothing for longer than the client waits; the state answers at once."""

    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802 (the standard library's name)
        if self.path.endswith("api/state"):
            body = b"{}"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(10 * len(CHUNK)))
        self.end_headers()
        self.wfile.write(CHUNK)
        self.wfile.flush()
        time.sleep(1.0)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def silent_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Silent)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/"
    server.shutdown()
    server.server_close()


def test_a_silent_stream_is_opened_again_and_counted(silent_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bench_monitor, "READ_TIMEOUT_S", 0.3)
    monkeypatch.setattr(bench_monitor, "RETRY_S", 0.05)
    watcher = bench_monitor.Watcher(silent_url)
    watcher.start()
    time.sleep(1.5)
    watcher.stop()
    for path in ("stream.mjpg", "events"):
        # Read, fell silent, opened again and read again: more than one connection's worth of bytes.
        assert watcher.stalls[path] >= 2, watcher.stalls
        assert watcher.bytes[path] >= 2 * len(CHUNK), watcher.bytes
    assert watcher.stalls["api/state"] == 0
