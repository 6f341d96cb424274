"""What every sink is: something that receives events, in order, from one thread."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional

import numpy as np

from edge.events import Event


class SinkError(ValueError):
    """A sink that cannot be configured (bad URL, missing library, no GUI): exit code 2."""


@dataclass
class FrameContext:
    """The pixels behind a decision, for sinks that draw (save-rejects, show); others ignore it."""

    image: Optional[np.ndarray]
    outputs: Optional[Dict[str, np.ndarray]]


class Sink:
    """Base sink. ``send`` may raise: the pipeline turns that into a status event, never a crash."""

    name = "sink"
    # Inline sinks (journal, GPIO, stdout) deliver inside ``send`` and go first; the others queue.
    inline = True

    def send(self, event: Event, context: Optional[FrameContext] = None) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """Deliver what is pending and release resources."""

    def notes(self) -> List[str]:
        """Things the operator should know at start (e.g. a broker that is away)."""
        return []

    def counters(self) -> Dict[str, int]:
        """Delivery counters for the run summary; empty for a sink that delivers inline."""
        return {}

    def behind(self) -> Optional[str]:
        """Why this sink is falling behind, or None; polled by the pipeline (a ``sink_behind`` status event)."""
        return None
