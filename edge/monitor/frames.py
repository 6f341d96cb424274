"""The pictures of the monitor: the live frame and the reject gallery as JPEG, on their own thread.

The line only leaves references in ``MonitorState``; this thread wakes at most ``fps`` times a
second, draws the newest decided frame with the heatmap and region boxes (the same drawing as
``--save-rejects``) and encodes it once, whatever the number of viewers. Frames decided between
two wakes are not drawn: the live view shows the line, it does not replay it.
"""

from __future__ import annotations

import dataclasses
import math
import sys
import threading
from typing import Dict, List, Optional, Tuple

import numpy as np

from edge.events import Event, Region
from edge.monitor.state import MonitorState
from edge.sinks.base import FrameContext
from edge.sinks.overlay import render_overlay

LIVE_FPS = 10.0
JPEG_QUALITY = 80
# Frames are drawn at least this wide (small sensors, the test videos) and at most this wide
# (a 4K camera), so labels stay legible and one encode stays around a millisecond.
MIN_WIDTH, MAX_WIDTH = 480, 960
THUMB_WIDTH = 160

# A reject of the gallery: (station, frame). Each station numbers its frames from 0, so the frame
# alone would let one station's picture replace another's; the station is None for one source.
RejectKey = Tuple[Optional[str], Optional[int]]


@dataclasses.dataclass
class RejectPictures:
    """One reject of the gallery: its event and three JPEGs (thumbnail, overlay, plain frame)."""

    event: Event
    thumb: bytes
    overlay: bytes
    frame: bytes


def display_scale(width: int) -> float:
    """Factor taking a frame ``width`` pixels wide into [MIN_WIDTH, MAX_WIDTH] (whole factors upwards)."""
    if width < MIN_WIDTH:
        return float(math.ceil(MIN_WIDTH / width))
    if width > MAX_WIDTH:
        return MAX_WIDTH / width
    return 1.0


def _scaled(event: Event, factor: float) -> Event:
    """``event`` with its regions in the coordinates of a frame scaled by ``factor``."""
    if factor == 1.0 or not event.regions:
        return event
    regions = [Region(round(r.x * factor), round(r.y * factor), round(r.w * factor), round(r.h * factor),
                      round(r.area * factor * factor), r.peak) for r in event.regions]
    return dataclasses.replace(event, regions=regions)


def _resize(image: np.ndarray, factor: float) -> np.ndarray:
    import cv2

    if factor == 1.0:
        return image
    size = (max(1, round(image.shape[1] * factor)), max(1, round(image.shape[0] * factor)))
    return cv2.resize(image, size, interpolation=cv2.INTER_NEAREST if factor > 1 else cv2.INTER_AREA)


def encode_jpeg(image: np.ndarray, quality: int = JPEG_QUALITY) -> bytes:
    import cv2

    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError(f"JPEG encoding failed for a {image.shape} frame")
    return data.tobytes()


def draw(event: Event, context: FrameContext, localizes: bool) -> Tuple[np.ndarray, np.ndarray]:
    """(frame, frame with heatmap, boxes and verdict), both at display size."""
    factor = display_scale(context.image.shape[1])
    frame = _resize(context.image, factor)
    return frame, render_overlay(frame, context.outputs, _scaled(event, factor), localizes)


class FrameEncoder:
    """Keeps the newest live JPEG and the gallery's JPEGs up to date, from ``state``, on one thread."""

    def __init__(self, state: MonitorState, localizes: bool = True, fps: float = LIVE_FPS) -> None:
        if fps <= 0:
            raise ValueError(f"the live view's frame rate must be positive, got {fps}")
        self.state, self.localizes, self.interval_s = state, localizes, 1.0 / fps
        self.live: Optional[bytes] = None
        self.live_seq = 0  # bumped for each new live JPEG; streams send when it changes
        self._drawn: Optional[Event] = None
        self._gallery: Dict[RejectKey, RejectPictures] = {}  # oldest first, as the state keeps them
        self.errors = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="monitor-frames", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(5.0)

    def gallery(self) -> List[RejectPictures]:
        """The encoded rejects, newest first: in the order they were decided, since frame ids count per station."""
        return list(reversed(self._gallery.values()))

    def reject(self, frame: int, station: Optional[str] = None) -> Optional[RejectPictures]:
        """The pictures of ``station``'s frame ``frame`` (station None: a run of one source), if still shown."""
        return self._gallery.get((station, frame))

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.update()
            except Exception as exc:  # one frame that cannot be drawn must not end the live view
                self.errors += 1
                if self.errors == 1:
                    print(f"gainctl run: monitor: drawing a frame failed (further failures are counted): {exc!r}",
                          file=sys.stderr)

    def update(self) -> None:
        """Encode the newest frame if it changed and every reject not encoded yet; forget rejects out of view."""
        latest = self.state.latest
        if latest is not None and latest[0] is not self._drawn:
            event, context = latest
            self.live = encode_jpeg(draw(event, context, self.localizes)[1])
            self._drawn = event
            self.live_seq += 1
        shown = self.state.rejects()
        gallery: Dict[RejectKey, RejectPictures] = {}
        for event, context in shown:
            key = (event.station, event.frame)
            gallery[key] = self._gallery.get(key) or self._pictures(event, context)
        self._gallery = gallery  # swapped whole: readers see the old or the new dict, never a half-built one

    def _pictures(self, event: Event, context: FrameContext) -> RejectPictures:
        import cv2

        frame, overlay = draw(event, context, self.localizes)
        height = max(1, round(overlay.shape[0] * THUMB_WIDTH / overlay.shape[1]))
        thumb = cv2.resize(overlay, (THUMB_WIDTH, height), interpolation=cv2.INTER_AREA)
        return RejectPictures(event, encode_jpeg(thumb), encode_jpeg(overlay), encode_jpeg(frame))
