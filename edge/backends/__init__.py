"""Inference backends and the one table that describes them.

Everything that needs to know which backends exist (``open_runner``, ``gainctl run``, the
benchmarks) reads ``BACKENDS``; nothing else lists them.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edge.backends.base import BackendError, Runner
from edge.bundle import PRECISIONS, Bundle, load_bundle


@dataclass(frozen=True)
class BackendInfo:
    name: str
    module: str            # where the runner class lives
    runner: str            # its class name
    artifact_format: str   # the bundle artifact format it loads
    precisions: tuple[str, ...]
    extra: str             # pip extra that installs it
    requires: tuple[str, ...]  # importable modules it needs
    # precision -> precision of the artifact it is built from, when it has none of its own
    # (TensorRT builds FP16 engines from the FP32 ONNX).
    derived: dict[str, str] = field(default_factory=dict)
    needs_nvidia: bool = False
    # Keyword options its runner takes besides the base ``jobs``, so a caller holding settings for
    # any backend (``gainctl run --device``, the bench's ``--threads``) passes each only where it means something.
    options: tuple[str, ...] = ()

    def installed(self) -> bool:
        return all(importlib.util.find_spec(m) is not None for m in self.requires)

    def usable_here(self) -> bool:
        return self.installed() and (not self.needs_nvidia or has_nvidia_gpu())

    def source(self, bundle: Bundle, precision: str) -> str | None:
        """Precision of the bundle artifact this backend would load for ``precision``, if any."""
        if precision not in self.precisions:
            return None
        if bundle.has(self.artifact_format, precision):
            return precision
        base = self.derived.get(precision)
        return base if base and bundle.has(self.artifact_format, base) else None

    def takes(self, option: str) -> bool:
        return option == "jobs" or option in self.options

    def options_for(self, **settings: Any) -> dict[str, Any]:
        """The ``settings`` this backend's runner takes; the others and unset (None) ones are dropped."""
        return {k: v for k, v in settings.items() if v is not None and self.takes(k)}

    def load_runner_class(self) -> type[Runner]:
        return getattr(importlib.import_module(self.module), self.runner)


BACKENDS: tuple[BackendInfo, ...] = (
    BackendInfo("tensorrt", "edge.backends.tensorrt", "TensorRTRunner", "onnx", PRECISIONS,
                "tensorrt", ("tensorrt", "pycuda"), derived={"fp16": "fp32"}, needs_nvidia=True,
                options=("cache_dir", "max_batch", "gpu", "workspace_mb")),
    BackendInfo("openvino", "edge.backends.openvino", "OpenVINORunner", "openvino", PRECISIONS,
                "openvino", ("openvino",), options=("device", "hint", "inference_precision")),
    BackendInfo("onnxruntime", "edge.backends.onnxruntime", "ONNXRuntimeRunner", "onnx", PRECISIONS,
                "edge", ("onnxruntime",), options=("providers", "threads")),
)
BACKEND_NAMES = tuple(b.name for b in BACKENDS)


def has_nvidia_gpu() -> bool:
    """An NVIDIA GPU driver is present (desktop/server driver or a Jetson's integrated GPU)."""
    return any(os.path.exists(p) for p in ("/dev/nvidia0", "/dev/nvhost-ctrl-gpu", "/proc/driver/nvidia/version"))


def backend_info(name: str) -> BackendInfo:
    for info in BACKENDS:
        if info.name == name:
            return info
    raise BackendError(f"unknown backend {name!r}; choose one of auto, {', '.join(BACKEND_NAMES)}")


def available_here(bundle: Bundle) -> list[str]:
    """``backend/precision`` pairs this machine and this bundle can run, in auto's order."""
    return [f"{b.name}/{p}" for b in BACKENDS if b.usable_here() for p in b.precisions if b.source(bundle, p)]


def choose_backend(bundle: Bundle, backend: str, precision: str) -> BackendInfo:
    """Resolve ``auto`` and check the choice; BackendError listing what would work."""
    listing = f"available here: {', '.join(available_here(bundle)) or 'none'} (bundle has {', '.join(bundle.available()) or 'nothing'})"
    if backend == "auto":
        for info in BACKENDS:
            if info.usable_here() and info.source(bundle, precision):
                return info
        raise BackendError(f"no backend here can run {precision} from {bundle.folder}; {listing}")
    info = backend_info(backend)
    if not info.installed():
        raise BackendError(f"backend {backend} is not installed: pip install 'gain-mtl[{info.extra}]'; {listing}")
    if info.needs_nvidia and not has_nvidia_gpu():
        raise BackendError(f"backend {backend} needs an NVIDIA GPU and none was found; {listing}")
    if not info.source(bundle, precision):
        raise BackendError(f"backend {backend} cannot run {precision} from {bundle.folder}; {listing}")
    return info


# Fastest first, on every backend the table lists: what ``gainctl run`` takes when no precision is asked.
SPEED_ORDER = ("int8", "fp16", "fp32")


def passed_gates(bundle: Bundle, artifact_format: str, precision: str) -> bool:
    """Whether the model file passed every gate its export measured (INT8 against FP32, robustness).

    An export that fails a gate writes no bundle, so this is False only for a bundle exported with
    a guard turned off whose measurement still failed, or one written by hand. Every INT8 model an
    export ships has its gate verdict, so one without (the entry removed, or a bundle put together
    by hand) is not taken by default either; asked for by name, it still runs. A missing robustness
    verdict passes: bundles of schema 3 and 4 predate the measurement.
    """
    spec = bundle.spec
    if precision == "int8" and not spec.calibration.get("gates", {}).get(artifact_format, {}).get("passed", False):
        return False
    return spec.robustness.get(precision, {}).get(artifact_format, {}).get("passed", True)


@dataclass(frozen=True)
class Selection:
    """What a line runs, resolved once: backend, precision, model file and its decision threshold."""

    backend: BackendInfo
    precision: str
    artifact: Path
    threshold: float

    def describe(self) -> str:
        return f"{self.backend.name}/{self.precision} {self.artifact.name} (threshold {self.threshold:.4f})"

    def open(self, bundle: Bundle, **options: Any) -> Runner:
        """A runner of this model file (not yet activated: use it in ``with``); ``options`` as the runner takes them."""
        return self.backend.load_runner_class().for_bundle(bundle, self.artifact, self.precision, **options)


def select(bundle: Bundle, backend: str = "auto", precision: str = "auto") -> Selection:
    """Resolve ``auto`` backend and precision against ``bundle`` and this machine.

    ``precision="auto"`` takes the fastest precision (SPEED_ORDER) the backend can run from the
    bundle whose model passed its gates; ``backend="auto"`` the first usable backend in table order
    that can run it. BackendError lists what would work.
    """
    if precision != "auto":
        info = choose_backend(bundle, backend, precision)
    else:
        candidates = [b for b in BACKENDS if b.usable_here()] if backend == "auto" else [choose_any(bundle, backend)]
        found = [(info, p) for info in candidates for p in SPEED_ORDER
                 if info.source(bundle, p) and passed_gates(bundle, info.artifact_format, info.source(bundle, p))]
        if not found:
            raise BackendError(f"no backend here can run a gated model from {bundle.folder}; "
                               f"available here: {', '.join(available_here(bundle)) or 'none'}")
        info, precision = found[0]
    source = info.source(bundle, precision)
    return Selection(info, precision, bundle.artifact(info.artifact_format, source),
                     bundle.threshold(source, info.artifact_format))


def choose_any(bundle: Bundle, backend: str) -> BackendInfo:
    """``backend`` checked for being installed and usable here, whatever precision it will run."""
    info = backend_info(backend)
    runnable = [p for p in PRECISIONS if info.source(bundle, p)]
    return choose_backend(bundle, backend, runnable[0] if runnable else PRECISIONS[0])


def open_runner(bundle: Bundle | str | os.PathLike, backend: str = "auto", precision: str = "fp32", **options: Any) -> Runner:
    """A runner (not yet activated: use it in ``with``) for ``bundle`` on ``backend``."""
    if not isinstance(bundle, Bundle):
        bundle = load_bundle(Path(bundle))
    return select(bundle, backend, precision).open(bundle, **options)


__all__ = ["BACKENDS", "BACKEND_NAMES", "SPEED_ORDER", "BackendError", "BackendInfo", "Runner", "Selection",
           "available_here", "backend_info", "choose_backend", "open_runner", "passed_gates",
           "select"]
