"""Runners and captures that misbehave on cue, for the fault-path tests of the edge runtime."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any, Iterable, List, Optional, Sequence

import numpy as np

from edge.backends.base import Callback, Feed, Outputs, Runner
from edge.bundle import InputSpec
from tests.helpers.tiny_bundle import SIZE

OUTPUT_NAMES = ("defect_prob", "attention_map", "localization_map")


class ScriptedRunner(Runner):
    """Answers every frame with a good part (score 0.1), except where told otherwise.

    ``lose``: 0-based submit calls whose callback never comes, while their job is free again
    (what OpenVINO's AsyncInferQueue does with a request that fails). ``incomplete``: 0-based
    inference calls that return outputs lacking names. ``hang``: inferences block until this event
    is set (a runtime that stopped answering, its jobs held). ``delay_s``: time each inference takes.
    """

    name = "scripted"

    def __init__(self, lose: Iterable[int] = (), incomplete: Iterable[int] = (),
                 hang: Optional[threading.Event] = None, delay_s: float = 0.0) -> None:
        super().__init__(Path("scripted.onnx"), InputSpec(height=SIZE, width=SIZE), OUTPUT_NAMES)
        self.lose, self.incomplete, self.hang, self.delay_s = set(lose), set(incomplete), hang, delay_s
        self.submits = 0
        self.infers = 0
        self._count_lock = threading.Lock()

    def _activate(self) -> None:
        """Nothing to load."""

    def _deactivate(self) -> None:
        """Nothing to release."""

    def _submit(self, feed: Feed, done: Callback) -> None:
        call, self.submits = self.submits, self.submits + 1  # one submitting thread
        if call not in self.lose:
            super()._submit(feed, done)

    def _infer(self, feed: Feed) -> Outputs:
        with self._count_lock:
            call, self.infers = self.infers, self.infers + 1
        if self.hang is not None:
            self.hang.wait()
        time.sleep(self.delay_s)
        batch = feed[self.input_spec.name].shape[0]
        outputs = {"defect_prob": np.full(batch, 0.1, np.float32)}
        if call not in self.incomplete:
            outputs["attention_map"] = np.zeros((batch, 1, SIZE // 8, SIZE // 8), np.float32)
            outputs["localization_map"] = np.zeros((batch, 1, SIZE // 4, SIZE // 4), np.float32)
        return outputs


class ListCapture:
    """A ``cv2.VideoCapture`` stand-in that reads the given images in order, then fails (a file's end).

    An exception in the list is raised by the read that reaches it.
    """

    def __init__(self, images: Sequence[Any]) -> None:
        self.images: List[Any] = list(images)

    def isOpened(self) -> bool:
        return True

    def get(self, prop: int) -> float:
        return 0.0

    def release(self) -> None:
        """Nothing held."""

    def read(self) -> tuple:
        if not self.images:
            return False, None
        item = self.images.pop(0)
        if isinstance(item, BaseException):
            raise item
        return True, item
