"""TensorRT 10 runner: an engine from the bundle's fingerprinted cache, or built on first use.

An engine only runs on the GPU and TensorRT version it was built for, so its file name carries a
fingerprint (GPU name, compute capability, TensorRT version, sha256 of the source ONNX, precision):
a stale engine is never loaded, it is rebuilt. Buffers are pycuda page-locked host arrays and
device allocations sized for ``max_batch``; execution is ``execute_async_v3`` on one stream with
tensor addresses set by name (the TensorRT 10 API; bindings are gone).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import numpy as np

from edge.atomic import atomic_write_bytes
from edge.backends.base import BackendError, Feed, Outputs, Runner, missing_extra
from edge.bundle import Bundle


def import_tensorrt() -> tuple[Any, Any]:
    """(tensorrt, pycuda.driver), or a BackendError naming the extra."""
    try:
        import tensorrt
    except ImportError as exc:
        raise missing_extra("tensorrt", "tensorrt") from exc
    try:
        import pycuda.driver as cuda
    except ImportError as exc:
        raise missing_extra("pycuda", "tensorrt") from exc
    return tensorrt, cuda


def engine_fingerprint(gpu_name: str, compute_capability: tuple[int, int], trt_version: str,
                       onnx_sha256: str, precision: str) -> str:
    """A file-name-safe tag that changes whenever the engine would not be valid any more."""
    key = "|".join([gpu_name, f"{compute_capability[0]}.{compute_capability[1]}", trt_version, onnx_sha256, precision])
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return f"{precision}-sm{compute_capability[0]}{compute_capability[1]}-trt{trt_version}-{digest}"


def default_cache_dir(bundle: Bundle) -> Path:
    """``BUNDLE/engines`` when the bundle folder is writable, else the user's cache."""
    if os.access(bundle.folder, os.W_OK):
        return bundle.folder / "engines"
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "gain-mtl" / "engines"


class TensorRTRunner(Runner):
    name = "tensorrt"

    def __init__(self, *args: Any, onnx_sha256: str = "", cache_dir: str | os.PathLike | None = None,
                 bundle_engines: tuple[Path, ...] = (), max_batch: int = 8, device: int = 0,
                 workspace_mb: int = 1024, **kwargs: Any) -> None:
        kwargs["jobs"] = 1  # one execution context, one stream
        super().__init__(*args, **kwargs)
        self.onnx_sha256 = onnx_sha256
        self.cache_dir = Path(cache_dir) if cache_dir else self.model_path.parent / "engines"
        self.bundle_engines = bundle_engines
        self.max_batch = max_batch
        self.device_index = device
        self.workspace_mb = workspace_mb
        self.engine_path: Path | None = None

    @classmethod
    def for_bundle(cls, bundle: Bundle, artifact: Path, precision: str, **options: Any) -> "TensorRTRunner":
        sha = next(a.sha256 for a in bundle.spec.artifacts if bundle.folder / a.path == artifact)
        engines = tuple(bundle.folder / a.path for a in bundle.spec.artifacts
                        if a.format == "tensorrt-engine" and a.precision == precision)
        options.setdefault("cache_dir", default_cache_dir(bundle))
        return cls(artifact, bundle.spec.input, bundle.spec.outputs, precision=precision,
                   onnx_sha256=sha, bundle_engines=engines, **options)

    # -- lifecycle -------------------------------------------------------------------------
    def _activate(self) -> None:
        trt, cuda = import_tensorrt()
        cuda.init()
        device = cuda.Device(self.device_index)
        self._cuda = cuda
        self._ctx = device.retain_primary_context()
        self._ctx.push()
        try:
            fingerprint = engine_fingerprint(device.name(), device.compute_capability(), trt.__version__,
                                             self.onnx_sha256, self.precision)
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
        self.engine_path = self.cache_dir / f"{self.model_path.stem}-{fingerprint}.engine"
        if self.engine_path.is_file():
            return self.engine_path.read_bytes()
        data = self._build(trt)
        atomic_write_bytes(self.engine_path, data)
        return data

    def _build(self, trt: Any) -> bytes:
        builder = trt.Builder(self._logger)
        network = builder.create_network(0)  # explicit batch is the only mode in TensorRT 10
        parser = trt.OnnxParser(network, self._logger)
        if not parser.parse_from_file(str(self.model_path)):
            errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
            raise BackendError(f"tensorrt: cannot parse {self.model_path}: {errors}")
        config = builder.create_builder_config()
        config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, self.workspace_mb << 20)
        if self.precision in ("fp16", "int8"):
            config.set_flag(trt.BuilderFlag.FP16)
        if self.precision == "int8":
            # The int8 artifact is a Q/DQ graph: explicit quantization, no calibrator needed here.
            config.set_flag(trt.BuilderFlag.INT8)
        spec = self.input_spec
        profile = builder.create_optimization_profile()
        profile.set_shape(spec.name, spec.shape(1), spec.shape(1), spec.shape(self.max_batch))
        config.add_optimization_profile(profile)
        serialized = builder.build_serialized_network(network, config)
        if serialized is None:
            raise BackendError(f"tensorrt: building an engine from {self.model_path} ({self.precision}) failed; see the log above")
        return bytes(serialized)

    def _allocate(self, trt: Any) -> None:
        """Page-locked host and device buffers for every I/O tensor at ``max_batch``."""
        cuda, engine = self._cuda, self._engine
        self._host: dict[str, np.ndarray] = {}
        self._device: dict[str, Any] = {}
        self._context.set_input_shape(self.input_spec.name, self.input_spec.shape(self.max_batch))
        for i in range(engine.num_io_tensors):
            name = engine.get_tensor_name(i)
            shape = tuple(self._context.get_tensor_shape(name))
            dtype = np.dtype(trt.nptype(engine.get_tensor_dtype(name)))
            self._host[name] = cuda.pagelocked_empty(int(np.prod(shape)), dtype)
            self._device[name] = cuda.mem_alloc(self._host[name].nbytes)
            self._context.set_tensor_address(name, int(self._device[name]))
        self._outputs = [engine.get_tensor_name(i) for i in range(engine.num_io_tensors)
                         if engine.get_tensor_mode(engine.get_tensor_name(i)) == trt.TensorIOMode.OUTPUT]

    # -- inference -------------------------------------------------------------------------
    def _infer(self, feed: Feed) -> Outputs:
        name = self.input_spec.name
        x = np.ascontiguousarray(feed[name])
        if x.shape[0] > self.max_batch:
            raise ValueError(f"tensorrt: batch {x.shape[0]} exceeds the engine's max_batch {self.max_batch}")
        cuda = self._cuda
        self._ctx.push()
        try:
            self._context.set_input_shape(name, x.shape)
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
