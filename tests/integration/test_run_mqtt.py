"""MQTT with a real mosquitto on a loopback port: the broker goes away mid-run and comes back.

Delivery is at least once: every decision arrives, duplicates are allowed (and counted).
"""

from __future__ import annotations

import getpass
import json
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from edge.backends import open_runner
from edge.pipeline import Pipeline
from edge.sinks.mqtt import MQTTSink, Spool
from edge.sources import CaptureSource
from gain_mtl.cli import main
from tests.helpers.tiny_bundle import SyntheticCamera, build_tiny_bundle, write_video

MOSQUITTO = Path("/usr/sbin/mosquitto")
pytestmark = pytest.mark.skipif(not MOSQUITTO.exists(), reason="mosquitto is not installed (make setup installs it with apt)")
mqtt = pytest.importorskip("paho.mqtt.client", reason="paho-mqtt is not installed (mqtt extra)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Broker:
    """mosquitto on 127.0.0.1:port with persistence, so sessions survive a restart."""

    def __init__(self, folder: Path, port: int) -> None:
        self.port = port
        self.conf = folder / "mosquitto.conf"
        (folder / "data").mkdir(exist_ok=True)
        # Run as the current user: started as root, mosquitto would switch to its own user and
        # could not write its persistence file into this folder.
        self.conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\nuser {getpass.getuser()}\n"
                             f"persistence true\npersistence_location {folder / 'data'}/\n")
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen([str(MOSQUITTO), "-c", str(self.conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("mosquitto did not start")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(5)
            self.proc = None


class Subscriber:
    """A persistent-session QoS 1 subscriber that records every frame id it receives."""

    def __init__(self, port: int, topic: str) -> None:
        self.frames: list[int] = []
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="test-subscriber", clean_session=False)
        self.log: list = []

        def on_connect(c, u, flags, rc, p):
            self.log.append(("connect", flags.session_present, str(rc), time.monotonic()))
            c.subscribe(topic, qos=1)

        self.client.on_connect = on_connect
        self.client.on_disconnect = lambda c, u, f, rc, p: self.log.append(("disconnect", str(rc), time.monotonic()))
        self.client.on_message = lambda c, u, msg: self.frames.append(json.loads(msg.payload)["frame"])
        self.client.reconnect_delay_set(1, 1)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture()
def broker(tmp_path: Path):
    b = Broker(tmp_path, free_port())
    b.start()
    yield b
    b.stop()


def test_broker_outage_mid_run_loses_no_decision(broker: Broker, tmp_path: Path) -> None:
    frames = 150
    subscriber = Subscriber(broker.port, "line/decisions")
    time.sleep(0.3)
    sink = MQTTSink("127.0.0.1", broker.port, "line/decisions", tmp_path / "spool.sqlite", reconnect_max_s=1)
    assert sink.connected_at_start and not sink.notes()
    cam = SyntheticCamera(frames, fps=75.0)
    source = CaptureSource(cam.open, "synthetic camera", live=True, fps=75.0)
    cam.on_exhausted = source.stop

    def outage() -> None:
        while cam.produced < 40:
            time.sleep(0.01)
        broker.stop()
        time.sleep(0.8)
        broker.start()

    chaos = threading.Thread(target=outage)
    chaos.start()
    bundle = build_tiny_bundle(tmp_path / "bundle")
    with open_runner(bundle, "onnxruntime") as runner:
        summary = Pipeline(source, runner, 0.5, [sink]).run()
    chaos.join()
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
