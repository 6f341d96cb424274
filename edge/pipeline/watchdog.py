"""The watchdog: how many inferences are in flight, and when the runner is given up on.

Jobs are counted here, not left to the runner's own backpressure, so the scheduler never blocks
inside a runner that lost requests; the condition also wakes a scheduler waiting for a job once
the runner is given up on. Giving up happens once: the first frame that waited ``timeout_s`` for
its result (or for a free job) ends the run, and from then on frames are decided without waiting
on the runner again.
"""

from __future__ import annotations

import threading
from typing import Any, Callable, Optional

# Not a latency target (that is --deadline-ms) but the point where a result is lost rather than
# late: the slowest batch-1 inference in this repository's reports (efficientnetv2_s-512, ONNX
# Runtime INT8 on 2 CPU cores) takes under 1 s at its worst, so 10 s never faults a frame of a
# working runner, and the line still learns within seconds that nothing comes back.
INFERENCE_TIMEOUT_S = 10.0


class RunnerUnresponsive(RuntimeError):
    """The runner stopped answering: the run was ended, every captured frame has its decision."""


class Watchdog:
    """At most ``jobs`` inferences in flight; ``expire`` declares the runner unresponsive, once.

    ``on_expire(pending)`` runs once, on the thread that noticed, after the state changed, with the
    frame that waited in vain (an ``edge.pipeline.intake.Pending``): the line stops capturing and
    tells that frame's station.
    """

    def __init__(self, runner_name: str, jobs: int, timeout_s: float = INFERENCE_TIMEOUT_S,
                 on_expire: Callable[[Any], None] = lambda pending: None) -> None:
        if timeout_s <= 0:
            raise ValueError(f"the inference timeout must be positive, got {timeout_s}")
        self.runner_name = runner_name
        self.jobs = max(1, jobs)
        self.timeout_s = float(timeout_s)
        self.on_expire = on_expire
        self.unresponsive: Optional[RunnerUnresponsive] = None
        self._in_flight = 0
        self._cv = threading.Condition()

    def take(self) -> Optional[bool]:
        """Wait for a free job: True (taken), False (none came within the bound), None (given up already)."""
        with self._cv:
            free = self._cv.wait_for(lambda: self._in_flight < self.jobs or self.unresponsive is not None,
                                     self.timeout_s)
            if self.unresponsive is not None:
                return None
            if free:
                self._in_flight += 1
                return True
            return False

    def done(self) -> None:
        """A submitted inference called back (with outputs or an error)."""
        with self._cv:
            self._in_flight -= 1
            self._cv.notify_all()

    def expire(self, pending: Any) -> None:
        """Give up on the runner: ``pending``'s frame waited ``timeout_s`` for it."""
        with self._cv:
            if self.unresponsive is not None:
                return
            self.unresponsive = RunnerUnresponsive(
                f"the {self.runner_name} runner answered nothing within {self.timeout_s:g} s "
                f"(frame {pending.frame.id} was waiting on it); the run was stopped")
            self._cv.notify_all()  # a frame waiting for a job is decided now
        self.on_expire(pending)
