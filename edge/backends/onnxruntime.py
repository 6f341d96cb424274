"""ONNX Runtime runner: CPU, and the CUDA / TensorRT execution providers when the build has them."""

from __future__ import annotations

from typing import Any, Sequence

from edge.backends.base import Feed, Outputs, Runner, require

# Preference order when providers="auto": the fastest the installed build offers.
PROVIDER_ORDER = ("TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider")


def import_onnxruntime() -> Any:
    return require("onnxruntime", "edge")


class ONNXRuntimeRunner(Runner):
    """An InferenceSession; ``submit`` uses the base thread pool (``run`` releases the GIL)."""

    name = "onnxruntime"

    def __init__(self, *args: Any, providers: str | Sequence[str] = "auto", threads: int = 0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.requested_providers = providers
        self.threads = threads

    def _activate(self) -> None:
        ort = import_onnxruntime()
        available = ort.get_available_providers()
        if self.requested_providers == "auto":
            providers = [p for p in PROVIDER_ORDER if p in available]
        else:
            providers = list(self.requested_providers)
            missing = [p for p in providers if p not in available]
            if missing:
                raise ValueError(f"onnxruntime: providers {missing} are not in this build; available: {available}")
        options = ort.SessionOptions()
        if self.threads:
            options.intra_op_num_threads = self.threads
        self._session = ort.InferenceSession(str(self.model_path), options, providers=providers)
        self.providers = self._session.get_providers()

    def _deactivate(self) -> None:
        del self._session

    def _infer(self, feed: Feed) -> Outputs:
        names = [o.name for o in self._session.get_outputs()]
        return dict(zip(names, self._session.run(names, feed)))
