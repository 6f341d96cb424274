"""Sinks: journal, webhook (local HTTP server), GPIO dry-run, spec parsing, MQTT spool."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from edge.events import Event, Region
from edge.sinks import SinkError, open_sink
from edge.sinks.mqtt import Spool


def _decision(frame: int, decision: str = "reject") -> Event:
    return Event(kind="decision", frame=frame, decision=decision, score=0.9, threshold=0.5, run="r",
                 regions=[Region(1, 2, 3, 4, 12, 0.9), Region(20, 2, 2, 2, 4, 0.6)])


def test_event_json_round_trip() -> None:
    event = _decision(3)
    assert Event.from_json(event.to_json()) == event


def test_a_journal_line_with_one_region_reads_as_a_list_of_one() -> None:
    line = '{"kind":"decision","frame":4,"decision":"reject","score":0.9,"region":{"x":1,"y":2,"w":3,"h":4,"area":12}}'
    assert Event.from_json(line).regions == [Region(1, 2, 3, 4, 12)]
    assert Event.from_json('{"kind":"decision","frame":5,"decision":"accept","score":0.1}').regions is None


def test_journal_appends_one_line_per_event(tmp_path: Path) -> None:
    sink = open_sink(f"journal:{tmp_path / 'j' / 'run.jsonl'}")
    for i in range(3):
        sink.send(_decision(i))
    lines = (tmp_path / "j" / "run.jsonl").read_text().splitlines()  # flushed before close
    sink.close()
    assert [json.loads(l)["frame"] for l in lines] == [0, 1, 2]


def test_webhook_retries_then_delivers() -> None:
    received, attempts = [], []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            attempts.append(1)
            body = self.rfile.read(int(self.headers["Content-Length"]))
            if len(attempts) == 1:
                self.send_response(503)
            else:
                received.append(json.loads(body))
                self.send_response(204)
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        sink = open_sink(f"http://127.0.0.1:{server.server_port}/hook")
        sink.backoff_s = 0.01
        sink.send(_decision(7))
    finally:
        server.shutdown()
    assert len(attempts) == 2 and received[0]["frame"] == 7


def test_webhook_gives_up_with_an_error() -> None:
    sink = open_sink("http://127.0.0.1:9/unreachable")
    sink.backoff_s, sink.retries = 0.01, 1
    with pytest.raises(RuntimeError, match="failed after 2 attempts"):
        sink.send(_decision(1))


def test_gpio_dry_run_pulses_on_reject_and_fault_not_on_accept(capsys: pytest.CaptureFixture) -> None:
    sink = open_sink("gpio:gpiochip0:17:dry-run")
    sink.pulse_s = 0.01
    for i, decision in enumerate(["accept", "reject", "fault", "accept"]):
        sink.send(_decision(i, decision))
        time.sleep(0.03)
    sink.close()
    assert sink.pulses == 2
    assert capsys.readouterr().err.count("pulse") == 2


@pytest.mark.parametrize("spec", ["kafka://x", "journal:", "gpio:chip", "gpio:chip:x", "mqtt:///topic"])
def test_bad_sink_specs_list_the_forms(spec: str) -> None:
    with pytest.raises(SinkError):
        open_sink(spec)


def test_spool_keeps_order_and_survives_reopening(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s.sqlite")
    seqs = [spool.add("t", f"m{i}") for i in range(5)]
    spool.remove(seqs[1])
    spool.close()
    again = Spool(tmp_path / "s.sqlite")
    assert [p for _, _, p in again.after(0, 10)] == ["m0", "m2", "m3", "m4"]
    assert [p for _, _, p in again.after(seqs[2], 10)] == ["m3", "m4"]
    again.close()


def test_gpio_pulse_is_ended_only_by_the_newest_timer() -> None:
    """A timer that fires while the next reject is being sent (too late to cancel) must not end its pulse."""
    sink = open_sink("gpio:gpiochip0:17:dry-run")
    sink.pulse_s = 0.2
    line = {"on": False}
    sink._set = lambda on: line.update(on=on)

    class SlowLock:
        """The sink's lock, held by the sender for longer than a pulse: the old timer fires meanwhile."""

        def __init__(self) -> None:
            self.inner = threading.Lock()
            self.hold_s = 0.0

        def __enter__(self) -> None:
            self.inner.acquire()
            time.sleep(self.hold_s if threading.current_thread() is threading.main_thread() else 0.0)

        def __exit__(self, *exc: object) -> None:
            self.inner.release()

    lock = SlowLock()
    sink._lock = lock
    sink.send(_decision(1))
    lock.hold_s = 0.4                       # the first timer expires while the second reject holds the lock
    sink.send(_decision(2))
    time.sleep(0.05)                        # the first timer has run by now
    assert line["on"], "the earlier reject's timer ended the newer reject's pulse"
    time.sleep(0.3)
    assert not line["on"]                   # the newest timer ends it
    sink.close()
