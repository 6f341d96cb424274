from __future__ import annotations

import importlib.util

import pytest

from calibration.errors import MissingLibraryError
from calibration.tensorrt import DeviceInfo, build_engine, engine_fingerprint

ORIN = DeviceInfo("Orin (nvgpu)", (8, 7), "10.3.0")


def test_fingerprint_changes_with_everything_an_engine_depends_on():
    base = engine_fingerprint("a" * 64, "int8", ORIN)
    assert base == engine_fingerprint("a" * 64, "int8", ORIN)
    assert "orin-nvgpu-sm87-trt10.3.0-int8" in base
    others = {
        engine_fingerprint("b" * 64, "int8", ORIN),
        engine_fingerprint("a" * 64, "fp16", ORIN),
        engine_fingerprint("a" * 64, "int8", DeviceInfo("Orin (nvgpu)", (8, 7), "10.4.0")),
        engine_fingerprint("a" * 64, "int8", DeviceInfo("NVIDIA H100", (9, 0), "10.3.0")),
    }
    assert base not in others and len(others) == 4


@pytest.mark.skipif(importlib.util.find_spec("tensorrt") is not None, reason="tensorrt is installed here")
def test_missing_tensorrt_names_the_extra(small_onnx, tmp_path):
    with pytest.raises(MissingLibraryError, match=r"gain-mtl\[tensorrt\]"):
        build_engine(small_onnx, tmp_path, precision="fp16")


@pytest.mark.skipif(importlib.util.find_spec("tensorrt") is None, reason="tensorrt is not installed (extra: gain-mtl[tensorrt]); engines build on the target device")
def test_engines_build_and_are_reused(small_onnx, uint8_batches, tmp_path):
    pytest.importorskip("pycuda.driver", reason="pycuda is not installed (extra: gain-mtl[tensorrt])")
    fp16 = build_engine(small_onnx, tmp_path, precision="fp16")
    assert fp16.exists() and build_engine(small_onnx, tmp_path, precision="fp16") == fp16
    int8 = build_engine(small_onnx, tmp_path, precision="int8", batches=uint8_batches, max_batch=4)
    assert int8.exists() and int8 != fp16 and int8.with_suffix(".calib").exists()
