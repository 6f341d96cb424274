"""Sinks: where events go. ``open_sink`` turns a command-line spec into one.

Specs: ``stdout``, ``journal:PATH``, ``mqtt[s]://HOST[:PORT]/TOPIC[?OPTIONS]`` (edge/sinks/mqtt.py),
``http(s)://HOST[:PORT]/PATH[?OPTIONS]`` (webhook, edge/sinks/webhook.py), ``gpio:CHIP:LINE[:dry-run]``.
"""

from __future__ import annotations

from edge.sinks.base import FrameContext, Sink, SinkError

SINK_FORMS = ("stdout", "journal:PATH", "mqtt[s]://HOST[:PORT]/TOPIC[?OPTIONS]", "http(s)://HOST/PATH[?OPTIONS]",
              "gpio:CHIP:LINE[:dry-run]")


def open_sink(spec: str) -> Sink:
    """Build the sink for ``spec``; SinkError (listing the valid forms) for anything else."""
    if spec == "stdout":
        from edge.sinks.stdout import StdoutSink

        return StdoutSink()
    if spec.startswith("journal:") and len(spec) > len("journal:"):
        from edge.sinks.journal import JournalSink

        return JournalSink(spec[len("journal:"):])
    if spec.startswith(("mqtt://", "mqtts://")):
        from edge.sinks.mqtt import open_mqtt

        return open_mqtt(spec)
    if spec.startswith(("http://", "https://")):
        from edge.sinks.webhook import open_webhook

        return open_webhook(spec)
    if spec.startswith("gpio:"):
        from edge.sinks.gpio import GPIOSink

        parts = spec.split(":")
        if len(parts) in (3, 4) and parts[2].isdigit() and (len(parts) == 3 or parts[3] == "dry-run"):
            return GPIOSink(parts[1], int(parts[2]), dry_run=len(parts) == 4)
    raise SinkError(f"unknown sink {spec.split('?')[0]!r}; use one of: {', '.join(SINK_FORMS)}")


__all__ = ["FrameContext", "SINK_FORMS", "Sink", "SinkError", "open_sink"]
