"""Pictures of decisions: ``--save-rejects DIR`` (frame + heatmap overlay per reject) and ``--show``."""

from __future__ import annotations

from pathlib import Path
from typing import Dict, Optional

import numpy as np

from edge.decision import map2d
from edge.events import ACCEPT, REJECT, Event, file_safe
from edge.sinks.base import FrameContext, Sink, SinkError

COLOURS = {"accept": (0, 200, 0), "reject": (0, 0, 255), "fault": (0, 200, 255)}
# Opacity of a probability of 1; below it opacity falls in proportion, so the frame stays visible
# under a confident defect and a map near 0 leaves it untouched.
MAX_HEAT_OPACITY = 0.8


def paint_probability(image: np.ndarray, probability: np.ndarray, channel_order: str = "BGR") -> np.ndarray:
    """``image`` (uint8 (H, W, 3)) with a probability map painted over it on the absolute 0..1 scale.

    Colour from the turbo colormap of the probability itself (never rescaled per image) and
    opacity proportional to it: a good part, whose map is near 0 everywhere, looks as it is, and
    one colour means one probability on every frame. The evaluation's overlay sheet and its colour
    bar are painted with this function too, so the sheet and the line show the same picture.
    """
    import cv2

    p = np.clip(np.nan_to_num(map2d(probability)), 0.0, 1.0).astype(np.float32)
    p = cv2.resize(p, (image.shape[1], image.shape[0]), interpolation=cv2.INTER_LINEAR)
    heat = cv2.applyColorMap(np.round(p * 255).astype(np.uint8), cv2.COLORMAP_TURBO)
    if channel_order == "RGB":
        heat = np.ascontiguousarray(heat[..., ::-1])
    alpha = p * np.float32(MAX_HEAT_OPACITY)
    # One pass in OpenCV rather than float64 temporaries: a third of the time on a live view's frame.
    return cv2.blendLinear(np.ascontiguousarray(image), heat, 1.0 - alpha, alpha)


def render_overlay(image: np.ndarray, outputs: Optional[Dict[str, np.ndarray]], event: Event,
                   localizes: bool = True) -> np.ndarray:
    """The frame with the localization map painted in (absolute scale), every defect box and the verdict.

    ``localizes=False`` (a bundle whose strategy never trained the localization head) paints no
    map: it would show the head's random initial output as if it were evidence.
    """
    import cv2

    canvas = image.copy()
    if localizes and outputs is not None and "localization_map" in outputs:
        canvas = paint_probability(canvas, outputs["localization_map"])
    colour = COLOURS.get(event.decision or "fault", (255, 255, 255))
    for r in event.regions or ():
        cv2.rectangle(canvas, (r.x, r.y), (r.x + r.w, r.y + r.h), colour, 2)
        if r.peak is not None:
            cv2.putText(canvas, f"{r.peak:.2f}", (r.x, max(r.y - 3, 10)), cv2.FONT_HERSHEY_SIMPLEX, 0.35, colour, 1, cv2.LINE_AA)
    label = f"#{event.frame} {event.decision}" + (f" {event.score:.3f}" if event.score is not None else "")
    cv2.putText(canvas, label, (5, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.5, colour, 1, cv2.LINE_AA)
    return canvas


def reject_stem(event: Event) -> str:
    """A saved reject's file name without suffix: run and frame, and the part's file when it has one.

    ``defective/0042.png`` read from a folder becomes ``RUN-00000017-defective_0042``, so the
    picture leads back to the part; the run and frame keep names unique across runs, and the
    station (``RUN-top-00000017``) across the stations of a line, whose frame ids count apart.
    Station and file are cleaned alike, so neither can lead the file out of the folder.
    """
    stem = f"{event.run}-{file_safe(event.station) + '-' if event.station else ''}{event.frame:08d}"
    if event.file:
        stem += "-" + file_safe(Path(event.file).with_suffix("").as_posix())
    return stem


class SaveRejectsSink(Sink):
    def __init__(self, folder: str, localizes: bool = True) -> None:
        self.folder = Path(folder)
        self.localizes = localizes
        self.name = f"save-rejects:{self.folder}"
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SinkError(f"--save-rejects {self.folder}: cannot create the folder ({exc.strerror})") from exc

    def send(self, event: Event, context: Optional[FrameContext] = None) -> None:
        import cv2

        if event.decision != REJECT or context is None or context.image is None:
            return
        stem = self.folder / reject_stem(event)
        for path, img in ((f"{stem}.png", context.image), (f"{stem}-overlay.png", render_overlay(context.image, context.outputs, event, self.localizes))):
            if not cv2.imwrite(path, img):
                raise OSError(f"could not write {path}")


class ShowSink(Sink):
    """A window with the overlay and running counters; needs an OpenCV build with a GUI."""

    name = "show"
    WINDOW = "gainctl run"

    def __init__(self, localizes: bool = True) -> None:
        import cv2

        self.localizes = localizes
        try:
            cv2.namedWindow(self.WINDOW, cv2.WINDOW_NORMAL)
        except cv2.error as exc:
            raise SinkError("--show needs an OpenCV build with a GUI; this one has none (opencv-python-headless?). "
                            "Install opencv-python instead, or drop --show and use --save-rejects DIR") from exc
        self.counts = {"accept": 0, "reject": 0, "fault": 0}

    def send(self, event: Event, context: Optional[FrameContext] = None) -> None:
        import cv2

        if event.kind != "decision":
            return
        self.counts[event.decision or "fault"] = self.counts.get(event.decision or "fault", 0) + 1
        if context is None or context.image is None:
            return
        canvas = render_overlay(context.image, context.outputs, event, self.localizes)
        text = " ".join(f"{k}={v}" for k, v in self.counts.items())
        cv2.putText(canvas, text, (5, canvas.shape[0] - 8), cv2.FONT_HERSHEY_SIMPLEX, 0.45,
                    COLOURS[ACCEPT] if event.decision == ACCEPT else (255, 255, 255), 1, cv2.LINE_AA)
        cv2.imshow(self.WINDOW, canvas)
        cv2.waitKey(1)

    def close(self) -> None:
        import cv2

        cv2.destroyWindow(self.WINDOW)
