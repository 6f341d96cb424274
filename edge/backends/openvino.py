"""OpenVINO runner: CPU, GPU, NPU or AUTO, with a LATENCY or THROUGHPUT hint and AsyncInferQueue."""

from __future__ import annotations

from typing import Any

from edge.backends.base import Callback, Feed, Outputs, Runner, missing_extra

DEVICES = ("CPU", "GPU", "NPU", "AUTO")
HINTS = ("LATENCY", "THROUGHPUT")
# The float precision OpenVINO computes in, per bundle precision. Left to itself, OpenVINO runs an
# FP32 model in bf16 on CPUs with AMX or AVX512-BF16, so "fp32" would silently not be FP32 and
# its decisions would drift from those the export gate measured. INT8 models keep their
# non-quantized layers (the heads, the attention sigmoid) in f32 for the same reason.
INFERENCE_PRECISION = {"fp32": "f32", "fp16": "f16", "int8": "f32"}


def import_openvino() -> Any:
    try:
        import openvino
    except ImportError as exc:
        raise missing_extra("openvino", "openvino") from exc
    return openvino


class OpenVINORunner(Runner):
    """Compiles the IR for ``device`` and runs it through an AsyncInferQueue.

    ``jobs=0`` lets OpenVINO pick the number of parallel requests for the hint.
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

    def _activate(self) -> None:
        ov = import_openvino()
        import openvino.properties.hint as hints

        core = ov.Core()
        base = self.device.split(":")[0]
        if base != "AUTO" and not any(d.startswith(base) for d in core.available_devices):
            raise ValueError(f"openvino: device {self.device} is not present; present: {core.available_devices} (or AUTO)")
        config: dict = {hints.performance_mode: getattr(hints.PerformanceMode, self.hint)}
        if base in ("CPU", "GPU"):  # NPU and AUTO pick their own precision
            config[hints.inference_precision] = getattr(ov.Type, self.inference_precision)
        self._compiled = core.compile_model(str(self.model_path), self.device, config)
        self._request = self._compiled.create_infer_request()
        self._queue = ov.AsyncInferQueue(self._compiled, self._requested_jobs)
        self.jobs = len(self._queue)
        self._queue.set_callback(self._on_done)

    def _deactivate(self) -> None:
        self._queue.wait_all()
        del self._queue, self._request, self._compiled

    def _infer(self, feed: Feed) -> Outputs:
        return self._read(self._request.infer(feed))

    def _submit(self, feed: Feed, done: Callback) -> None:
        # start_async blocks while every request of the pool is busy: backpressure.
        self._queue.start_async(feed, done)

    def _on_done(self, request: Any, done: Callback) -> None:
        try:
            outputs = self._read(request.results)
        except BaseException as exc:
            done(None, exc)
            return
        done(outputs, None)

    @staticmethod
    def _read(results: Any) -> Outputs:
        # Copies: the request's buffers are reused by the next frame.
        return {port.get_any_name(): value.copy() for port, value in results.items()}
