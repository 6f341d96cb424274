"""Events: what the runtime tells the line, one JSON object each.

A ``decision`` event is the verdict on one frame (accept | reject | fault); a ``status`` event
reports something about the run itself (source lost or back, a sink that failed, a broker that is
away). Every sink receives both kinds; consumers that only act on verdicts filter on ``kind``.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field, fields, is_dataclass
from typing import Any, Dict, List, Optional

ACCEPT, REJECT, FAULT = "accept", "reject", "fault"
DECISIONS = (ACCEPT, REJECT, FAULT)

# Fault reasons, so consumers can switch on them.
REASON_SOURCE_LOST = "source_lost"      # the camera was away: this frame slot was never captured
REASON_UNREADABLE = "unreadable"        # the source gave something that is not an image
REASON_TIMEOUT = "timeout"              # no verdict within --deadline-ms of capture
REASON_OVERFLOW = "overflow"            # every-frame mode: the queue was full, the frame was not inspected
REASON_INFERENCE_ERROR = "inference_error"
REASON_INFERENCE_TIMEOUT = "inference_timeout"  # the runner returned nothing for the frame: a lost request
REASON_INVALID_OUTPUT = "invalid_output"  # NaN or out-of-range score

# The characters a station's name may hold: it becomes part of saved rejects' file names, so no
# separator or ``..`` path may come from it.
NAME_CHARS = "A-Za-z0-9._-"


def file_safe(text: str) -> str:
    """``text`` as one file-name part: every run of characters outside NAME_CHARS becomes ``_``."""
    return re.sub(f"[^{NAME_CHARS}]+", "_", text)


@dataclass
class Region:
    """One defect component of the localization map: its bounding box and area in frame pixels."""

    x: int
    y: int
    w: int
    h: int
    area: int  # component area in frame pixels
    peak: Optional[float] = None  # highest probability inside; None only when read from an old journal


@dataclass
class Event:
    kind: str                      # "decision" | "status"
    frame: Optional[int] = None
    ts_capture: Optional[float] = None   # seconds since the epoch, when the frame was captured
    ts_decision: Optional[float] = None  # seconds since the epoch, when the verdict was made
    decision: Optional[str] = None
    score: Optional[float] = None
    threshold: Optional[float] = None
    latency_ms: Optional[float] = None
    regions: Optional[List[Region]] = None  # rejects only, largest first (edge/decision.py)
    attention_peak: Optional[Dict[str, float]] = None  # {"x", "y" (frame pixels), "value"}
    reason: Optional[str] = None
    run: str = ""                  # run id: (run, frame) identifies a decision across resends
    file: Optional[str] = None     # the image's path within an image folder source: which part it was
    detail: Dict[str, Any] = field(default_factory=dict)
    # The station (camera) of a line with several; absent for a run of one source. Frame ids count
    # per station, so (run, station, frame) identifies a decision.
    station: Optional[str] = None

    def to_dict(self) -> Dict[str, Any]:
        data = asdict(self)
        return {k: v for k, v in data.items() if v is not None and v != {}}

    def to_json(self) -> str:
        """``to_dict`` as JSON, without its deep copy: a third of the time, on every sink's path."""
        data = {name: value for name in _FIELDS if (value := getattr(self, name)) is not None and value != {}}
        return json.dumps(data, separators=(",", ":"), default=_plain)

    @classmethod
    def from_dict(cls, data: Dict[str, Any]) -> "Event":
        data = dict(data)
        if "region" in data:  # a journal written when an event carried one region, the largest
            old = data.pop("region")
            data["regions"] = None if old is None else [old]
        if data.get("regions") is not None:
            data["regions"] = [Region(**r) for r in data["regions"]]
        return cls(**data)

    @classmethod
    def from_json(cls, text: str) -> "Event":
        return cls.from_dict(json.loads(text))


_FIELDS = tuple(f.name for f in fields(Event))


def _plain(value: Any) -> Any:
    """What ``asdict`` makes of a dataclass (a region, or one inside ``detail``), for ``json.dumps``."""
    if is_dataclass(value) and not isinstance(value, type):
        return asdict(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def status(message: str, run: str = "", **detail: Any) -> Event:
    """A status event; ``message`` goes in ``reason``."""
    import time

    return Event(kind="status", ts_decision=time.time(), reason=message, run=run, detail=detail)
