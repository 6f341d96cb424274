"""Sinks: journal, webhook (local HTTP server), GPIO dry-run, spec parsing, MQTT spool."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable, List, Tuple

import pytest

from edge.bench.loopback import Endpoint, free_port
from edge.events import Event, Region, status
from edge.sinks import SinkError, open_sink, queued
from edge.sinks.spool import Spool


def _decision(frame: int, decision: str = "reject") -> Event:
    return Event(kind="decision", frame=frame, decision=decision, score=0.9, threshold=0.5, run="r",
                 regions=[Region(1, 2, 3, 4, 12, 0.9), Region(20, 2, 2, 2, 4, 0.6)])


def test_event_json_round_trip() -> None:
    event = _decision(3)
    assert Event.from_json(event.to_json()) == event


def test_event_json_is_the_json_of_its_dict() -> None:
    note = status("sink_behind", "r", sink="x", counts={"delivered": 3}, where=Region(1, 2, 3, 4, 5), empty={})
    for event in (_decision(3), Event(kind="decision", frame=1, decision="accept", score=0.1), note):
        assert event.to_json() == json.dumps(event.to_dict(), separators=(",", ":"))
    with pytest.raises(TypeError, match="not JSON serializable"):
        status("odd", "r", value=object()).to_json()


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


def test_webhook_retries_then_delivers(tmp_path: Path) -> None:
    endpoint = Endpoint(statuses=[503])
    try:
        sink = open_sink(f"{endpoint.url()}?spool={tmp_path / 'spool.sqlite'}")
        sink.backoff_s = 0.01
        sink.send(_decision(7))
        sink.close()
    finally:
        endpoint.close()
    assert endpoint.attempts == 2 and endpoint.frames == [7]
    assert sink.counters() == {"delivered": 1, "pending": 0, "failures": 1, "refused": 0, "overflowed": 0}


def test_webhook_drops_an_event_the_endpoint_refuses_and_sends_the_next(tmp_path: Path) -> None:
    endpoint = Endpoint(statuses=[400, 400, 400])
    try:
        sink = open_sink(f"{endpoint.url()}?retries=2&spool={tmp_path / 'spool.sqlite'}")
        sink.backoff_s = 0.01
        sink.send(_decision(1))
        sink.send(_decision(2))
        sink.close()
    finally:
        endpoint.close()
    assert endpoint.frames == [2] and sink.refused == 1 and len(Spool(tmp_path / "spool.sqlite")) == 0


def test_dead_webhook_costs_the_line_nothing_and_keeps_every_event_spooled(tmp_path: Path) -> None:
    spool = tmp_path / "spool.sqlite"
    sink = open_sink(f"http://127.0.0.1:{free_port()}/hook?close_timeout=0.3&spool={spool}")
    assert "unreachable; running on, spooling" in sink.notes()[0]
    started = time.perf_counter()
    for i in range(50):
        sink.send(_decision(i))
    assert time.perf_counter() - started < 0.05   # put in a queue, never posted on the caller's thread
    sink.close()
    sink.close()  # a second close (an error path closing everything) is harmless
    assert [json.loads(p)["frame"] for _, _, p in Spool(spool).after(0, 100)] == list(range(50))


def test_slow_webhook_gets_every_event_in_order(tmp_path: Path) -> None:
    endpoint = Endpoint(delay_s=0.05)
    try:
        sink = open_sink(f"{endpoint.url()}?spool={tmp_path / 'spool.sqlite'}&close_timeout=30")
        started = time.perf_counter()
        for i in range(20):
            sink.send(_decision(i))
        assert time.perf_counter() - started < 0.05
        sink.close()
    finally:
        endpoint.close()
    assert endpoint.frames == list(range(20)) and all(e["run"] == "r" for e in endpoint.events)


def test_a_webhook_spool_left_by_a_run_is_sent_first_by_the_next(tmp_path: Path) -> None:
    spool = tmp_path / "spool.sqlite"
    dead = open_sink(f"http://127.0.0.1:{free_port()}/hook?close_timeout=0&spool={spool}")
    dead.send(_decision(1))
    dead.close()
    endpoint = Endpoint()
    try:
        sink = open_sink(f"{endpoint.url()}?spool={spool}")
        assert sink.left_from_before == 1
        sink.send(_decision(2))
        sink.close()
    finally:
        endpoint.close()
    assert endpoint.frames == [1, 2]


def test_a_sink_whose_queue_overflows_says_so_and_counts_the_loss(tmp_path: Path) -> None:
    endpoint = Endpoint()
    sink = open_sink(f"{endpoint.url()}?queue=2&spool={tmp_path / 'spool.sqlite'}")
    release = threading.Event()
    add_many = sink.spool.add_many
    sink.spool.add_many = lambda rows: (release.wait(5), add_many(rows))  # a disk that stalls
    try:
        for i in range(10):
            sink.send(_decision(i))
        assert sink.overflowed >= 7
        assert "lost to a full queue" in (sink.behind() or "")
        assert sink.behind() is None or "full queue" not in sink.behind()   # each loss is reported once
        release.set()
        sink.close()
    finally:
        endpoint.close()
    assert sink.counters()["overflowed"] == sink.overflowed and len(endpoint.frames) == 10 - sink.overflowed


def test_the_line_wakes_the_intake_thread_only_when_the_queue_fills(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(queued, "INTAKE_INTERVAL_S", 30.0)   # no timer within the test
    sink = open_sink(f"http://127.0.0.1:{free_port()}/hook?queue=8&close_timeout=0&spool={tmp_path / 'spool.sqlite'}")
    batches: List[int] = []
    add_many = sink.spool.add_many
    sink.spool.add_many = lambda rows: (batches.append(len(rows)), add_many(rows))
    sink.send(_decision(0))
    time.sleep(0.3)
    assert batches == [] and sink.pending() == 1           # one event waits for the timer, not spooled on its own
    sink.send(_decision(1))                                 # a quarter of queue=8: the intake thread is woken
    deadline = time.monotonic() + 5
    while not batches and time.monotonic() < deadline:
        time.sleep(0.01)
    assert batches == [2]                                   # both in one transaction
    sink.send(_decision(2))
    sink.close()                                            # close spools what is queued, whatever the timer
    assert batches == [2, 1]
    assert [json.loads(p)["frame"] for _, _, p in Spool(tmp_path / "spool.sqlite").after(0, 10)] == [0, 1, 2]


def test_an_event_json_cannot_hold_is_lost_for_its_sink_only_and_said(tmp_path: Path) -> None:
    endpoint = Endpoint()
    odd = _decision(1)
    odd.detail = {"score_array": object()}
    try:
        sink = open_sink(f"{endpoint.url()}?spool={tmp_path / 'spool.sqlite'}")
        for event in (_decision(0), odd, _decision(2)):
            sink.send(event)                                # the line's thread writes no JSON: nothing raises here
        sink.close()
    finally:
        endpoint.close()
    assert endpoint.frames == [0, 2] and sink.overflowed == 1
    assert "frame 1 cannot be written as JSON" in (sink.last_error or "") and "1 events lost" in (sink.behind() or "")


def _serve(answer: Callable[[BaseHTTPRequestHandler], None]) -> ThreadingHTTPServer:
    """An HTTP server on 127.0.0.1 that lets ``answer`` reply to every GET and POST."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            answer(self)

        do_GET = do_POST

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.mark.parametrize("code", [301, 302, 303, 307])
def test_a_webhook_redirect_is_a_failed_delivery_and_the_token_never_follows_it(
        code: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GAIN_TEST_TOKEN", "tok-stays-home")
    seen: List[Tuple[str, dict]] = []

    def elsewhere_answer(handler: BaseHTTPRequestHandler) -> None:
        seen.append((handler.command, dict(handler.headers)))
        handler.send_response(200)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    def redirect(handler: BaseHTTPRequestHandler) -> None:
        handler.rfile.read(int(handler.headers.get("Content-Length") or 0))
        handler.send_response(code)
        handler.send_header("Location", f"http://127.0.0.1:{elsewhere.server_port}/other")
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    elsewhere = _serve(elsewhere_answer)
    hook = _serve(redirect)
    spool = tmp_path / "spool.sqlite"
    try:
        sink = open_sink(f"http://127.0.0.1:{hook.server_port}/hook?token_env=GAIN_TEST_TOKEN&insecure=1"
                         f"&close_timeout=0.3&spool={spool}")
        sink.backoff_s = 0.01
        sink.send(_decision(1))
        sink.close()
    finally:
        for server in (hook, elsewhere):
            server.shutdown()
            server.server_close()
    assert seen == []                                    # neither the event nor the token went elsewhere
    assert sink.delivered == 0 and sink.failures >= 1 and (sink.last_error or "").startswith(f"HTTP {code}")
    assert "redirects are not followed" in (sink.last_error or "")
    assert [json.loads(p)["frame"] for _, _, p in Spool(spool).after(0, 10)] == [1]   # kept for the next attempt


def test_a_spool_that_refuses_writes_loses_events_for_its_sink_only_and_close_still_returns(tmp_path: Path) -> None:
    sink = open_sink(f"http://127.0.0.1:{free_port()}/hook?queue=2&close_timeout=0.5&spool={tmp_path / 'spool.sqlite'}")

    def disk_full(rows: object) -> None:
        raise OSError(28, "No space left on device")

    sink.spool.add_many = disk_full
    for i in range(10):
        sink.send(_decision(i))
        time.sleep(0.01)                                 # the intake thread takes some batches before the queue fills
    closing = threading.Thread(target=sink.close, daemon=True)
    started = time.monotonic()
    closing.start()
    closing.join(5)
    assert not closing.is_alive(), "close() hung on a dead intake thread"
    assert time.monotonic() - started < 0.5 + 2.5        # its close timeout and the delivery thread's join
    assert sink.counters() == {"delivered": 0, "pending": 0, "failures": 0, "refused": 0, "overflowed": 10}
    assert "10 events lost" in (sink.behind() or "") and "No space left on device" in (sink.last_error or "")


def test_a_spool_is_owned_by_one_sink_until_it_closes(tmp_path: Path) -> None:
    spool = tmp_path / "spool.sqlite"
    first = open_sink(f"http://127.0.0.1:{free_port()}/a?close_timeout=0&spool={spool}")
    first.send(_decision(1))
    with pytest.raises(SinkError, match=r"spool .*spool\.sqlite is in use by another sink.*give this sink its own spool=PATH"):
        open_sink(f"http://127.0.0.1:{free_port()}/b?close_timeout=0&spool={spool}")
    first.close()
    endpoint = Endpoint()                                # a restarted run takes the spool over and sends what is left
    try:
        again = open_sink(f"{endpoint.url()}?spool={spool}")
        again.close()
    finally:
        endpoint.close()
    assert again.left_from_before == 1 and endpoint.frames == [1]


def test_a_spool_left_by_a_killed_process_is_taken_over_by_the_next(tmp_path: Path) -> None:
    spool = tmp_path / "spool.sqlite"
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time\nfrom edge.sinks.spool import Spool\n"
                               "s = Spool(sys.argv[1]); s.add('t', 'm'); print('ready', flush=True); time.sleep(60)",
                               str(spool)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        with pytest.raises(SinkError, match="is in use by another sink"):
            Spool(spool)
    finally:
        holder.kill()
        holder.wait()
    again = Spool(spool)
    assert [p for _, _, p in again.after(0, 10)] == ["m"]
    again.close()


def test_a_sink_is_behind_when_its_oldest_event_waits_too_long(tmp_path: Path) -> None:
    sink = open_sink(f"http://127.0.0.1:{free_port()}/hook?close_timeout=0&spool={tmp_path / 'spool.sqlite'}")
    sink.lag_s = 0.1
    sink.send(_decision(1))
    assert sink.behind() is None
    time.sleep(0.3)
    why = sink.behind()
    sink.close()
    assert why is not None and "oldest undelivered event waits" in why and "last error" in why


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
