"""MQTT sink (paho-mqtt 2.x, QoS 1), a queued sink: no decision is lost while the broker is away.

Spec: ``mqtt[s]://HOST[:PORT]/TOPIC[?OPTIONS]``; options: ``timeout=S`` (wait for the broker at
start, 2), ``spool=PATH``, ``queue=N`` (1000), ``close_timeout=S`` (10), ``username=NAME``,
``password_env=VAR`` | ``password_file=PATH`` (over plain mqtt only with ``insecure=1``), and for
mqtts ``ca=PATH``, ``cert=PATH``, ``key=PATH``.

Delivery is **at least once** (edge/sinks/queued.py): the publisher thread sends spooled events in
order while connected and drops each one from the spool only when the broker acknowledges it
(PUBACK). When the connection drops, unacknowledged events stay spooled and are sent again after
paho reconnects. A message can therefore arrive twice (acknowledged by the broker but the PUBACK
lost, or resent both by paho and by the spool); each carries ``run`` and ``frame`` so consumers can
drop duplicates.

A broker that refuses the login, or whose TLS certificate the CA does not vouch for, is a
configuration error at start (exit 2); a broker that is away is not (the sink runs on and spools).

Decisions go to ``TOPIC``, status events (source lost, sink errors, summary) to ``TOPIC/status``.
"""

from __future__ import annotations

import ssl
import threading
import uuid
from pathlib import Path
from typing import Any, Dict, List, Optional

from edge.events import Event
from edge.sinks.base import SinkError
from edge.sinks.credentials import probe, read_secret, tls_context
from edge.sinks.options import SpecOptions, public_url, split_sink_url
from edge.sinks.queued import DEFAULT_QUEUE, QueuedSink
from edge.sinks.spool import default_spool_path


class MQTTSink(QueuedSink):
    def __init__(self, host: str, port: int, topic: str, spool_path: Optional[Path] = None, *, qos: int = 1,
                 connect_wait_s: float = 2.0, reconnect_max_s: int = 5, window: int = 100,
                 close_timeout_s: float = 10.0, keepalive_s: int = 10, queue_size: int = DEFAULT_QUEUE,
                 context: Optional[ssl.SSLContext] = None, username: Optional[str] = None,
                 password: Optional[str] = None) -> None:
        try:
            import paho.mqtt.client as mqtt
        except ImportError as exc:
            raise SinkError("paho-mqtt is not installed: pip install 'gain-mtl[mqtt]'") from exc
        scheme = "mqtts" if context is not None else "mqtt"
        if not topic:
            raise SinkError(f"{scheme}://{host}:{port}/: give a topic, e.g. {scheme}://{host}:{port}/line1/decisions")
        if password is not None and username is None:
            raise SinkError(f"{scheme}://{host}:{port}/{topic}: a password needs its user: add username=NAME")
        self.host, self.port, self.topic, self.qos = host, port, topic, qos
        self.name = f"{scheme}://{host}:{port}/{topic}"
        self.window = window
        probe(host, port, context, self.name, connect_wait_s)  # an untrusted certificate ends the start here
        self._mqtt = mqtt
        self._connected = False
        self._refusal: Optional[str] = None   # why the broker turned the last login down
        self._sent_upto = 0                   # highest spool seq published on this connection
        self._generation = 0                  # connections so far: a watermark read before a reconnect is stale
        self._mid_seq: Dict[int, int] = {}    # paho message id -> spool seq, this connection
        self._stale: Dict[int, int] = {}      # the same for earlier connections (paho resends those)
        self._early_acks: set = set()         # PUBACKs that arrived before their mid was recorded
        self.reconnects = 0
        super().__init__(spool_path or default_spool_path("mqtt", host, port, topic),
                         queue_size=queue_size, close_timeout_s=close_timeout_s)

        self._client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"gainctl-{uuid.uuid4().hex[:10]}",
                                   protocol=mqtt.MQTTv311, clean_session=True)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_publish = self._on_publish
        self._client.reconnect_delay_set(min_delay=1, max_delay=reconnect_max_s)
        self._client.max_inflight_messages_set(window)
        if context is not None:
            self._client.tls_set_context(context)
        if username is not None:
            self._client.username_pw_set(username, password)
        try:
            self._client.connect_async(host, port, keepalive=keepalive_s)
        except (OSError, ValueError) as exc:
            self.spool.close()
            raise SinkError(f"{self.name}: cannot use this broker address ({exc})") from exc
        self._client.loop_start()
        with self._cv:
            self._cv.wait_for(lambda: self._connected or self._refusal is not None, connect_wait_s)
            self.connected_at_start, refusal = self._connected, self._refusal
        if refusal is not None:
            self._client.disconnect()
            self._client.loop_stop()
            self.spool.close()
            raise SinkError(f"{self.name}: the broker refused the connection ({refusal}); check username= and "
                            f"password_env= / password_file=")
        self._start()

    def notes(self) -> List[str]:
        if self.connected_at_start:
            return []
        return [f"MQTT broker {self.host}:{self.port} is unreachable; running on, spooling events to "
                f"{self.spool.path} and sending them when it is back"]

    def _topic(self, event: Event) -> str:
        return self.topic if event.kind == "decision" else f"{self.topic}/status"

    # -- paho callbacks (network thread) ---------------------------------------------------
    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason_code: Any, properties: Any) -> None:
        if getattr(reason_code, "is_failure", False):
            with self._cv:
                self._refusal = str(reason_code)
                self._cv.notify_all()
            self._failed(f"broker refused the connection ({reason_code})")
            return
        with self._cv:
            if self._sent_upto or self._mid_seq:
                self.reconnects += 1
            self._connected = True
            # Resend everything still unacknowledged. paho also resends what it had in flight,
            # under the old ids: keep those so their PUBACKs still clear the spool.
            self._sent_upto = 0
            self._generation += 1
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
        self._acknowledged(seq)

    # -- publisher thread ------------------------------------------------------------------
    def _deliver_loop(self) -> None:
        while True:
            with self._cv:
                self._cv.wait_for(lambda: (self._connected and len(self._mid_seq) < self.window) or self._stopping, 0.5)
                if self._stopping:
                    return
                if not self._connected or len(self._mid_seq) >= self.window:
                    continue
                start, room, generation = self._sent_upto, self.window - len(self._mid_seq), self._generation
            rows = self._wait_for_work(start, room)
            if rows is None:
                return
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
                    reconnected = generation != self._generation
                    if not reconnected:
                        self._sent_upto = max(self._sent_upto, seq)
                if acked_early:
                    self._acknowledged(seq)
                if reconnected:
                    break  # resend from the reset watermark, not from the one read before

    def _disconnect(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()


def open_mqtt(spec: str) -> MQTTSink:
    """The MQTT sink for an ``mqtt://`` or ``mqtts://`` spec (options in the module docstring)."""
    parts = split_sink_url(spec, "MQTT")
    label = public_url(parts)
    try:
        port = parts.port or (8883 if parts.scheme == "mqtts" else 1883)
    except ValueError as exc:
        raise SinkError(f"{label}: bad port ({exc})") from None
    if not parts.hostname:
        raise SinkError(f"{label}: no broker host; e.g. mqtt://localhost:1883/line1/decisions")
    options = SpecOptions(label, parts.query)
    password = read_secret(options, "password", tls=parts.scheme == "mqtts")
    sink_options = dict(
        context=tls_context(options, parts.scheme == "mqtts"), username=options.text("username", parts.username),
        password=password, spool_path=options.path("spool"), queue_size=options.integer("queue", DEFAULT_QUEUE, minimum=1),
        connect_wait_s=options.number("timeout", 2.0, minimum=0.001), close_timeout_s=options.number("close_timeout", 10.0),
    )
    options.check_used()
    return MQTTSink(parts.hostname, port, parts.path.lstrip("/"), **sink_options)  # type: ignore[arg-type]
