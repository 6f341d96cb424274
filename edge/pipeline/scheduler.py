"""The scheduler: frames from the intake to the runner, each answered exactly once.

One thread for the whole line, however many stations: it takes what the intake holds, skips a
frame already past its deadline, resizes (the graph normalises), waits for a free runner job
(``Watchdog``) and submits asynchronously, so capture, inference and output overlap. Whatever
goes wrong on the way is that frame's fault, and the run goes on.

With several stations, frames that arrive together go to the runner as one batch (the bundle's
model has a dynamic batch): up to ``max_batch`` frames, those waiting when a job is free plus those
that come within ``batch_wait_s``. The top-up is bounded by every deadline in the batch: it grows
only to the largest size whose measured inference time still fits before the earliest one (none
while that time is unknown), and its wait ends where that time would no longer fit, so batching
never costs a deadline.
"""

from __future__ import annotations

import time
from typing import Dict, List, Optional, Tuple

import numpy as np

from edge.backends.base import Runner
from edge.decision import fault
from edge.events import REASON_INFERENCE_ERROR, REASON_INFERENCE_TIMEOUT, REASON_TIMEOUT, REASON_UNREADABLE
from edge.pipeline.intake import Intake, Pending
from edge.pipeline.watchdog import Watchdog
from edge.preprocess import resize_frame


# Long enough for frames of cameras triggered together (a few ms apart) to meet, short against
# an inference (tens of ms on the CPUs of the reports), so free-running cameras lose little.
BATCH_WAIT_S = 0.005
# Weight of the newest inference time in the running estimate per batch size.
_ESTIMATE_WEIGHT = 0.2


class Scheduler:
    """Feeds ``runner`` from ``intake`` until every station's capture has ended."""

    def __init__(self, runner: Runner, intake: Intake, watchdog: Watchdog, max_batch: int = 1,
                 batch_wait_s: float = BATCH_WAIT_S) -> None:
        if max_batch < 1 or batch_wait_s < 0:
            raise ValueError(f"a batch holds at least 1 frame and waits no negative time, got {max_batch}, {batch_wait_s}")
        self.runner, self.intake, self.watchdog = runner, intake, watchdog
        self.max_batch, self.batch_wait_s = max_batch, batch_wait_s
        spec = runner.input_spec
        self.size = (spec.width, spec.height)
        self.inference_s: Dict[int, float] = {}  # running estimate of an inference's time, by batch size
        self.batches: Dict[int, int] = {}        # how many batches of each size were submitted

    def warm_up(self) -> None:
        """Run each batch size above 1 once before the first frame, so that a runner compiling per
        batch size (OpenVINO) does so now and not on a frame's time; it also seeds the estimates."""
        spec = self.runner.input_spec
        for size in range(2, self.max_batch + 1):
            started = time.monotonic()
            self.runner.infer({spec.name: np.zeros(spec.shape(size), np.dtype(spec.dtype))})
            self.inference_s[size] = time.monotonic() - started

    def run(self) -> None:
        while True:
            batch = self.intake.take(self.max_batch)
            if batch is None:
                return
            fed = self._prepare_all(batch.items)
            if fed:
                self._submit(fed)
            for lane in batch.drained:
                lane.drained()

    def _prepare_all(self, pendings: List[Pending]) -> List[Tuple[Pending, np.ndarray]]:
        fed = []
        for pending in pendings:
            pending.lane.taken(pending)
            image = None if pending.done else self._prepare(pending)
            if image is not None:
                fed.append((pending, image))
        return fed

    def _submit(self, fed: List[Tuple[Pending, np.ndarray]]) -> None:
        """Wait for a free job, top the batch up (bounded), and submit it as one feed."""
        taken = self.watchdog.take()
        if not taken:
            for pending, _ in fed:
                pending.resolve(verdict=fault(REASON_INFERENCE_TIMEOUT))  # unless its deadline came first
            if taken is False:
                self.watchdog.expire(fed[0][0])  # no job came back within the bound
            return
        room, until = self._top_up(fed)
        if room:
            fed += self._prepare_all(self.intake.more(room, until))
        pendings = [pending for pending, _ in fed]
        started = time.monotonic()

        def done(outputs: Optional[Dict[str, np.ndarray]], error: Optional[BaseException]) -> None:
            self.watchdog.done()
            if error is None:
                previous = self.inference_s.get(len(pendings))
                took = time.monotonic() - started
                self.inference_s[len(pendings)] = took if previous is None else (
                    previous + _ESTIMATE_WEIGHT * (took - previous))
            for i, pending in enumerate(pendings):
                if error is not None:
                    self._failed(pending, REASON_INFERENCE_ERROR, "inference_error", error)
                else:
                    pending.resolve(outputs={name: value[i:i + 1] for name, value in outputs.items()})

        feed = fed[0][1][None] if len(fed) == 1 else np.stack([image for _, image in fed])
        self.batches[len(fed)] = self.batches.get(len(fed), 0) + 1
        try:
            self.runner.submit({self.runner.input_spec.name: feed}, done)
        except Exception as exc:
            done(None, exc)

    def _top_up(self, fed: List[Tuple[Pending, np.ndarray]]) -> Tuple[int, float]:
        """How many more frames the batch may take, and until when to wait for them (monotonic).

        The batch may grow to any size up to the largest whose inference still ends before the
        earliest deadline in it, by the worst estimate of the sizes on the way (a top-up of several
        frames at once must fit as well as one of one); the wait ends where that time would no
        longer fit. A size without an estimate yet ends the growth, so batching never costs a deadline.
        """
        now = time.monotonic()
        deadlines = [pending.frame.t_capture + pending.lane.deadline_s for pending, _ in fed
                     if pending.lane.deadline_s is not None]
        if not deadlines:
            return self.max_batch - len(fed), now + self.batch_wait_s
        earliest, worst = min(deadlines), 0.0
        room, until = 0, now
        for size in range(len(fed) + 1, self.max_batch + 1):
            estimate = self.inference_s.get(size)
            if estimate is None:
                break
            worst = max(worst, estimate)
            if earliest - worst < now:
                break
            room, until = size - len(fed), min(now + self.batch_wait_s, earliest - worst)
        return room, until

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
