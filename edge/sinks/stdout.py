"""JSON lines on standard output: the default sink, easy to pipe into anything."""

from __future__ import annotations

import sys
from typing import Optional, TextIO

from edge.events import Event
from edge.sinks.base import FrameContext, Sink


class StdoutSink(Sink):
    name = "stdout"

    def __init__(self, stream: Optional[TextIO] = None) -> None:
        self.stream = stream

    def send(self, event: Event, context: Optional[FrameContext] = None) -> None:
        stream = self.stream or sys.stdout
        stream.write(event.to_json() + "\n")
        stream.flush()
