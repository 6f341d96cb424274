"""The runner interface every backend implements (the shape of Polygraphy's runners).

A runner is a context manager around one loaded model: numpy in, numpy out, inputs checked
against the bundle's input spec before they reach the runtime. Behaviour shared by all backends
(input checks, output selection, the thread-pool fallback for ``submit``, draining on exit) lives
here, so a backend only says how to load, run and unload its runtime.
"""

from __future__ import annotations

import abc
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable, ClassVar, Dict, Optional, Sequence

import numpy as np

from edge.bundle import Bundle, InputSpec

Feed = Dict[str, np.ndarray]
Outputs = Dict[str, np.ndarray]
# Called once per submitted feed: (outputs, None) on success, (None, error) on failure.
Callback = Callable[[Optional[Outputs], Optional[BaseException]], None]


class BackendError(ValueError):
    """A backend, precision or device that cannot be used here: the message says what can."""


class Runner(abc.ABC):
    """Loads one model artifact and runs it.

    Subclasses implement ``_activate`` / ``_deactivate`` / ``_infer`` and may override
    ``_submit`` when their runtime has native asynchronous execution.
    """

    name: ClassVar[str] = "base"
    # The largest batch the loaded model takes (a TensorRT engine's profile ends there); None: any.
    max_batch: Optional[int] = None

    def __init__(self, model_path: Path, input_spec: InputSpec, output_names: Sequence[str],
                 precision: str = "fp32", jobs: int = 1) -> None:
        self.model_path = Path(model_path)
        self.input_spec = input_spec
        self.output_names = tuple(output_names)
        self.precision = precision
        self.jobs = max(1, int(jobs))
        self._active = False
        self._executor: ThreadPoolExecutor | None = None
        self._pending = 0
        self._pending_cv = threading.Condition()

    @classmethod
    def for_bundle(cls, bundle: Bundle, artifact: Path, precision: str, **options: Any) -> "Runner":
        """A runner for ``artifact`` of ``bundle``; TensorRT overrides it to use its engine cache."""
        return cls(artifact, bundle.spec.input, bundle.spec.outputs, precision=precision, **options)

    # -- lifecycle -------------------------------------------------------------------------
    def __enter__(self) -> "Runner":
        self.activate()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.deactivate()

    def activate(self) -> None:
        if not self._active:
            self._activate()
            self._active = True

    def deactivate(self) -> None:
        """Wait for submitted work, then release the runtime."""
        if not self._active:
            return
        self.wait_all()
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None
        self._deactivate()
        self._active = False

    # -- inference -------------------------------------------------------------------------
    def check_feed(self, feed: Feed) -> None:
        """Refuse inputs the graph was not exported for, with a message naming what differs."""
        spec = self.input_spec
        if set(feed) != {spec.name}:
            raise ValueError(f"{self.name}: expected exactly the input {spec.name!r}, got {sorted(feed)}")
        x = feed[spec.name]
        if not isinstance(x, np.ndarray) or x.dtype != np.dtype(spec.dtype):
            raise ValueError(f"{self.name}: input {spec.name!r} must be a numpy {spec.dtype} array, got {getattr(x, 'dtype', type(x))}")
        if x.ndim != 4 or x.shape[1:] != (spec.height, spec.width, 3) or x.shape[0] < 1:
            raise ValueError(
                f"{self.name}: input {spec.name!r} must have shape (N, {spec.height}, {spec.width}, 3) "
                f"({spec.layout}, {spec.channel_order}), got {x.shape}; resize frames with edge.preprocess.resize_frame"
            )
        if self.max_batch is not None and x.shape[0] > self.max_batch:
            raise ValueError(f"{self.name}: batch {x.shape[0]} exceeds the model's max_batch {self.max_batch}")

    def infer(self, feed: Feed) -> Outputs:
        self._require_active()
        self.check_feed(feed)
        return self._select(self._infer(feed))

    def submit(self, feed: Feed, callback: Callback) -> None:
        """Start inference and return; ``callback`` is called from another thread when done.

        ``callback`` is called exactly once, with the selected outputs or with the error: a result
        that cannot be read (an output missing) is an error too, so the caller always hears back.
        May block while all of the runner's ``jobs`` slots are busy: that is the backpressure a
        caller gets.
        """
        self._require_active()
        self.check_feed(feed)
        with self._pending_cv:
            self._pending += 1

        def done(outputs: Outputs | None, error: BaseException | None) -> None:
            selected: Outputs | None = None
            if error is None:
                try:
                    selected = self._select(outputs)
                except BaseException as exc:  # raised here it would die in the runtime's thread, unheard
                    error = exc
            try:
                callback(selected, error)
            finally:
                with self._pending_cv:
                    self._pending -= 1
                    self._pending_cv.notify_all()

        try:
            self._submit(feed, done)
        except BaseException:
            with self._pending_cv:
                self._pending -= 1
                self._pending_cv.notify_all()
            raise

    def wait_all(self, timeout: float | None = None) -> bool:
        """Block until every submitted feed has called back; False on timeout."""
        with self._pending_cv:
            return self._pending_cv.wait_for(lambda: self._pending == 0, timeout)

    def _submit(self, feed: Feed, done: Callback) -> None:
        """Fallback for runtimes without native async: a pool of ``jobs`` threads.

        Backpressure: a semaphore limits work in flight to ``jobs``.
        """
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=self.jobs, thread_name_prefix=f"{self.name}-infer")
            self._slots = threading.Semaphore(self.jobs)
        self._slots.acquire()

        def work() -> None:
            try:
                outputs = self._infer(feed)
            except BaseException as exc:  # reported through the callback, never lost
                self._slots.release()
                done(None, exc)
                return
            self._slots.release()
            done(outputs, None)

        self._executor.submit(work)

    def _select(self, outputs: Outputs | None) -> Outputs:
        if outputs is None:
            raise ValueError(f"{self.name}: the runtime returned neither outputs nor an error")
        missing = [n for n in self.output_names if n not in outputs]
        if missing:
            raise ValueError(f"{self.name}: {self.model_path} lacks outputs {missing}; re-export the bundle")
        return {n: np.asarray(outputs[n]) for n in self.output_names}

    def _require_active(self) -> None:
        if not self._active:
            raise RuntimeError(f"{self.name}: use the runner inside 'with runner:' (or call activate())")

    @abc.abstractmethod
    def _activate(self) -> None: ...

    @abc.abstractmethod
    def _deactivate(self) -> None: ...

    @abc.abstractmethod
    def _infer(self, feed: Feed) -> Outputs: ...


def missing_extra(module: str, extra: str) -> BackendError:
    return BackendError(f"{module} is not installed: pip install 'gain-mtl[{extra}]'")


def require(module: str, extra: str) -> Any:
    """Import an optional runtime where it is used, or say which extra installs it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise missing_extra(module, extra) from exc
