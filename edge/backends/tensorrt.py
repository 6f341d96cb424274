"""TensorRT 10: the one place an engine is named and built, and the runner that uses it.

An engine only runs on the GPU and TensorRT version it was built for, and only for the batch sizes
of its optimisation profile, so its file name carries a fingerprint of all of it (GPU name,
compute capability, TensorRT version, sha256 of the source ONNX, precision, max batch): a stale
engine is never loaded, it is rebuilt. Export (``calibration.tensorrt``) prebuilds engines with
``build_serialized_engine`` and ``engine_path`` from here, so what it writes is exactly what the
runner looks for. Buffers are pycuda page-locked host arrays and device allocations sized for
``max_batch``; execution is ``execute_async_v3`` on one stream with tensor addresses set by name
(the TensorRT 10 API; bindings are gone).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import numpy as np

from edge.atomic import atomic_write_bytes
from edge.backends.base import BackendError, Feed, Outputs, Runner, require
from edge.bundle import Bundle
from edge.cache import user_cache_dir

DEFAULT_MAX_BATCH = 8
WORKSPACE_MB = 1024


def import_tensorrt() -> tuple[Any, Any]:
    """(tensorrt, pycuda.driver), or a BackendError naming the extra."""
    return require("tensorrt", "tensorrt"), require("pycuda.driver", "tensorrt")


def engine_fingerprint(gpu_name: str, compute_capability: tuple[int, int], trt_version: str,
                       onnx_sha256: str, precision: str, max_batch: int = DEFAULT_MAX_BATCH) -> str:
    """A file-name-safe tag that changes whenever the engine would not be valid any more.

    ``max_batch`` fixes the whole optimisation profile (see ``build_serialized_engine``), so one
    name means one engine.
    """
    key = "|".join([gpu_name, f"{compute_capability[0]}.{compute_capability[1]}", trt_version, onnx_sha256,
                    precision, str(max_batch)])
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return f"{precision}-b{max_batch}-sm{compute_capability[0]}{compute_capability[1]}-trt{trt_version}-{digest}"


def device_fingerprint(trt: Any, device: Any, onnx_sha256: str, precision: str, max_batch: int) -> str:
    """``engine_fingerprint`` of a pycuda ``Device`` and the imported TensorRT."""
    return engine_fingerprint(device.name(), device.compute_capability(), trt.__version__, onnx_sha256,
                              precision, max_batch)


def engine_path(cache_dir: str | os.PathLike, onnx_path: str | os.PathLike, fingerprint: str) -> Path:
    """``CACHE/STEM-FINGERPRINT.engine``."""
    return Path(cache_dir) / f"{Path(onnx_path).stem}-{fingerprint}.engine"


def default_cache_dir(folder: Path) -> Path:
    """``FOLDER/engines`` when ``folder`` (the bundle's) is writable, else the user's cache."""
    return folder / "engines" if os.access(folder, os.W_OK) else user_cache_dir("engines")


def build_serialized_engine(trt: Any, logger: Any, onnx_path: str | os.PathLike, precision: str,
                            max_batch: int = DEFAULT_MAX_BATCH, workspace_mb: int = WORKSPACE_MB,
                            calibrator: Any = None) -> bytes:
    """An engine for batches 1..``max_batch`` of ``onnx_path`` in ``precision``.

    The profile is tuned for batch 1: a line decides frame by frame, so that is the latency that
    counts. INT8 from a Q/DQ ONNX needs nothing more (explicit quantization); from a plain ONNX it
    needs an ``IInt8EntropyCalibrator2``, whose batches fix the calibration profile's shape.
    """
    builder = trt.Builder(logger)
    network = builder.create_network(0)  # explicit batch is the only mode in TensorRT 10
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(str(onnx_path)):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise BackendError(f"tensorrt: cannot parse {onnx_path}: {errors}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, workspace_mb << 20)
    if precision in ("fp16", "int8"):
        config.set_flag(trt.BuilderFlag.FP16)
    if precision == "int8":
        config.set_flag(trt.BuilderFlag.INT8)
    config.add_optimization_profile(_profile(builder, network, 1, 1, max_batch))
    if calibrator is not None:
        batch = calibrator.get_batch_size()
        config.int8_calibrator = calibrator
        if not config.set_calibration_profile(_profile(builder, network, batch, batch, batch)):
            raise BackendError(f"tensorrt: calibration batches of {batch} do not fit {onnx_path}'s input")
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise BackendError(f"tensorrt: building a {precision} engine from {onnx_path} failed; see the log above")
    return bytes(serialized)


def _profile(builder: Any, network: Any, low: int, opt: int, high: int) -> Any:
    """An optimisation profile over the batch axis of every network input."""
    profile = builder.create_optimization_profile()
    for i in range(network.num_inputs):
        tensor = network.get_input(i)
        rest = tuple(tensor.shape)[1:]
        profile.set_shape(tensor.name, (low, *rest), (opt, *rest), (high, *rest))
    return profile


class TensorRTRunner(Runner):
    name = "tensorrt"

    def __init__(self, *args: Any, onnx_sha256: str = "", cache_dir: str | os.PathLike | None = None,
                 bundle_engines: tuple[Path, ...] = (), max_batch: int = DEFAULT_MAX_BATCH, gpu: int = 0,
                 workspace_mb: int = WORKSPACE_MB, **kwargs: Any) -> None:
        kwargs["jobs"] = 1  # one execution context, one stream
        super().__init__(*args, **kwargs)
        self.onnx_sha256 = onnx_sha256
        self.cache_dir = Path(cache_dir) if cache_dir else default_cache_dir(self.model_path.parent)
        self.bundle_engines = bundle_engines
        self.max_batch = max_batch
        self.gpu = gpu
        self.workspace_mb = workspace_mb
        self.engine_path: Path | None = None

    @classmethod
    def for_bundle(cls, bundle: Bundle, artifact: Path, precision: str, **options: Any) -> "TensorRTRunner":
        sha = next(a.sha256 for a in bundle.spec.artifacts if bundle.folder / a.path == artifact)
        engines = tuple(bundle.folder / a.path for a in bundle.spec.artifacts
                        if a.format == "tensorrt-engine" and a.precision == precision)
        return cls(artifact, bundle.spec.input, bundle.spec.outputs, precision=precision,
                   onnx_sha256=sha, bundle_engines=engines, **options)

    # -- lifecycle -------------------------------------------------------------------------
    def _activate(self) -> None:
        trt, cuda = import_tensorrt()
        cuda.init()
        device = cuda.Device(self.gpu)
        self._cuda = cuda
        self._ctx = device.retain_primary_context()
        self._ctx.push()
        try:
            fingerprint = device_fingerprint(trt, device, self.onnx_sha256, self.precision, self.max_batch)
            self._logger = trt.Logger(trt.Logger.WARNING)
            data = self._load_or_build(trt, fingerprint)
            self._runtime = trt.Runtime(self._logger)
            self._engine = self._runtime.deserialize_cuda_engine(data)
            if self._engine is None:
                raise BackendError(f"tensorrt: could not deserialize {self.engine_path}; delete it to rebuild")
            self._context = self._engine.create_execution_context()
            self._stream = cuda.Stream()
            self._allocate(trt)
        finally:
            self._ctx.pop()

    def _deactivate(self) -> None:
        self._ctx.push()
        try:
            for buf in self._device.values():
                buf.free()
            del self._context, self._engine, self._runtime, self._stream
        finally:
            self._ctx.pop()
            self._ctx.detach()

    def _load_or_build(self, trt: Any, fingerprint: str) -> bytes:
        for path in self.bundle_engines:
            if fingerprint in path.name:
                self.engine_path = path
                return path.read_bytes()
        self.engine_path = engine_path(self.cache_dir, self.model_path, fingerprint)
        if self.engine_path.is_file():
            return self.engine_path.read_bytes()
        data = build_serialized_engine(trt, self._logger, self.model_path, self.precision, self.max_batch,
                                       self.workspace_mb)
        atomic_write_bytes(self.engine_path, data)
        return data

    def _allocate(self, trt: Any) -> None:
        """Page-locked host and device buffers for every I/O tensor at ``max_batch``."""
        cuda, engine = self._cuda, self._engine
        self._host: dict[str, np.ndarray] = {}
        self._device: dict[str, Any] = {}
        self._set_input_shape(self.input_spec.shape(self.max_batch))
        for i in range(engine.num_io_tensors):
            name = engine.get_tensor_name(i)
            shape = tuple(self._context.get_tensor_shape(name))
            dtype = np.dtype(trt.nptype(engine.get_tensor_dtype(name)))
            self._host[name] = cuda.pagelocked_empty(int(np.prod(shape)), dtype)
            self._device[name] = cuda.mem_alloc(self._host[name].nbytes)
            self._context.set_tensor_address(name, int(self._device[name]))
        self._outputs = [engine.get_tensor_name(i) for i in range(engine.num_io_tensors)
                         if engine.get_tensor_mode(engine.get_tensor_name(i)) == trt.TensorIOMode.OUTPUT]

    def _set_input_shape(self, shape: tuple[int, ...]) -> None:
        """Set the input shape, or say why TensorRT refused it (it only returns False)."""
        if not self._context.set_input_shape(self.input_spec.name, shape):
            raise BackendError(
                f"tensorrt: {self.engine_path} refuses input {self.input_spec.name!r} of shape {tuple(shape)}; "
                f"it takes batches 1..{self.max_batch} of {self.input_spec.shape()[1:]} (see the log above)"
            )

    # -- inference -------------------------------------------------------------------------
    def _infer(self, feed: Feed) -> Outputs:
        name = self.input_spec.name
        x = np.ascontiguousarray(feed[name])
        cuda = self._cuda
        self._ctx.push()
        try:
            self._set_input_shape(x.shape)
            host_in = self._host[name][: x.size].reshape(x.shape)
            host_in[...] = x
            cuda.memcpy_htod_async(self._device[name], host_in, self._stream)
            self._context.execute_async_v3(self._stream.handle)
            shapes = {o: tuple(self._context.get_tensor_shape(o)) for o in self._outputs}
            for o in self._outputs:
                cuda.memcpy_dtoh_async(self._host[o], self._device[o], self._stream)
            self._stream.synchronize()
        finally:
            self._ctx.pop()
        return {o: self._host[o][: int(np.prod(s))].reshape(s).copy() for o, s in shapes.items()}
