"""The local journal: one JSON line per event, appended; the record of truth of a run.

Durability policy: every line is written and flushed to the OS as it happens (a crash of this
process loses nothing), and fsync'd at most every ``fsync_interval_s`` seconds and at close (a power
loss loses at most that window). ``fsync_interval_s=0`` fsyncs every line, at the cost of one disk
flush per frame (and flash wear on a camera's eMMC). Lines are never rewritten, so a reader can
tail the file while the run goes on.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Optional

from edge.events import Event
from edge.sinks.base import FrameContext, Sink, SinkError


class JournalSink(Sink):
    def __init__(self, path: str | os.PathLike, fsync_interval_s: float = 1.0) -> None:
        self.path = Path(path)
        self.name = f"journal:{self.path}"
        self.fsync_interval_s = fsync_interval_s
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = open(self.path, "a", encoding="utf-8")
        except OSError as exc:
            raise SinkError(f"journal {self.path}: cannot open for appending ({exc.strerror}); choose a writable path") from exc
        self._last_sync = time.monotonic()

    def send(self, event: Event, context: Optional[FrameContext] = None) -> None:
        self._fh.write(event.to_json() + "\n")
        self._fh.flush()
        now = time.monotonic()
        if now - self._last_sync >= self.fsync_interval_s:
            os.fsync(self._fh.fileno())
            self._last_sync = now

    def close(self) -> None:
        if not self._fh.closed:
            self._fh.flush()
            os.fsync(self._fh.fileno())
            self._fh.close()
