"""MQTT with a real mosquitto on a loopback port: the broker goes away mid-run and comes back.

Delivery is at least once: every decision arrives, duplicates are allowed (and counted).
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from edge.backends import open_runner
from edge.bench.loopback import MOSQUITTO, Broker, Subscriber, free_port
from edge.pipeline import Pipeline
from edge.sinks.mqtt import MQTTSink
from edge.sinks.spool import Spool
from edge.sources import CaptureSource
from gain_mtl.cli import main
from tests.helpers.tiny_bundle import SyntheticCamera, build_tiny_bundle, write_video

pytestmark = pytest.mark.skipif(not MOSQUITTO.exists(), reason="mosquitto is not installed (make setup installs it with apt)")
pytest.importorskip("paho.mqtt.client", reason="paho-mqtt is not installed (mqtt extra)")


@pytest.fixture()
def broker(tmp_path: Path):
    b = Broker(tmp_path, free_port())
    b.start()
    yield b
    b.stop()


def test_broker_outage_mid_run_loses_no_decision(broker: Broker, tmp_path: Path) -> None:
    frames = 150
    subscriber = Subscriber(broker.port, "line/decisions")
    assert subscriber.subscribed.wait(10), "the test subscriber never got its subscription acknowledged"
    sink = MQTTSink("127.0.0.1", broker.port, "line/decisions", tmp_path / "spool.sqlite", reconnect_max_s=1)
    assert sink.connected_at_start and not sink.notes()
    cam = SyntheticCamera(frames, fps=75.0)
    source = CaptureSource(cam.open, "synthetic camera", live=True, fps=75.0)
    cam.on_exhausted = source.stop

    def outage() -> None:
        give_up = time.monotonic() + 30  # a run that dies early must fail the test, not hang it
        while cam.produced < 40 and time.monotonic() < give_up:
            time.sleep(0.01)
        broker.stop()
        time.sleep(0.8)
        broker.start()

    chaos = threading.Thread(target=outage, daemon=True)
    chaos.start()
    bundle = build_tiny_bundle(tmp_path / "bundle")
    with open_runner(bundle, "onnxruntime") as runner:
        summary = Pipeline(source, runner, 0.5, [sink]).run()
    chaos.join(timeout=40)
    assert not chaos.is_alive()
    sink.close()
    deadline = time.monotonic() + 10
    while len(set(subscriber.frames)) < summary.frames and time.monotonic() < deadline:
        time.sleep(0.1)
    subscriber.close()
    assert sink.reconnects >= 1                          # the outage really happened mid-run
    assert summary.frames == frames
    assert set(subscriber.frames) == set(range(frames))  # at least once: nothing lost
    assert len(Spool(tmp_path / "spool.sqlite")) == 0   # every event acknowledged
    reconnect = [entry for entry in subscriber.log if entry[0] == "connect"][1:]
    assert reconnect and reconnect[0][1] is True         # the subscriber's session survived the restart
    # Duplicates are allowed (at least once); they are resends of unacknowledged events.
    assert len(subscriber.frames) >= frames
    # Those resends come from the outage: frames acknowledged long before the broker stopped (it
    # stopped once the camera had made 40, at 75 fps) are never sent twice.
    duplicated = {f for f in subscriber.frames if subscriber.frames.count(f) > 1}
    assert all(f >= 20 for f in duplicated), sorted(duplicated)


def test_unreachable_broker_at_start_runs_on_and_spools(tmp_path: Path) -> None:
    bundle = build_tiny_bundle(tmp_path / "bundle")
    write_video(tmp_path / "v.avi", 5)
    spool = tmp_path / "spool.sqlite"
    port = free_port()  # nothing listens there
    result = CliRunner().invoke(main, ["run", "--model", str(bundle), "--source", str(tmp_path / "v.avi"),
                                       "--sink", f"mqtt://127.0.0.1:{port}/line?spool={spool}&close_timeout=0.5"])
    assert result.exit_code == 0, result.output
    assert f"MQTT broker 127.0.0.1:{port} is unreachable; running on, spooling" in result.output
    assert len(Spool(spool)) == 5 + 1   # five decisions and the summary wait for the broker


def test_a_port_taken_before_the_broker_binds_it_is_replaced(tmp_path: Path) -> None:
    import socket

    with socket.socket() as taken:  # bound, not listening: as a port another process took for its own use
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]
        broker = Broker(tmp_path, port)
        broker.start()
        try:
            assert broker.port != port
            socket.create_connection(("127.0.0.1", broker.port), 1.0).close()
        finally:
            broker.stop()


def test_a_restart_keeps_its_port_and_says_why_it_cannot_have_it(tmp_path: Path) -> None:
    import socket

    broker = Broker(tmp_path, free_port())
    broker.start()
    broker.stop()
    with socket.socket() as taken:  # taken while the broker was down
        taken.bind(("127.0.0.1", broker.port))
        with pytest.raises(RuntimeError, match="in use"):
            broker.start()
