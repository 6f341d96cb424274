"""The scheduler: frames from the intake to the runner, each answered exactly once.

One thread for the whole line, however many stations: it takes what the intake holds, skips a
frame already past its deadline, resizes (the graph normalises), waits for a free runner job
(``Watchdog``) and submits asynchronously, so capture, inference and output overlap. Whatever
goes wrong on the way is that frame's fault, and the run goes on.
"""

from __future__ import annotations

import time
from typing import Dict, List, Optional

import numpy as np

from edge.backends.base import Runner
from edge.decision import fault
from edge.events import REASON_INFERENCE_ERROR, REASON_INFERENCE_TIMEOUT, REASON_TIMEOUT, REASON_UNREADABLE
from edge.pipeline.intake import Intake, Pending
from edge.pipeline.watchdog import Watchdog
from edge.preprocess import resize_frame


class Scheduler:
    """Feeds ``runner`` from ``intake`` until every station's capture has ended."""

    def __init__(self, runner: Runner, intake: Intake, watchdog: Watchdog) -> None:
        self.runner, self.intake, self.watchdog = runner, intake, watchdog
        spec = runner.input_spec
        self.size = (spec.width, spec.height)

    def run(self) -> None:
        while True:
            batch = self.intake.take()
            if batch is None:
                return
            for pending in batch.items:
                pending.lane.taken(pending)
            ready = [p for p in batch.items if not p.done]
            if ready:
                self._start(ready)
            for lane in batch.drained:
                lane.drained()

    def _start(self, pendings: List[Pending]) -> None:
        """Submit the frames that are still worth inferring, as one feed."""
        images, fed = [], []
        for pending in pendings:
            image = self._prepare(pending)
            if image is not None:
                images.append(image)
                fed.append(pending)
        if not fed:
            return
        taken = self.watchdog.take()
        if not taken:
            for pending in fed:
                pending.resolve(verdict=fault(REASON_INFERENCE_TIMEOUT))  # unless its deadline came first
            if taken is False:
                self.watchdog.expire(fed[0])  # no job came back within the bound
            return

        def done(outputs: Optional[Dict[str, np.ndarray]], error: Optional[BaseException]) -> None:
            self.watchdog.done()
            for i, pending in enumerate(fed):
                if error is not None:
                    self._failed(pending, REASON_INFERENCE_ERROR, "inference_error", error)
                else:
                    pending.resolve(outputs={name: value[i:i + 1] for name, value in outputs.items()})

        feed = images[0][None] if len(images) == 1 else np.stack(images)
        try:
            self.runner.submit({self.runner.input_spec.name: feed}, done)
        except Exception as exc:
            done(None, exc)

    def _prepare(self, pending: Pending) -> Optional[np.ndarray]:
        """The frame resized for the model; None when it is decided already (late, unreadable)."""
        frame, deadline_s = pending.frame, pending.lane.deadline_s
        if deadline_s is not None and time.monotonic() > frame.t_capture + deadline_s:
            pending.resolve(verdict=fault(REASON_TIMEOUT))  # too late already: skip the work
            return None
        try:
            return resize_frame(frame.image, *self.size)
        except Exception as exc:  # a 0x0 or malformed frame: the source gave something that is not an image
            self._failed(pending, REASON_UNREADABLE, "unreadable_frame", exc)
            return None

    @staticmethod
    def _failed(pending: Pending, reason: str, message: str, error: BaseException) -> None:
        pending.resolve(verdict=fault(reason))
        pending.lane.note(message, frame=pending.frame.id, error=repr(error))
