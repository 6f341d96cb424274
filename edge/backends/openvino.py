"""OpenVINO runner: CPU, GPU, NPU or AUTO, with a LATENCY or THROUGHPUT hint and a pool of infer requests."""

from __future__ import annotations

import queue
import threading
from typing import Any

import numpy as np

from edge.backends.base import BackendError, Feed, Outputs, Runner, require

DEVICES = ("CPU", "GPU", "NPU", "AUTO")
HINTS = ("LATENCY", "THROUGHPUT")
# The float precision OpenVINO computes in, per bundle precision. Left to itself, OpenVINO runs an
# FP32 model in bf16 on CPUs with AMX or AVX512-BF16, so "fp32" would silently not be FP32 and
# its decisions would drift from those the export gate measured. INT8 models keep their
# non-quantized layers (the heads, the attention sigmoid) in f32 for the same reason.
INFERENCE_PRECISION = {"fp32": "f32", "fp16": "f16", "int8": "f32"}


def import_openvino() -> Any:
    return require("openvino", "openvino")


class OpenVINORunner(Runner):
    """Compiles the IR for ``device`` and runs it on a pool of infer requests, one per job.

    The bundle's model has a dynamic batch; this runner compiles one static-shape model per batch
    size it is fed (batch 1 at activation, others on first use). Static shapes are what OpenVINO's
    CPU plugin runs fastest, and they avoid a hang seen on 2-core machines when several requests
    of a queue meet a new input shape at once. ``jobs=0`` lets OpenVINO pick the number of
    parallel requests for the hint.

    ``submit`` runs the requests synchronously on the base class's ``jobs`` threads rather than
    through an ``AsyncInferQueue``: when a request fails, OpenVINO (seen with 2026.4) calls neither
    the queue's Python callback nor an InferRequest's own; the error only comes out of ``wait`` or
    ``infer``. A failed frame would never be answered and ``wait_all`` would wait for it for ever.
    ``infer`` on a worker thread raises instead, and the base class reports that through the
    callback. The parallelism is the same: ``infer`` releases the GIL while the request runs.
    """

    name = "openvino"

    def __init__(self, *args: Any, device: str = "CPU", hint: str = "LATENCY",
                 inference_precision: str | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("jobs", 0)
        super().__init__(*args, **kwargs)
        device, hint = device.upper(), hint.upper()
        if device.split(":")[0] not in DEVICES:
            raise ValueError(f"openvino: unknown device {device!r}; choose one of {DEVICES}")
        if hint not in HINTS:
            raise ValueError(f"openvino: unknown hint {hint!r}; choose one of {HINTS}")
        self.device, self.hint = device, hint
        self.inference_precision = inference_precision or INFERENCE_PRECISION.get(self.precision, "f32")
        self._requested_jobs = int(kwargs["jobs"])
        self._per_batch: dict[int, tuple[Any, queue.SimpleQueue]] = {}
        self._compile_lock = threading.Lock()

    def _activate(self) -> None:
        ov = import_openvino()
        import openvino.properties.hint as hints

        self._core = ov.Core()
        base = self.device.split(":")[0]
        if base != "AUTO" and not any(d.startswith(base) for d in self._core.available_devices):
            raise ValueError(f"openvino: device {self.device} is not present; "
                             f"present: {self._core.available_devices} (or AUTO)")
        self._config: dict = {hints.performance_mode: getattr(hints.PerformanceMode, self.hint)}
        if base in ("CPU", "GPU"):  # NPU and AUTO pick their own precision
            self._config[hints.inference_precision] = getattr(ov.Type, self.inference_precision)
        self._model = self._core.read_model(str(self.model_path))
        self.jobs = self._for_batch(1).qsize()  # every request is idle right after compiling

    def _for_batch(self, batch: int) -> queue.SimpleQueue:
        """The idle infer requests of the model compiled for inputs of ``batch`` images."""
        entry = self._per_batch.get(batch)
        if entry is not None:  # the per-frame path: no lock once the batch size is compiled
            return entry[1]
        with self._compile_lock:
            if batch not in self._per_batch:
                import openvino.properties as props

                spec = self.input_spec
                model = self._model.clone()
                model.reshape({spec.name: [batch, spec.height, spec.width, 3]})
                compiled = self._core.compile_model(model, self.device, self._config)
                count = self._requested_jobs or int(compiled.get_property(props.optimal_number_of_infer_requests))
                idle: queue.SimpleQueue = queue.SimpleQueue()
                blank = {spec.name: np.zeros(spec.shape(batch), np.dtype(spec.dtype))}
                for _ in range(max(1, count)):
                    request = compiled.create_infer_request()
                    # Each request's first inference, one after the other, before any frame: two
                    # requests running their first at once can deadlock inside OpenVINO's Python
                    # binding (seen with 2026.4: both threads stuck filling their input tensor, in
                    # 2 of 40 runs of two cameras on THROUGHPUT's two requests). A frame then never
                    # pays for a request's first run either.
                    try:
                        request.infer(blank)
                    except Exception as exc:  # at activation: the run is refused before any frame, saying why
                        said = " ".join(str(exc).split("\nAt:")[0].split())  # OpenVINO appends Python's stack
                        raise BackendError(f"openvino: {self.model_path} does not run on {self.device}: {said}") from exc
                    idle.put(request)
                self._per_batch[batch] = (compiled, idle)
            return self._per_batch[batch][1]

    def _deactivate(self) -> None:
        self._per_batch.clear()  # the base class has waited for every request to come back
        del self._model, self._core

    def _infer(self, feed: Feed) -> Outputs:
        """Run on an idle request; waits for one while all are busy (``infer`` from several threads)."""
        idle = self._for_batch(int(feed[self.input_spec.name].shape[0]))
        request = idle.get()
        try:
            # Copies: the request's buffers are reused by the next frame.
            return {port.get_any_name(): value.copy() for port, value in request.infer(feed).items()}
        finally:
            idle.put(request)
