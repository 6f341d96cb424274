"""ONNX Runtime runner: CPU, and the CUDA / TensorRT execution providers when the build has them."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

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
        # A session's outputs never change: the per-frame path reuses this list.
        self._output_names = [o.name for o in self._session.get_outputs()]
        if self.providers[0] != "CPUExecutionProvider":
            # The GPU providers defer work to the first run (the TensorRT one builds its engine then,
            # the batch being dynamic, which can take minutes): pay it here, not on the first frame,
            # which the pipeline would otherwise take for a lost result.
            spec = self.input_spec
            self._session.run(self._output_names, {spec.name: np.zeros((1, spec.height, spec.width, 3), spec.dtype)})

    def _deactivate(self) -> None:
        del self._session

    def _infer(self, feed: Feed) -> Outputs:
        return dict(zip(self._output_names, self._session.run(self._output_names, feed)))
