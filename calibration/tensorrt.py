"""TensorRT engines from the bundle's ONNX, built on the target device (TensorRT 10 Python API).

Naming and building are the edge runner's own (``edge.backends.tensorrt``), so an engine built
here at export is the one the runner looks for, never a look-alike with another profile. INT8
comes from the Q/DQ ONNX (explicit quantization) where TensorRT has it; otherwise an
``IInt8EntropyCalibrator2`` reads the same uint8 calibration batches through pycuda buffers and
keeps a calibration cache so a rebuild does not recalibrate.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from calibration.errors import CalibrationError, import_optional
from edge.atomic import atomic_write_bytes
from edge.backends.base import BackendError
from edge.backends.tensorrt import DEFAULT_MAX_BATCH, build_serialized_engine, device_fingerprint, engine_path
from edge.bundle import PRECISIONS, sha256_file

log = logging.getLogger(__name__)


def has_qdq(onnx_path: str | Path) -> bool:
    """Whether the ONNX carries explicit quantization (QuantizeLinear/DequantizeLinear pairs)."""
    import onnx

    model = onnx.load(str(onnx_path), load_external_data=False)
    return any(node.op_type == "QuantizeLinear" for node in model.graph.node)


def _entropy_calibrator(trt, batches: Iterable[np.ndarray], cache_path: Path):
    """An IInt8EntropyCalibrator2 over fixed-size uint8 batches (a short last batch is dropped)."""
    cuda = import_optional("pycuda.driver", "tensorrt")
    import_optional("pycuda.autoinit", "tensorrt")

    class EntropyCalibrator(trt.IInt8EntropyCalibrator2):
        def __init__(self) -> None:
            trt.IInt8EntropyCalibrator2.__init__(self)
            data = [np.ascontiguousarray(b) for b in batches]
            self.batch_size = len(data[0])
            self.data = [b for b in data if len(b) == self.batch_size]
            self.device_input = cuda.mem_alloc(self.data[0].nbytes)
            self.index = 0

        def get_batch_size(self) -> int:
            return self.batch_size

        def get_batch(self, names):
            if self.index >= len(self.data):
                return None
            cuda.memcpy_htod(self.device_input, self.data[self.index])
            self.index += 1
            return [int(self.device_input)]

        def read_calibration_cache(self):
            return cache_path.read_bytes() if cache_path.exists() else None

        def write_calibration_cache(self, cache) -> None:
            atomic_write_bytes(cache_path, bytes(cache))

    return EntropyCalibrator()


def build_engine(
    onnx_path: str | Path,
    cache_dir: str | Path,
    precision: str = "fp16",
    batches: Iterable[np.ndarray] | None = None,
    max_batch: int = DEFAULT_MAX_BATCH,
) -> Path:
    """Build (or reuse, when its fingerprint matches) the engine for ``onnx_path`` on GPU 0; returns its path.

    ``precision="int8"`` wants the Q/DQ ONNX; for a plain ONNX it needs ``batches`` for the
    entropy calibrator, whose cache is kept next to the engine.
    """
    if precision not in PRECISIONS:
        raise CalibrationError(f"unknown TensorRT precision {precision!r}; choose one of: {', '.join(PRECISIONS)}")
    trt = import_optional("tensorrt", "tensorrt")
    cuda = import_optional("pycuda.driver", "tensorrt")
    cuda.init()
    fingerprint = device_fingerprint(trt, cuda.Device(0), sha256_file(onnx_path), precision, max_batch)
    target = engine_path(cache_dir, onnx_path, fingerprint)
    if target.exists():
        log.info("reusing TensorRT engine %s", target)
        return target
    calibrator = None
    if precision == "int8" and not has_qdq(onnx_path):
        if batches is None:
            raise CalibrationError(
                f"{onnx_path} has no Q/DQ nodes: INT8 needs calibration batches "
                "(or build from model-int8.onnx)"
            )
        calibrator = _entropy_calibrator(trt, batches, target.with_suffix(".calib"))
    try:
        data = build_serialized_engine(trt, trt.Logger(trt.Logger.WARNING), onnx_path, precision, max_batch,
                                       calibrator=calibrator)
    except BackendError as exc:
        raise CalibrationError(str(exc)) from exc
    return atomic_write_bytes(target, data)
