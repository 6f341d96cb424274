"""Destinations on loopback for soak runs and tests: a real mosquitto broker and an HTTP(S) endpoint.

They record what arrives (frame ids) so a run can be checked for lost decisions, and can be made
unkind: the broker stopped and restarted, the endpoint slow or answering errors.
"""

from __future__ import annotations

import getpass
import json
import socket
import ssl
import subprocess
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Dict, List, Optional

MOSQUITTO = Path("/usr/sbin/mosquitto")
MOSQUITTO_PASSWD = Path("/usr/bin/mosquitto_passwd")
START_TIMEOUT_S = 10.0
START_ATTEMPTS = 3


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class ServerTLS:
    """A TLS listener's files; ``client_ca`` set: clients must show a certificate it signed."""

    cert: Path
    key: Path
    client_ca: Optional[Path] = None


class Broker:
    """mosquitto on 127.0.0.1:port with persistence, so sessions survive a restart.

    ``tls``: the listener speaks TLS only. ``users``: name -> password, written with
    mosquitto_passwd; anonymous clients are then refused.
    """

    def __init__(self, folder: Path, port: int, *, tls: Optional[ServerTLS] = None,
                 users: Optional[Dict[str, str]] = None) -> None:
        self.port = port
        self.conf = folder / "mosquitto.conf"
        self.log = folder / "mosquitto.log"
        (folder / "data").mkdir(exist_ok=True)
        # Run as the current user: started as root, mosquitto would switch to its own user and
        # could not write its persistence file into this folder.
        self._settings = [f"allow_anonymous {'false' if users else 'true'}",
                          f"user {getpass.getuser()}", "persistence true", f"persistence_location {folder / 'data'}/"]
        if users:
            passwd = folder / "passwd"
            for i, (name, password) in enumerate(users.items()):
                subprocess.run([str(MOSQUITTO_PASSWD), "-b", *(["-c"] if i == 0 else []), str(passwd), name, password],
                               check=True, capture_output=True)
            self._settings.append(f"password_file {passwd}")
        if tls:
            self._settings += [f"certfile {tls.cert}", f"keyfile {tls.key}"]
            if tls.client_ca:
                self._settings += [f"cafile {tls.client_ca}", "require_certificate true"]
        self._write_conf()
        self.proc: Optional[subprocess.Popen] = None
        self._started = False

    def _write_conf(self) -> None:
        self.conf.write_text("\n".join([f"listener {self.port} 127.0.0.1", *self._settings]) + "\n")

    def start(self, attempts: int = START_ATTEMPTS) -> None:
        """Start mosquitto and return once it accepts connections.

        ``free_port`` only finds a port free at that moment: another process may bind it before
        mosquitto does. On a first start that port is replaced by a new one; a restart keeps its
        port (clients reconnect to it). Any other failure raises with mosquitto's own words.
        """
        for attempt in range(attempts):
            with open(self.log, "wb") as log:
                self.proc = subprocess.Popen([str(MOSQUITTO), "-c", str(self.conf)], stdout=subprocess.DEVNULL, stderr=log)
            deadline = time.monotonic() + START_TIMEOUT_S
            while time.monotonic() < deadline and self.proc.poll() is None:
                try:
                    socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                    self._started = True
                    return
                except OSError:
                    time.sleep(0.05)
            code = self.proc.poll()
            if code is None:
                self.stop()
            said = self.log.read_text(errors="replace").strip()
            if code is not None and "in use" in said and not self._started and attempt + 1 < attempts:
                self.port = free_port()
                self._write_conf()
                continue
            break
        how = f"exited with {code}" if code is not None else f"accepted no connection within {START_TIMEOUT_S:g} s"
        raise RuntimeError(f"mosquitto ({self.conf}) did not start on 127.0.0.1:{self.port}: it {how}; its log: {said[-500:] or '(empty)'}")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(5)
            self.proc = None


class Subscriber:
    """A persistent-session QoS 1 subscriber that records every frame id it receives."""

    def __init__(self, port: int, topic: str, *, context: Optional[ssl.SSLContext] = None,
                 username: Optional[str] = None, password: Optional[str] = None) -> None:
        import paho.mqtt.client as mqtt

        self.frames: List[int] = []
        self.subscribed = threading.Event()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"subscriber-{port}", clean_session=False)
        self.log: List[tuple] = []

        def on_connect(client: Any, userdata: Any, flags: Any, reason_code: Any, properties: Any) -> None:
            self.log.append(("connect", flags.session_present, str(reason_code), time.monotonic()))
            client.subscribe(topic, qos=1)

        self.client.on_connect = on_connect
        self.client.on_subscribe = lambda c, u, mid, codes, p: self.subscribed.set()
        self.client.on_disconnect = lambda c, u, f, rc, p: self.log.append(("disconnect", str(rc), time.monotonic()))
        self.client.on_message = lambda c, u, msg: self.frames.append(json.loads(msg.payload)["frame"])
        self.client.reconnect_delay_set(1, 1)
        if context is not None:
            self.client.tls_set_context(context)
        if username is not None:
            self.client.username_pw_set(username, password)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


class Endpoint:
    """An HTTP(S) endpoint on 127.0.0.1 that records each POSTed JSON event and its headers.

    ``delay_s`` makes every answer slow; ``statuses`` are answered first, in order, then 204.
    """

    def __init__(self, *, delay_s: float = 0.0, statuses: Optional[List[int]] = None,
                 context: Optional[ssl.SSLContext] = None) -> None:
        self.delay_s = delay_s
        self.statuses = list(statuses or [])
        self.events: List[Dict[str, Any]] = []
        self.headers: List[Dict[str, str]] = []
        self.attempts = 0
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                time.sleep(endpoint.delay_s)
                endpoint.attempts += 1
                code = endpoint.statuses.pop(0) if endpoint.statuses else 204
                if 200 <= code < 300:
                    endpoint.events.append(json.loads(body))
                    endpoint.headers.append(dict(self.headers))
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        if context is not None:
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_port
        self.scheme = "https" if context is not None else "http"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def url(self, path: str = "/hook") -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}{path}"

    @property
    def frames(self) -> List[int]:
        return [e["frame"] for e in self.events if e.get("kind") == "decision"]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
