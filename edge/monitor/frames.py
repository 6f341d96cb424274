"""The pictures of the monitor: the live frame and the reject gallery as JPEG, drawn only when someone looks.

Drawing happens in the monitor's process, but the pixels live in the line's: each picture costs
the line one frame sent over (edge/monitor/feed.py), and on a small device the cores are shared
anyway. Hence nothing is drawn ahead of a viewer: a reject's thumbnail, overlay or frame is drawn
when its URL is asked for (and kept, so asking again costs nothing, until the reject leaves the
last 20), and the live frame is drawn only while a client holds ``/stream.mjpg`` open, at most
``fps`` times a second and at most ``LIVE_WIDTH`` wide, once whatever the number of viewers.
Frames decided between two wakes are not drawn: the live view shows the line, it does not replay it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import sys
import threading
from typing import Dict, Iterator, List, Optional, Protocol, Tuple

import numpy as np

from edge.events import REJECT, Event, Region
from edge.monitor.feed import Picture, RejectKey
from edge.monitor.state import MonitorState
from edge.sinks.base import FrameContext
from edge.sinks.overlay import render_overlay

# A glance at the line, not a replay: each live frame costs a frame passed over, a paint and an
# encode, on cores the line shares (at 5/s, with events read every 100 ms, the monitor took 0.08
# of a core; at 10/s and every 25 ms, 0.13).
LIVE_FPS = 5.0
JPEG_QUALITY = 80
# Frames are drawn at least this wide (small sensors, the test videos) and at most this wide
# (a 4K camera), so labels stay legible and one encode stays around a millisecond.
MIN_WIDTH, MAX_WIDTH = 480, 960
# The live frame is a glance at the line, redrawn up to ``fps`` times a second: drawn no wider than
# this, it costs about half of a 640-wide frame and its labels still read.
LIVE_WIDTH = 480
THUMB_WIDTH = 160
PICTURES = ("thumb", "overlay", "frame")  # what a reject's URL may name


class Pixels(Protocol):
    """Where the frames are: the line's process, asked by ``PixelClient`` (edge/monitor/process.py)."""

    def latest(self, since: int) -> Optional[Tuple[int, Picture]]: ...

    def reject(self, station: Optional[str], frame: Optional[int]) -> Optional[Picture]: ...


def display_scale(width: int, widest: int = MAX_WIDTH) -> float:
    """Factor taking a frame ``width`` pixels wide into [MIN_WIDTH, widest] (whole factors upwards)."""
    if width < MIN_WIDTH:
        return float(math.ceil(MIN_WIDTH / width))
    if width > widest:
        return widest / width
    return 1.0


def _scaled(event: Event, factor: float) -> Event:
    """``event`` with its regions in the coordinates of a frame scaled by ``factor``."""
    if factor == 1.0 or not event.regions:
        return event
    regions = [Region(round(r.x * factor), round(r.y * factor), round(r.w * factor), round(r.h * factor),
                      round(r.area * factor * factor), r.peak) for r in event.regions]
    return dataclasses.replace(event, regions=regions)


def _resize(image: np.ndarray, factor: float) -> np.ndarray:
    """``image`` scaled by ``factor``: whole pixels up, bilinear down to half (a 640-wide frame to the
    live view's 480: a fifth of INTER_AREA's time, 0.24 against 1.2 ms), area averaging further down
    (a thumbnail), where bilinear would alias."""
    import cv2

    if factor == 1.0:
        return image
    size = (max(1, round(image.shape[1] * factor)), max(1, round(image.shape[0] * factor)))
    method = cv2.INTER_NEAREST if factor > 1 else cv2.INTER_LINEAR if factor >= 0.5 else cv2.INTER_AREA
    return cv2.resize(image, size, interpolation=method)


def encode_jpeg(image: np.ndarray, quality: int = JPEG_QUALITY) -> bytes:
    import cv2

    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError(f"JPEG encoding failed for a {image.shape} frame")
    return data.tobytes()


def draw(event: Event, context: FrameContext, localizes: bool, factor: Optional[float] = None) -> np.ndarray:
    """The frame scaled by ``factor`` (default: to display size) with heatmap, boxes and verdict.

    Scaling comes first, so a small picture (a thumbnail, the live frame) is also cheap to paint.
    """
    if factor is None:
        factor = display_scale(context.image.shape[1])
    return render_overlay(_resize(context.image, factor), context.outputs, _scaled(event, factor), localizes)


def warm_up(localizes: bool = True) -> None:
    """Draw and encode a blank frame at the live view's and a thumbnail's scale, so that OpenCV is
    loaded, and each of its paths has run once, before the line's first frame.

    Loaded at the first live frame, OpenCV was loaded while the line ran, and that was most of what
    a viewer cost the line's tail: on 2 cores, p99 frame-to-decision paced at 240 fps went from 14
    to 38-44 ms with a viewer whose stream sent nothing after its first frame, and stayed at 16 ms
    with OpenCV loaded at start (docs/design-choices.md #37). The idle scheduling class did not
    shield the line from the load.
    """
    blank = FrameContext(np.zeros((480, 640, 3), np.uint8), {"localization_map": np.zeros((1, 1, 8, 8), np.float32)})
    event = Event(kind="decision", run="warm-up", frame=0, decision=REJECT, score=1.0,
                  regions=[Region(8, 8, 16, 16, 256, 1.0)])
    for width in (LIVE_WIDTH, THUMB_WIDTH):  # every path a picture takes: bilinear and area scaling
        encode_jpeg(draw(event, blank, localizes, width / blank.image.shape[1]))


class FrameEncoder:
    """Draws the live JPEG while someone watches and each reject's JPEGs when asked, from the line's ``pixels``."""

    def __init__(self, state: MonitorState, pixels: Pixels, localizes: bool = True, fps: float = LIVE_FPS) -> None:
        if fps <= 0:
            raise ValueError(f"the live view's frame rate must be positive, got {fps}")
        self.state, self.pixels, self.localizes, self.interval_s = state, pixels, localizes, 1.0 / fps
        self.live: Optional[bytes] = None
        self.live_seq = 0  # bumped for each new live JPEG; streams send when it changes
        self.drawn = {"live": 0, **{kind: 0 for kind in PICTURES}}  # JPEGs made, by kind (/metrics)
        self._drawn_frame = 0  # the line's number of the newest frame drawn
        self._live_lock = threading.Lock()  # the stream's thread and a /frame.jpg request never draw the same frame twice
        # Encoded pictures of the rejects still shown, by kind; (event, pictures) so a key reused by a new run is redrawn.
        self._pictures: Dict[RejectKey, Tuple[Event, Dict[str, bytes]]] = {}
        self._pictures_lock = threading.Lock()
        self.errors = 0
        self._viewers = 0
        self._stopped = False
        self._wake = threading.Condition()
        self._thread = threading.Thread(target=self._loop, name="monitor-frames", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        with self._wake:
            self._stopped = True
            self._wake.notify_all()
        if self._thread.is_alive():
            self._thread.join(5.0)

    @contextlib.contextmanager
    def watching(self) -> Iterator[None]:
        """Held by each open live stream: the live frame is drawn only while one is."""
        with self._wake:
            self._viewers += 1
            self._wake.notify_all()
        try:
            yield
        finally:
            with self._wake:
                self._viewers -= 1

    def gallery(self) -> List[Event]:
        """The shown rejects' events, newest first: in the order they were decided, since frame ids count per station."""
        return list(reversed(self.state.rejects()))

    def reject(self, frame: int, station: Optional[str], kind: str) -> Optional[bytes]:
        """The ``kind`` JPEG of ``station``'s frame ``frame`` (station None: a run of one source), if still shown.

        Drawn at the first request and kept while the reject is among the last ones; the pictures
        of rejects that left the gallery are let go here, so the cache never outgrows it.
        """
        if kind not in PICTURES:
            raise ValueError(f"no picture {kind!r}; one of {', '.join(PICTURES)}")
        shown = {(event.station, event.frame): event for event in self.state.rejects()}
        event = shown.get((station, frame))
        with self._pictures_lock:
            self._pictures = {key: kept for key, kept in self._pictures.items()
                              if key in shown and kept[0] is shown[key]}
            if event is None:
                return None
            pictures = self._pictures.setdefault((station, frame), (event, {}))[1]
            if kind not in pictures:
                found = self.pixels.reject(station, frame)
                if found is None:  # the line has let it go (a newer reject came): as good as out of the gallery
                    return None
                pictures[kind] = encode_jpeg(self._draw_reject(found[0], found[1], kind))
                self.drawn[kind] += 1
            return pictures[kind]

    def _draw_reject(self, event: Event, context: FrameContext, kind: str) -> np.ndarray:
        factor = display_scale(context.image.shape[1])
        if kind == "frame":
            return _resize(context.image, factor)
        if kind == "thumb":
            factor = THUMB_WIDTH / context.image.shape[1]
        return draw(event, context, self.localizes, factor)

    def update(self) -> Optional[bytes]:
        """The newest decided frame as the live JPEG, drawn if it changed since the last one."""
        with self._live_lock:
            found = self.pixels.latest(self._drawn_frame)
            if found is not None:
                number, (event, context) = found
                self.live = encode_jpeg(draw(event, context, self.localizes,
                                             display_scale(context.image.shape[1], LIVE_WIDTH)))
                self._drawn_frame = number
                self.live_seq += 1
                self.drawn["live"] += 1
            return self.live

    def _loop(self) -> None:
        while True:
            with self._wake:
                self._wake.wait_for(lambda: self._viewers > 0 or self._stopped)
                if self._stopped:
                    return
            try:
                self.update()
            except Exception as exc:  # one frame that cannot be drawn must not end the live view
                self.errors += 1
                if self.errors == 1:
                    print(f"gainctl run: monitor: drawing a frame failed (further failures are counted): {exc!r}",
                          file=sys.stderr)
            with self._wake:
                self._wake.wait_for(lambda: self._stopped, self.interval_s)
