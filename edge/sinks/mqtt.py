"""MQTT sink (paho-mqtt 2.x, QoS 1) with a disk spool: no decision is lost while the broker is away.

Delivery is **at least once**. Every event is first written to an SQLite spool on disk; a
publisher thread sends spooled events in order while connected and deletes each one only when the
broker acknowledges it (PUBACK). When the connection drops, unacknowledged events stay in the spool
and are sent again after paho reconnects; events left at exit are sent by the next run. A message
can therefore arrive twice (acknowledged by the broker but the PUBACK lost, or resent both by paho
and by the spool); each carries ``run`` and ``frame`` so consumers can drop duplicates.

Decisions go to ``TOPIC``, status events (source lost, sink errors, summary) to ``TOPIC/status``.
"""

from __future__ import annotations

import hashlib
import sqlite3
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from edge.cache import user_cache_dir
from edge.events import Event
from edge.sinks.base import FrameContext, Sink, SinkError


def default_spool_path(host: str, port: int, topic: str) -> Path:
    """Per broker and topic, in the user's cache (never the current directory)."""
    tag = hashlib.sha256(f"{host}:{port}/{topic}".encode()).hexdigest()[:12]
    return user_cache_dir("spool") / f"mqtt-{host}-{port}-{tag}.sqlite"


class Spool:
    """An ordered on-disk queue: add, read after a watermark, remove on acknowledgement."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")  # survives a crash of this process; see journal for power loss
            self._db.execute("CREATE TABLE IF NOT EXISTS spool (seq INTEGER PRIMARY KEY AUTOINCREMENT, topic TEXT, payload TEXT)")
        except (OSError, sqlite3.Error) as exc:
            raise SinkError(f"MQTT spool {self.path}: cannot open ({exc}); pass a writable spool=PATH in the sink URL") from exc
        self._lock = threading.Lock()

    def add(self, topic: str, payload: str) -> int:
        with self._lock:
            return int(self._db.execute("INSERT INTO spool (topic, payload) VALUES (?, ?)", (topic, payload)).lastrowid)

    def after(self, seq: int, limit: int) -> List[Tuple[int, str, str]]:
        with self._lock:
            return self._db.execute("SELECT seq, topic, payload FROM spool WHERE seq > ? ORDER BY seq LIMIT ?",
                                    (seq, limit)).fetchall()

    def remove(self, seq: int) -> None:
        with self._lock:
            self._db.execute("DELETE FROM spool WHERE seq = ?", (seq,))

    def __len__(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM spool").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()


class MQTTSink(Sink):
    def __init__(self, host: str, port: int, topic: str, spool_path: Optional[Path] = None, *, qos: int = 1,
                 connect_wait_s: float = 2.0, reconnect_max_s: int = 5, window: int = 100,
                 close_timeout_s: float = 10.0, keepalive_s: int = 10) -> None:
        try:
            import paho.mqtt.client as mqtt
        except ImportError as exc:
            raise SinkError("paho-mqtt is not installed: pip install 'gain-mtl[mqtt]'") from exc
        if not topic:
            raise SinkError(f"mqtt://{host}:{port}/: give a topic, e.g. mqtt://{host}:{port}/line1/decisions")
        self.host, self.port, self.topic, self.qos = host, port, topic, qos
        self.name = f"mqtt://{host}:{port}/{topic}"
        self.window, self.close_timeout_s = window, close_timeout_s
        self.spool = Spool(spool_path or default_spool_path(host, port, topic))
        self._mqtt = mqtt
        self._cv = threading.Condition()
        self._connected = False
        self._closing = False
        self._sent_upto = 0                   # highest spool seq published on this connection
        self._mid_seq: Dict[int, int] = {}    # paho message id -> spool seq, this connection
        self._stale: Dict[int, int] = {}      # the same for earlier connections (paho resends those)
        self._early_acks: set = set()         # PUBACKs that arrived before their mid was recorded
        self.reconnects = 0

        self._client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"gainctl-{uuid.uuid4().hex[:10]}",
                                   protocol=mqtt.MQTTv311, clean_session=True)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_publish = self._on_publish
        self._client.reconnect_delay_set(min_delay=1, max_delay=reconnect_max_s)
        self._client.max_inflight_messages_set(window)
        try:
            self._client.connect_async(host, port, keepalive=keepalive_s)
        except (OSError, ValueError) as exc:
            raise SinkError(f"{self.name}: cannot use this broker address ({exc})") from exc
        self._client.loop_start()
        self._publisher = threading.Thread(target=self._publish_loop, name="mqtt-publisher", daemon=True)
        self._publisher.start()
        with self._cv:
            self._cv.wait_for(lambda: self._connected, connect_wait_s)
            self.connected_at_start = self._connected

    def notes(self) -> List[str]:
        if self.connected_at_start:
            return []
        return [f"MQTT broker {self.host}:{self.port} is unreachable; running on, spooling events to "
                f"{self.spool.path} and sending them when it is back"]

    # -- paho callbacks (network thread) ---------------------------------------------------
    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason_code: Any, properties: Any) -> None:
        if getattr(reason_code, "is_failure", False):
            return
        with self._cv:
            if self._sent_upto or self._mid_seq:
                self.reconnects += 1
            self._connected = True
            # Resend everything still unacknowledged. paho also resends what it had in flight,
            # under the old ids: keep those so their PUBACKs still clear the spool.
            self._sent_upto = 0
            self._stale.update(self._mid_seq)
            self._mid_seq.clear()
            self._early_acks.clear()
            self._cv.notify_all()

    def _on_disconnect(self, client: Any, userdata: Any, flags: Any, reason_code: Any, properties: Any) -> None:
        with self._cv:
            self._connected = False
            self._cv.notify_all()

    def _on_publish(self, client: Any, userdata: Any, mid: int, reason_code: Any, properties: Any) -> None:
        with self._cv:
            seq = self._mid_seq.pop(mid, None)
            if seq is None:
                seq = self._stale.pop(mid, None)
            if seq is None:
                self._early_acks.add(mid)
                return
            self._cv.notify_all()
        self.spool.remove(seq)

    # -- publisher thread ------------------------------------------------------------------
    def _publish_loop(self) -> None:
        while True:
            with self._cv:
                self._cv.wait_for(lambda: (self._connected and len(self._mid_seq) < self.window) or self._closing, 0.5)
                if self._closing and (not self._connected or len(self.spool) == 0):
                    return
                if not self._connected or len(self._mid_seq) >= self.window:
                    continue
                start, room = self._sent_upto, self.window - len(self._mid_seq)
            rows = self.spool.after(start, room)
            if not rows:
                with self._cv:
                    if not self._closing:
                        self._cv.wait(0.5)  # woken by send()
                continue
            for seq, topic, payload in rows:
                info = self._client.publish(topic, payload, qos=self.qos)
                if info.rc != self._mqtt.MQTT_ERR_SUCCESS:
                    break  # disconnected meanwhile: on_connect resets the watermark
                acked_early = False
                with self._cv:
                    self._stale.pop(info.mid, None)  # paho reuses an id only once it is done with it
                    if info.mid in self._early_acks:
                        self._early_acks.discard(info.mid)
                        acked_early = True
                    else:
                        self._mid_seq[info.mid] = seq
                    self._sent_upto = max(self._sent_upto, seq)
                if acked_early:
                    self.spool.remove(seq)

    # -- sink interface --------------------------------------------------------------------
    def send(self, event: Event, context: Optional[FrameContext] = None) -> None:
        topic = self.topic if event.kind == "decision" else f"{self.topic}/status"
        self.spool.add(topic, event.to_json())
        with self._cv:
            self._cv.notify_all()

    def close(self) -> None:
        """Wait (up to ``close_timeout_s``) until the broker has acknowledged everything spooled."""
        deadline = time.monotonic() + self.close_timeout_s
        while len(self.spool) and time.monotonic() < deadline:
            with self._cv:
                self._cv.notify_all()
                self._cv.wait(0.1)
        with self._cv:
            self._closing = True
            self._cv.notify_all()
        self._publisher.join(2.0)
        left = len(self.spool)
        self._client.disconnect()
        self._client.loop_stop()
        self.spool.close()
        if left:
            print(f"gainctl run: {left} events are still spooled in {self.spool.path}; they are sent "
                  f"when a run with this MQTT sink next reaches the broker", file=sys.stderr)
