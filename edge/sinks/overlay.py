"""Pictures of decisions: ``--save-rejects DIR`` (frame + heatmap overlay per reject) and ``--show``."""

from __future__ import annotations

from pathlib import Path
from typing import Dict, Optional

import numpy as np

from edge.decision import map2d
from edge.events import ACCEPT, REJECT, Event
from edge.sinks.base import FrameContext, Sink, SinkError

COLOURS = {"accept": (0, 200, 0), "reject": (0, 0, 255), "fault": (0, 200, 255)}


def render_overlay(image: np.ndarray, outputs: Optional[Dict[str, np.ndarray]], event: Event) -> np.ndarray:
    """The frame with the localization heatmap blended in, the defect box and the verdict."""
    import cv2

    canvas = image.copy()
    if outputs is not None and "localization_map" in outputs:
        loc = map2d(outputs["localization_map"])
        heat = cv2.applyColorMap((np.clip(loc, 0, 1) * 255).astype(np.uint8), cv2.COLORMAP_JET)
        heat = cv2.resize(heat, (image.shape[1], image.shape[0]), interpolation=cv2.INTER_LINEAR)
        canvas = cv2.addWeighted(canvas, 0.6, heat, 0.4, 0)
    colour = COLOURS.get(event.decision or "fault", (255, 255, 255))
    if event.region is not None:
        r = event.region
        cv2.rectangle(canvas, (r.x, r.y), (r.x + r.w, r.y + r.h), colour, 2)
    label = f"#{event.frame} {event.decision}" + (f" {event.score:.3f}" if event.score is not None else "")
    cv2.putText(canvas, label, (5, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.5, colour, 1, cv2.LINE_AA)
    return canvas


class SaveRejectsSink(Sink):
    def __init__(self, folder: str) -> None:
        self.folder = Path(folder)
        self.name = f"save-rejects:{self.folder}"
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SinkError(f"--save-rejects {self.folder}: cannot create the folder ({exc.strerror})") from exc

    def send(self, event: Event, context: Optional[FrameContext] = None) -> None:
        import cv2

        if event.decision != REJECT or context is None or context.image is None:
            return
        stem = self.folder / f"{event.run}-{event.frame:08d}"
        for path, img in ((f"{stem}.png", context.image), (f"{stem}-overlay.png", render_overlay(context.image, context.outputs, event))):
            if not cv2.imwrite(path, img):
                raise OSError(f"could not write {path}")


class ShowSink(Sink):
    """A window with the overlay and running counters; needs an OpenCV build with a GUI."""

    name = "show"
    WINDOW = "gainctl run"

    def __init__(self) -> None:
        import cv2

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
        canvas = render_overlay(context.image, context.outputs, event)
        text = " ".join(f"{k}={v}" for k, v in self.counts.items())
        cv2.putText(canvas, text, (5, canvas.shape[0] - 8), cv2.FONT_HERSHEY_SIMPLEX, 0.45,
                    COLOURS[ACCEPT] if event.decision == ACCEPT else (255, 255, 255), 1, cv2.LINE_AA)
        cv2.imshow(self.WINDOW, canvas)
        cv2.waitKey(1)

    def close(self) -> None:
        import cv2

        cv2.destroyWindow(self.WINDOW)
