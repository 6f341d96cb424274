"""The monitor's HTTP side on a real socket: routes, token, /healthz, /metrics, /events."""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pytest

pytest.importorskip("starlette", reason="the monitor extra is not installed")

from prometheus_client.parser import text_string_to_metric_families  # noqa: E402

from edge.events import Event, Region, status  # noqa: E402
from edge.monitor import Monitor  # noqa: E402
from edge.sinks.base import FrameContext, Sink  # noqa: E402

TOKEN = "s3cret-token"


class Spooling(Sink):
    """A sink that queues, as the MQTT and webhook sinks do: it says how much it holds."""

    name = "mqtt://broker/line"

    def __init__(self, held: int = 7) -> None:
        self.held = held

    def send(self, event: Event, context: FrameContext | None = None) -> None:
        pass

    def pending(self) -> int:
        return self.held


def feed(monitor: Monitor) -> None:
    image = np.full((72, 96, 3), 70, np.uint8)
    outputs = {"localization_map": np.zeros((1, 1, 8, 8), np.float32)}
    for i, kind in enumerate(["accept", "reject", "accept", "fault"]):
        regions = [Region(10, 10, 20, 20, 400, 0.95)] if kind == "reject" else None
        event = Event(kind="decision", frame=i, decision=kind, score=0.9 if kind == "reject" else 0.1, threshold=0.5,
                      latency_ms=None if kind == "fault" else 3.0, regions=regions,
                      reason="overflow" if kind == "fault" else None, run="r1")
        monitor.sink.send(event, FrameContext(None if kind == "fault" else image, outputs))
    monitor.sync()  # the monitor's process has taken them in


def start(token: str | None) -> Monitor:
    monitor = Monitor("127.0.0.1:0", token)
    monitor.start({"model": "tiny", "backend": "onnxruntime", "precision": "fp32"}, 0.5, lambda: 3, [Spooling()])
    return monitor


@pytest.fixture
def monitor() -> Iterator[Monitor]:
    m = start(None)
    yield m
    m.close()


def metric_samples(monitor: Monitor) -> dict:
    code, body, _ = get(monitor, "/metrics")
    assert code == 200
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(body.decode()) for s in family.samples}


def get(monitor: Monitor, path: str, headers: dict | None = None) -> tuple[int, bytes, Any]:
    request = urllib.request.Request(f"http://127.0.0.1:{monitor.port}{path}", headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read(), response.headers
    except urllib.error.HTTPError as error:
        return error.code, error.read(), error.headers


def test_healthz_is_503_with_the_reason_until_frames_flow(monitor: Monitor) -> None:
    code, body, _ = get(monitor, "/healthz")
    assert code == 503 and "no frame decided yet" in json.loads(body)["reason"]
    feed(monitor)
    code, body, _ = get(monitor, "/healthz")
    assert code == 200 and json.loads(body)["ok"] is True
    monitor.sink.send(status("source_lost", source="camera 0"))
    monitor.sync()
    code, body, _ = get(monitor, "/healthz")
    assert code == 503 and json.loads(body)["reason"].startswith("source lost")


def test_metrics_count_decisions_faults_latency_queue_backlog_and_model(monitor: Monitor) -> None:
    feed(monitor)
    code, body, headers = get(monitor, "/metrics")
    assert code == 200 and headers["content-type"].startswith("text/plain")
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for family in text_string_to_metric_families(body.decode()) for s in family.samples}
    assert samples[("gainctl_decisions_total", (("decision", "accept"),))] == 2
    assert samples[("gainctl_decisions_total", (("decision", "reject"),))] == 1
    assert samples[("gainctl_faults_total", (("reason", "overflow"),))] == 1
    assert samples[("gainctl_frame_to_decision_seconds_count", ())] == 3
    assert samples[("gainctl_frame_to_decision_seconds_bucket", (("le", "0.0025"),))] == 0
    assert samples[("gainctl_frame_to_decision_seconds_bucket", (("le", "0.005"),))] == 3
    assert samples[("gainctl_queue_depth", ())] == 3
    assert samples[("gainctl_sink_backlog_events", (("sink", "mqtt://broker/line"), ("station", "")))] == 7
    assert samples[("gainctl_decision_threshold", ())] == 0.5
    info = [labels for (name, labels) in samples if name == "gainctl_model_info"][0]
    assert dict(info) == {"model": "tiny", "backend": "onnxruntime", "precision": "fp32", "threshold": "0.5"}


def test_the_page_its_state_the_live_frame_and_the_gallery(monitor: Monitor) -> None:
    feed(monitor)
    code, body, _ = get(monitor, "/")
    assert code == 200 and b"static/monitor.js" in body
    for asset in ("/static/monitor.js", "/static/monitor.css"):
        assert get(monitor, asset)[0] == 200
    state = json.loads(get(monitor, "/api/state")[1])
    assert state["counts"] == {"accept": 2, "reject": 1, "fault": 1}
    assert state["last"]["frame"] == 3 and state["rejects"] == [
        {"station": None, "frame": 1, "score": 0.9, "ts_decision": None, "regions": 1}]
    code, jpeg, headers = get(monitor, "/frame.jpg")
    assert code == 200 and jpeg[:2] == b"\xff\xd8" and headers["content-type"] == "image/jpeg"
    for kind in ("thumb", "overlay", "frame"):
        code, jpeg, _ = get(monitor, f"/rejects/1/{kind}.jpg")
        assert code == 200 and jpeg[:2] == b"\xff\xd8"
    assert get(monitor, "/rejects/0/overlay.jpg")[0] == 404  # an accept is not in the gallery
    assert get(monitor, "/rejects/1/event.jpg")[0] == 404


def test_two_stations_rejects_of_the_same_frame_id_each_keep_their_own_pictures(monitor: Monitor) -> None:
    # Each station numbers its frames from 0: frame 5 of "top" (dark) and of "side" (light) are two rejects.
    import cv2

    outputs = {"localization_map": np.zeros((1, 1, 8, 8), np.float32)}
    grey = {"top": 30, "side": 220}
    for station, level in grey.items():
        event = Event(kind="decision", frame=5, decision="reject", score=0.9, threshold=0.5, latency_ms=3.0,
                      station=station, run="r1")
        monitor.sink.send(event, FrameContext(np.full((72, 96, 3), level, np.uint8), outputs))
    monitor.sync()
    state = json.loads(get(monitor, "/api/state")[1])
    assert [(r["station"], r["frame"]) for r in state["rejects"]] == [("side", 5), ("top", 5)]  # newest first
    for station, level in grey.items():
        code, jpeg, _ = get(monitor, f"/rejects/5/frame.jpg?station={station}")
        assert code == 200
        shown = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_GRAYSCALE)
        assert abs(float(shown.mean()) - level) < 5, station  # this station's picture, not the other's
        for kind in ("thumb", "overlay"):
            assert get(monitor, f"/rejects/5/{kind}.jpg?station={station}")[0] == 200
    assert get(monitor, "/rejects/5/frame.jpg")[0] == 404  # no station: a run of one source, not this one's
    assert get(monitor, "/rejects/5/frame.jpg?station=front")[0] == 404


def test_the_backlog_names_each_stations_own_sinks() -> None:
    # Two stations publishing to the same broker and topic: two series, told apart by the station.
    monitor = Monitor("127.0.0.1:0")
    monitor.start({"model": "tiny"}, 0.5, lambda: 0, [Spooling(7)],
                  station_sinks={"top": [Spooling(2)], "side": [Spooling(3)]})
    try:
        backlog = {labels: value for (name, labels), value in metric_samples(monitor).items()
                   if name == "gainctl_sink_backlog_events"}
    finally:
        monitor.close()
    assert backlog == {(("sink", "mqtt://broker/line"), ("station", "")): 7,
                       (("sink", "mqtt://broker/line"), ("station", "top")): 2,
                       (("sink", "mqtt://broker/line"), ("station", "side")): 3}


def test_events_stream_the_journals_json_from_the_moment_of_connecting(monitor: Monitor) -> None:
    feed(monitor)  # before the client: not replayed
    response = urllib.request.urlopen(f"http://127.0.0.1:{monitor.port}/events", timeout=10)
    assert response.headers["content-type"].startswith("text/event-stream")
    later = Event(kind="decision", frame=9, decision="accept", score=0.1, threshold=0.5, latency_ms=2.0, run="r1")
    time.sleep(0.3)
    monitor.sink.send(later)
    data = []
    while not data:
        line = response.readline().decode().strip()
        if line.startswith("data: "):
            data.append(line[len("data: "):])
    assert json.loads(data[0]) == later.to_dict()
    response.close()


def test_the_live_stream_is_multipart_jpeg(monitor: Monitor) -> None:
    feed(monitor)
    response = urllib.request.urlopen(f"http://127.0.0.1:{monitor.port}/stream.mjpg", timeout=10)
    assert response.headers["content-type"] == "multipart/x-mixed-replace; boundary=frame"
    head = response.read1(4096)
    assert head.startswith(b"--frame\r\nContent-Type: image/jpeg\r\n\r\n")
    response.close()


def test_a_token_is_asked_of_every_route_but_healthz() -> None:
    monitor = start(TOKEN)
    try:
        feed(monitor)
        for path in ("/", "/api/state", "/metrics", "/events", "/frame.jpg"):
            code, body, headers = get(monitor, path)
            assert code == 401 and b"needs its token" in body and headers["WWW-Authenticate"] == "Bearer"
        assert get(monitor, "/?token=wrong")[0] == 401
        assert get(monitor, "/healthz")[0] == 200
        assert get(monitor, "/metrics", {"Authorization": f"Bearer {TOKEN}"})[0] == 200
        code, _, headers = get(monitor, f"/?token={TOKEN}")
        assert code == 200 and headers["set-cookie"].startswith(f"gainctl_token={TOKEN};")
        assert "HttpOnly" in headers["set-cookie"]
        assert get(monitor, "/api/state", {"Cookie": f"gainctl_token={TOKEN}"})[0] == 200
    finally:
        monitor.close()


def drawn(monitor: Monitor) -> dict:
    return {labels[0][1]: value for (name, labels), value in metric_samples(monitor).items()
            if name == "gainctl_monitor_pictures_drawn_total"}


def test_pictures_are_drawn_only_when_asked_and_kept_while_shown() -> None:
    # Every picture costs the line a frame passed over: none without a viewer, one per reject picture however often asked.
    import cv2

    monitor = start(None)
    try:
        outputs = {"localization_map": np.zeros((1, 1, 8, 8), np.float32)}
        for i in range(25):
            event = Event(kind="decision", frame=i, decision="reject", score=0.9, threshold=0.5, latency_ms=3.0, run="r1")
            monitor.sink.send(event, FrameContext(np.full((72, 96, 3), 70, np.uint8), outputs))
        monitor.sync()
        time.sleep(0.3)
        assert drawn(monitor) == {"live": 0, "thumb": 0, "overlay": 0, "frame": 0}  # nobody watches: nothing drawn
        state = json.loads(get(monitor, "/api/state")[1])
        assert state["live"] == 1 and [r["frame"] for r in state["rejects"]] == list(range(24, 4, -1))
        first = get(monitor, "/rejects/24/thumb.jpg")[1]
        assert get(monitor, "/rejects/24/thumb.jpg")[1] == first
        assert drawn(monitor)["thumb"] == 1
        assert get(monitor, "/rejects/4/overlay.jpg")[0] == 404  # out of the last 20
        response = urllib.request.urlopen(f"http://127.0.0.1:{monitor.port}/stream.mjpg", timeout=10)
        response.read1(4096)
        deadline = time.monotonic() + 5
        while drawn(monitor)["live"] == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)  # a few of the encoder's wakes: the newest frame is drawn once however long it stays newest
        assert drawn(monitor)["live"] == 1
        live = get(monitor, "/frame.jpg")[1]
        assert cv2.imdecode(np.frombuffer(live, np.uint8), cv2.IMREAD_COLOR).shape[1] == 480
        response.close()
    finally:
        monitor.close()


@pytest.mark.skipif(not hasattr(os, "SCHED_IDLE"), reason="the idle scheduling class is Linux's")
def test_every_thread_of_the_monitor_runs_in_the_idle_class(monitor: Monitor) -> None:
    # Served a request first, so the web server's threads exist.
    assert get(monitor, "/healthz")[0] in (200, 503)
    classes = []
    for task in Path(f"/proc/{monitor.pid}/task").iterdir():
        try:
            classes.append(os.sched_getscheduler(int(task.name)))
        except ProcessLookupError:  # a short-lived thread that ended meanwhile
            pass
    assert len(classes) > 1 and set(classes) == {os.SCHED_IDLE}


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="reads the process's mapped libraries from Linux's /proc")
def test_opencv_is_loaded_before_the_line_starts(monitor: Monitor) -> None:
    # Loading it at the first live frame, while the line ran, tripled the line's p99 (docs/design-choices.md #37).
    maps = Path(f"/proc/{monitor.pid}/maps").read_text()
    assert "cv2" in maps or "opencv" in maps.lower(), "the monitor's process has not loaded OpenCV by the time it answered"


def test_a_monitor_that_has_died_costs_the_line_nothing() -> None:
    # The line keeps sending at full speed; the events are counted as dropped, never waited for.
    monitor = start(None)
    try:
        monitor._process.kill()
        monitor._process.wait()
        event = Event(kind="decision", frame=0, decision="accept", score=0.1, threshold=0.5, latency_ms=1.0, run="r1")
        began = time.monotonic()
        for _ in range(20_000):
            monitor.sink.send(event)
        assert time.monotonic() - began < 10.0
        assert monitor.sink.counters()["dropped"] > 0
        assert "monitor" in monitor.sink.behind()
    finally:
        monitor.close()


def test_a_line_slow_to_answer_stalls_neither_the_page_nor_a_scrape() -> None:
    # A scrape asks the line for its gauges; a line that takes 5 s must not hold up /healthz, and the
    # scrape answers without them after its own wait (2 s) rather than hang.
    import threading

    monitor = Monitor("127.0.0.1:0")
    monitor.start({"model": "tiny"}, 0.5, lambda: time.sleep(5.0) or 3)
    try:
        feed(monitor)
        scraped: dict = {}
        scrape = threading.Thread(target=lambda: scraped.update(samples=metric_samples(monitor)))
        began = time.monotonic()
        scrape.start()
        time.sleep(0.2)
        assert get(monitor, "/healthz")[0] == 200 and time.monotonic() - began < 1.5
        scrape.join(10)
        assert 1.5 < time.monotonic() - began < 4.5  # well before the line's 5 s
        assert ("gainctl_queue_depth", ()) not in scraped["samples"]  # not waited for
        assert scraped["samples"][("gainctl_decisions_total", (("decision", "accept"),))] == 2
    finally:
        monitor.close()
