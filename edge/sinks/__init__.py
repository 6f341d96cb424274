"""Sinks: where events go. ``open_sink`` turns a command-line spec into one.

Specs: ``stdout``, ``journal:PATH``, ``mqtt://HOST[:PORT]/TOPIC[?spool=PATH&close_timeout=S]``,
``http(s)://...`` (webhook), ``gpio:CHIP:LINE[:dry-run]``.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from edge.sinks.base import FrameContext, Sink, SinkError

SINK_FORMS = ("stdout", "journal:PATH", "mqtt://HOST[:PORT]/TOPIC[?spool=PATH&close_timeout=S]", "http(s)://URL", "gpio:CHIP:LINE[:dry-run]")


def open_sink(spec: str) -> Sink:
    """Build the sink for ``spec``; SinkError (listing the valid forms) for anything else."""
    if spec == "stdout":
        from edge.sinks.stdout import StdoutSink

        return StdoutSink()
    if spec.startswith("journal:") and len(spec) > len("journal:"):
        from edge.sinks.journal import JournalSink

        return JournalSink(spec[len("journal:"):])
    if spec.startswith("mqtt://"):
        from pathlib import Path

        from edge.sinks.mqtt import MQTTSink

        url = urlsplit(spec)
        try:
            port = url.port or 1883
        except ValueError as exc:
            raise SinkError(f"{spec}: bad port ({exc})") from exc
        if not url.hostname:
            raise SinkError(f"{spec}: no broker host; e.g. mqtt://localhost:1883/line1/decisions")
        query = parse_qs(url.query)
        spool = query.get("spool", [None])[0]
        try:
            close_timeout = float(query.get("close_timeout", ["10"])[0])
        except ValueError as exc:
            raise SinkError(f"{spec}: close_timeout must be seconds ({exc})") from exc
        return MQTTSink(url.hostname, port, url.path.lstrip("/"), Path(spool) if spool else None,
                        close_timeout_s=close_timeout)
    if spec.startswith(("http://", "https://")):
        from edge.sinks.webhook import WebhookSink

        return WebhookSink(spec)
    if spec.startswith("gpio:"):
        from edge.sinks.gpio import GPIOSink

        parts = spec.split(":")
        if len(parts) in (3, 4) and parts[2].isdigit() and (len(parts) == 3 or parts[3] == "dry-run"):
            return GPIOSink(parts[1], int(parts[2]), dry_run=len(parts) == 4)
    raise SinkError(f"unknown sink {spec!r}; use one of: {', '.join(SINK_FORMS)}")


__all__ = ["FrameContext", "SINK_FORMS", "Sink", "SinkError", "open_sink"]
