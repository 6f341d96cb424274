"""A real mosquitto broker on a loopback port, and a subscriber that records what arrives."""

from __future__ import annotations

import getpass
import json
import socket
import subprocess
import threading
import time
from pathlib import Path

MOSQUITTO = Path("/usr/sbin/mosquitto")


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
        self.subscribed = threading.Event()
        self.client = _mqtt().Client(_mqtt().CallbackAPIVersion.VERSION2, client_id="test-subscriber", clean_session=False)
        self.log: list = []

        def on_connect(c, u, flags, rc, p):
            self.log.append(("connect", flags.session_present, str(rc), time.monotonic()))
            c.subscribe(topic, qos=1)

        self.client.on_connect = on_connect
        self.client.on_subscribe = lambda c, u, mid, codes, p: self.subscribed.set()
        self.client.on_disconnect = lambda c, u, f, rc, p: self.log.append(("disconnect", str(rc), time.monotonic()))
        self.client.on_message = lambda c, u, msg: self.frames.append(json.loads(msg.payload)["frame"])
        self.client.reconnect_delay_set(1, 1)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def _mqtt():
    import paho.mqtt.client as mqtt

    return mqtt
