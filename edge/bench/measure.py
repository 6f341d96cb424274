"""The measurements of one row, written against the runner interface (edge.backends.base.Runner).

Latency is synchronous, one batch at a time, after warm-up, like ``trtexec`` and ``benchmark_app
-api sync``. Throughput keeps the runner's ``jobs`` requests in flight through ``submit`` (its
backpressure blocks while all are busy), like ``benchmark_app -hint throughput``.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np


@dataclass(frozen=True)
class Budget:
    """How long to measure: ``runs`` batches, or ``duration_s`` seconds (at least ``min_runs``)."""

    runs: int | None = None
    duration_s: float | None = None
    warmup: int = 3
    min_runs: int = 3

    def __post_init__(self) -> None:
        if (self.runs is None) == (self.duration_s is None):
            raise ValueError("give exactly one of runs or duration_s")
        if self.runs is not None and self.runs < 1:
            raise ValueError(f"runs must be >= 1, got {self.runs}")
        if self.duration_s is not None and self.duration_s <= 0:
            raise ValueError(f"duration must be > 0 s, got {self.duration_s}")

    def more(self, done: int, started: float) -> bool:
        if self.runs is not None:
            return done < self.runs
        return done < self.min_runs or time.perf_counter() - started < self.duration_s


def random_feed(name: str, shape: tuple[int, ...], seed: int = 0) -> dict[str, np.ndarray]:
    """A frame-like uint8 input; speed does not depend on the pixels, only on their shape."""
    return {name: np.random.default_rng(seed).integers(0, 256, size=shape, dtype=np.uint8)}


def time_call(fn: Callable[[], Any]) -> float:
    """Seconds one call of ``fn`` takes."""
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def latency(runner: Any, feed: dict[str, np.ndarray], budget: Budget) -> tuple[int, list[float]]:
    """(warm-up runs, per-batch latencies in ms) of ``runner.infer`` on ``feed``."""
    for _ in range(budget.warmup):
        runner.infer(feed)
    samples: list[float] = []
    started = time.perf_counter()
    while budget.more(len(samples), started):
        t0 = time.perf_counter_ns()
        runner.infer(feed)
        samples.append((time.perf_counter_ns() - t0) / 1e6)
    return budget.warmup, samples


def throughput(runner: Any, feed: dict[str, np.ndarray], budget: Budget) -> dict[str, Any]:
    """Images per second with ``runner.jobs`` requests in flight through ``runner.submit``.

    A runner without ``submit`` (a reference runner, say) is measured synchronously and says so.
    """
    batch = next(iter(feed.values())).shape[0]
    requests = int(getattr(runner, "jobs", 1))
    if not hasattr(runner, "submit"):
        _, samples = latency(runner, feed, budget)
        return {"fps": batch * 1000.0 * len(samples) / sum(samples), "requests": 1, "mode": "sync",
                "batches": len(samples), "duration_s": sum(samples) / 1000.0}
    errors: list[BaseException] = []
    # Submit only into a free request: a submit that blocks inside the runtime while holding the
    # GIL can starve the completion callbacks that would free one (seen with AsyncInferQueue).
    free = threading.Semaphore(requests)

    def done(outputs: Any, error: BaseException | None) -> None:
        if error is not None:
            errors.append(error)
        free.release()

    def submit() -> None:
        free.acquire()
        runner.submit(feed, done)

    for _ in range(max(requests, budget.warmup)):
        submit()
    runner.wait_all()
    count = 0
    started = time.perf_counter()
    while budget.more(count, started) or count < 2 * requests:
        submit()
        count += 1
    runner.wait_all()
    elapsed = time.perf_counter() - started
    if errors:
        raise RuntimeError(f"{len(errors)} of {count} asynchronous requests failed: {errors[0]}") from errors[0]
    return {"fps": batch * count / elapsed, "requests": requests, "mode": "async", "batches": count,
            "duration_s": elapsed}


class PeakRSS:
    """Peak resident memory of this process while the block runs, sampled every ``interval_s``.

    psutil (in the edge extra) gives the current RSS; without it the process-lifetime peak from
    ``resource`` is the best there is, and is reported as such.
    """

    def __init__(self, interval_s: float = 0.01) -> None:
        self.interval_s = interval_s
        self.peak_bytes = 0
        self.source = "psutil"
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> PeakRSS:
        try:
            import psutil
        except ImportError:
            self.source = "resource.ru_maxrss (process lifetime)"
            return self
        process = psutil.Process(os.getpid())

        def sample() -> None:
            while True:
                self.peak_bytes = max(self.peak_bytes, process.memory_info().rss)
                if self._stop.wait(self.interval_s):
                    return

        self._thread = threading.Thread(target=sample, name="bench-rss", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
        else:
            import resource

            self.peak_bytes = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

    @property
    def peak_mb(self) -> float:
        return self.peak_bytes / 2**20
