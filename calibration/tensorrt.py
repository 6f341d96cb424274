"""TensorRT engines from the bundle's ONNX, built on the target device (TensorRT 10 Python API).

An engine is tied to the GPU, the TensorRT version, the ONNX it came from and its precision, so
its file name carries a fingerprint of all four: a stale engine is never loaded, it is rebuilt
under a new name. INT8 comes from the Q/DQ ONNX (explicit quantization) where TensorRT has it;
otherwise an ``IInt8EntropyCalibrator2`` reads the same uint8 calibration batches through pycuda
buffers and keeps a calibration cache so a rebuild does not recalibrate.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from calibration.errors import CalibrationError, import_optional

log = logging.getLogger(__name__)

PRECISIONS = ("fp32", "fp16", "int8")
WORKSPACE_BYTES = 1 << 30


def engine_file(cache_dir: str | Path, onnx_path: str | Path, fingerprint: str) -> Path:
    """``STEM-FINGERPRINT.engine``: the name the edge's TensorRT runner looks for."""
    return Path(cache_dir) / f"{Path(onnx_path).stem}-{fingerprint}.engine"


def device_fingerprint(onnx_path: str | Path, precision: str) -> str:
    """The edge runtime's fingerprint of (GPU 0, its compute capability, TensorRT, ONNX sha256, precision)."""
    from edge.backends.tensorrt import engine_fingerprint
    from edge.bundle import sha256_file

    trt = import_optional("tensorrt", "tensorrt")
    cuda = import_optional("pycuda.driver", "tensorrt")
    cuda.init()
    dev = cuda.Device(0)
    return engine_fingerprint(dev.name(), dev.compute_capability(), trt.__version__, sha256_file(onnx_path), precision)


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
            from edge.atomic import atomic_write_bytes

            atomic_write_bytes(cache_path, bytes(cache))

    return EntropyCalibrator()


def build_engine(
    onnx_path: str | Path,
    cache_dir: str | Path,
    precision: str = "fp16",
    batches: Iterable[np.ndarray] | None = None,
    max_batch: int = 8,
) -> Path:
    """Build (or reuse, when its fingerprint matches) the engine for ``onnx_path``; returns its path.

    ``precision="int8"`` wants the Q/DQ ONNX; for a plain ONNX it needs ``batches`` for the
    entropy calibrator, whose cache is kept next to the engine.
    """
    if precision not in PRECISIONS:
        raise CalibrationError(f"unknown TensorRT precision {precision!r}; choose one of: {', '.join(PRECISIONS)}")
    trt = import_optional("tensorrt", "tensorrt")
    target = engine_file(cache_dir, onnx_path, device_fingerprint(onnx_path, precision))
    if target.exists():
        log.info("reusing TensorRT engine %s", target)
        return target
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    network = builder.create_network(0)  # TensorRT 10: networks are always explicit-batch
    parser = trt.OnnxParser(network, logger)
    if not parser.parse(Path(onnx_path).read_bytes()):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise CalibrationError(f"TensorRT cannot parse {onnx_path}: {errors}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, WORKSPACE_BYTES)
    profile = builder.create_optimization_profile()
    for i in range(network.num_inputs):
        tensor = network.get_input(i)
        rest = tuple(tensor.shape)[1:]
        profile.set_shape(tensor.name, (1, *rest), (max_batch, *rest), (max_batch, *rest))
    config.add_optimization_profile(profile)
    if precision in ("fp16", "int8"):
        config.set_flag(trt.BuilderFlag.FP16)
    if precision == "int8":
        config.set_flag(trt.BuilderFlag.INT8)
        if not has_qdq(onnx_path):
            if batches is None:
                raise CalibrationError(
                    f"{onnx_path} has no Q/DQ nodes: INT8 needs calibration batches "
                    "(or build from model-int8.onnx)"
                )
            cache = target.with_suffix(".calib")
            config.int8_calibrator = _entropy_calibrator(trt, batches, cache)
            config.set_calibration_profile(profile)
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise CalibrationError(f"TensorRT failed to build a {precision} engine from {onnx_path}")
    from edge.atomic import atomic_write_bytes

    return atomic_write_bytes(target, bytes(serialized))
