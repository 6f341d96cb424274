"""Frame sources: a camera index, a video file, an RTSP URL, a GStreamer pipeline, an image folder.

Each frame carries an id (its slot in the stream) and its capture time. A live source that stops
delivering (a read that fails or raises) is reopened with exponential backoff; the frame slots
that passed meanwhile are not silently skipped: at the source's nominal fps each missed slot
becomes a frame without an image and with fault reason ``source_lost`` (one per failed attempt
when the fps is unknown), so the line sees a fault for every frame that was not inspected.

Sources open through a plain callable returning an ``cv2.VideoCapture``-like object, so tests and
the soak benchmark drive the reconnect logic with their own captures.
"""

from __future__ import annotations

import math
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, List, Optional

import numpy as np

from edge.events import REASON_SOURCE_LOST, REASON_UNREADABLE
from edge.layout import IMAGE_SUFFIXES

STREAM_PREFIXES = ("rtsp://", "rtsps://", "rtmp://", "http://", "https://")
# The user and password part of a URL: up to the last "@" before the path (a password may hold "@").
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/?#\s'\"]*@")


def without_credentials(text: str, shown: str = "***@") -> str:
    """``text`` with the user and password of every URL in it replaced by ``shown``; scheme, host, port and path kept.

    A stream's URL (or a GStreamer pipeline's ``location=``) often carries a camera's login; what
    names or describes a source goes into events, journals, MQTT, file names, the console and the
    monitor, so none of those may hold it.
    """
    return _USERINFO.sub(lambda match: match.group(1) + shown, text)


class SourceError(ValueError):
    """A source that cannot be opened: the message names it and what to check."""


@dataclass
class Frame:
    id: int
    ts_capture: float               # seconds since the epoch (for events)
    t_capture: float                # time.monotonic() at capture (for deadlines and latency)
    image: Optional[np.ndarray]     # BGR uint8; None for a frame that was never captured
    fault: Optional[str] = None     # why there is no image
    file: Optional[str] = None      # an image folder's file, relative to the folder: the part's name


@dataclass
class Backoff:
    initial_s: float = 0.5
    max_s: float = 10.0
    give_up_after_s: Optional[float] = None  # None: retry for ever (a camera on a line comes back)


# How a source reports on itself (lost, back, gave up): ``report(message, **detail)``. Passed in by
# whoever reads the frames, so status flows forward with them, never back into the source.
StatusFn = Callable[..., None]


def ignore_status(message: str, **detail: Any) -> None:
    """The status handler of a reader that has no use for a source's reports."""


class Source:
    """Base: an iterable of frames that can be stopped from another thread."""

    name = "source"
    live = False
    nominal_fps = 0.0

    def __init__(self) -> None:
        self._stop = threading.Event()

    def stop(self) -> None:
        self._stop.set()

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def open(self) -> None:
        """Open now, so a source that does not exist is a configuration error at start."""

    def frames(self, report: StatusFn = ignore_status) -> Iterator[Frame]:
        """The frames, in capture order; ``report`` hears about the source's own trouble."""
        raise NotImplementedError

    def close(self) -> None:
        """Release the device."""


class CaptureSource(Source):
    """Anything OpenCV's VideoCapture reads; ``live`` sources reconnect, files end."""

    def __init__(self, opener: Callable[[], Any], name: str, live: bool, fps: float = 0.0,
                 backoff: Optional[Backoff] = None) -> None:
        super().__init__()
        self._opener = opener
        self.name = name
        self.live = live
        self.nominal_fps = float(fps)
        self.backoff = backoff or Backoff()
        self._cap: Any = None

    def open(self) -> None:
        self._cap = self._opener()
        if self._cap is None or not self._cap.isOpened():
            raise SourceError(f"cannot open {self.name}; check that it exists, is connected and is not used by another program")
        if not self.nominal_fps:
            self.nominal_fps = float(self._cap.get(5) or 0.0)  # cv2.CAP_PROP_FPS

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None

    def frames(self, report: StatusFn = ignore_status) -> Iterator[Frame]:
        if self._cap is None:
            self.open()
        next_id = 0
        last_slot = time.monotonic()
        while not self.stopped:
            try:
                ok, image = self._cap.read()
            except Exception as exc:  # a driver that raises has failed to deliver, like a read that fails
                report("source_error", source=self.name, frame=next_id, error=repr(exc))
                ok, image = False, None
            if ok and image is not None:
                last_slot = time.monotonic()
                yield Frame(next_id, time.time(), last_slot, image)
                next_id += 1
                continue
            if not self.live or self.stopped:
                return
            for frame in self._reconnect(next_id, last_slot, report):
                yield frame
                next_id = frame.id + 1
                last_slot = frame.t_capture
            if self._cap is None:  # gave up or stopped
                return

    def _reconnect(self, next_id: int, last_slot: float, report: StatusFn) -> Iterator[Frame]:
        """Reopen with backoff; yield a source_lost fault per missed frame slot meanwhile."""
        started = time.monotonic()
        self.close()
        report("source_lost", source=self.name, frame=next_id)
        period = 1.0 / self.nominal_fps if self.nominal_fps > 0 else 0.0
        # The failed read is itself a frame that was not inspected.
        yield self._lost(next_id, last_slot + period if period else time.monotonic())
        next_id, last_slot = next_id + 1, last_slot + period
        delay = self.backoff.initial_s
        while not self.stopped:
            self._stop.wait(delay)
            cap = self._try_open(report)
            missed = self._missed_slots(last_slot, period)
            for slot in missed:
                yield self._lost(next_id, slot)
                next_id += 1
            if missed:
                last_slot = missed[-1]
            if cap is not None:
                self._cap = cap
                report("source_reconnected", source=self.name, outage_s=round(time.monotonic() - started, 3))
                return
            if not period:
                yield self._lost(next_id, time.monotonic())
                next_id += 1
            give_up = self.backoff.give_up_after_s
            if give_up is not None and time.monotonic() - started >= give_up:
                report("source_gave_up", source=self.name, outage_s=round(time.monotonic() - started, 3))
                return
            delay = min(delay * 2, self.backoff.max_s)

    def _try_open(self, report: StatusFn) -> Any:
        """The reopened capture, or None while the device is away: an opener that raises included."""
        try:
            cap = self._opener()
            if cap is not None and cap.isOpened():
                return cap
        except Exception as exc:
            report("source_error", source=self.name, error=repr(exc))
        return None

    @staticmethod
    def _missed_slots(last_slot: float, period: float) -> List[float]:
        if not period:
            return []
        count = int(math.floor((time.monotonic() - last_slot) / period))
        return [last_slot + period * (i + 1) for i in range(max(0, count))]

    @staticmethod
    def _lost(frame_id: int, t_mono: float) -> Frame:
        return Frame(frame_id, time.time() - (time.monotonic() - t_mono), t_mono, None, REASON_SOURCE_LOST)


class ImageFolderSource(Source):
    """Every image of a folder in name order, for offline inspection; unreadable files are faults.

    Each frame carries its file's path relative to the folder, so an event and a saved reject can be
    traced back to the part. ``recursive`` takes the images of every subfolder too (sorted by
    relative path, so ``normal/`` and ``defective/`` of the design's layout stay grouped).
    """

    def __init__(self, folder: Path, recursive: bool = False) -> None:
        super().__init__()
        self.folder = Path(folder)
        self.recursive = recursive
        self.name = f"image folder {self.folder}" + (" (recursive)" if recursive else "")
        self.files: List[Path] = []

    def open(self) -> None:
        found = self.folder.rglob("*") if self.recursive else self.folder.iterdir()
        self.files = sorted((p for p in found if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES),
                            key=lambda p: p.relative_to(self.folder).as_posix())
        if not self.files:
            where = "this folder or its subfolders" if self.recursive else "this folder (--recursive looks in subfolders)"
            raise SourceError(f"{self.folder}: no images ({', '.join(IMAGE_SUFFIXES)}) in {where}")

    def frames(self, report: StatusFn = ignore_status) -> Iterator[Frame]:
        import cv2

        if not self.files:
            self.open()
        for i, path in enumerate(self.files):
            if self.stopped:
                return
            image = cv2.imread(str(path), cv2.IMREAD_COLOR)
            t = time.monotonic()
            yield Frame(i, time.time(), t, image, None if image is not None else REASON_UNREADABLE,
                        file=path.relative_to(self.folder).as_posix())


def camera_opener(index: int, width: int = 0, height: int = 0, fps: float = 0.0, fourcc: str = "") -> Callable[[], Any]:
    """Open camera ``index`` with the requested mode and a one-frame driver buffer (no stale frames)."""

    def open_camera() -> Any:
        import cv2

        cap = cv2.VideoCapture(index)
        if not cap.isOpened():
            return cap
        if fourcc:
            cap.set(cv2.CAP_PROP_FOURCC, cv2.VideoWriter_fourcc(*fourcc))
        if width:
            cap.set(cv2.CAP_PROP_FRAME_WIDTH, width)
        if height:
            cap.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
        if fps:
            cap.set(cv2.CAP_PROP_FPS, fps)
        cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)
        return cap

    return open_camera


def _capture_opener(target: str, api_name: str) -> Callable[[], Any]:
    def open_capture() -> Any:
        import cv2

        return cv2.VideoCapture(target, getattr(cv2, api_name))

    return open_capture


def open_source(camera: Optional[int] = None, source: Optional[str] = None, *, width: int = 0, height: int = 0,
                fps: float = 0.0, fourcc: str = "", backoff: Optional[Backoff] = None,
                recursive: bool = False) -> Source:
    """Build (and open) the source named on the command line; SourceError if it cannot be opened.

    ``source`` is an image folder, a video file, a stream URL (rtsp://...) or a GStreamer pipeline
    (anything containing ``!``, ending in an appsink, e.g. ``nvarguscamerasrc ! ... ! appsink``).
    """
    if (camera is None) == (source is None):
        raise SourceError("give exactly one of --camera N or --source S")
    if recursive and (source is None or not Path(source).is_dir()):
        raise SourceError("--recursive applies to an image folder only; --source names none")
    if camera is not None:
        src: Source = CaptureSource(camera_opener(camera, width, height, fps, fourcc), f"camera {camera}", live=True,
                                    fps=fps, backoff=backoff)
    elif "!" in source:
        src = CaptureSource(_capture_opener(source, "CAP_GSTREAMER"), f"GStreamer pipeline '{without_credentials(source)}'",
                            live=True, fps=fps, backoff=backoff)
    elif source.lower().startswith(STREAM_PREFIXES):
        src = CaptureSource(_capture_opener(source, "CAP_FFMPEG"), f"stream {without_credentials(source)}", live=True, fps=fps,
                            backoff=backoff)
    else:
        path = Path(source)
        if path.is_dir():
            src = ImageFolderSource(path, recursive=recursive)
        elif path.is_file():
            src = CaptureSource(_capture_opener(str(path), "CAP_ANY"), f"video file {path}", live=False)
        else:
            raise SourceError(f"{without_credentials(source)}: no such file or folder (and not an rtsp:// URL or a GStreamer pipeline)")
    src.open()
    return src
