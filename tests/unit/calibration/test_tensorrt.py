from __future__ import annotations

import importlib.util

import pytest

from calibration.errors import CalibrationError, MissingLibraryError
from calibration.tensorrt import build_engine
from edge.backends.tensorrt import DEFAULT_MAX_BATCH, engine_fingerprint, engine_path

HAVE_TRT = importlib.util.find_spec("tensorrt") is not None


def test_engine_name_is_what_the_edge_runner_looks_for(tmp_path):
    fp = engine_fingerprint("Orin (nvgpu)", (8, 7), "10.3.0", "a" * 64, "int8")
    path = engine_path(tmp_path, tmp_path / "model-int8.onnx", fp)
    assert path.name == f"model-int8-{fp}.engine" and fp in path.name


def test_one_name_means_one_optimisation_profile():
    """The profile follows from max_batch alone, so max_batch is in the name: export and runner agree."""
    base = ("Orin (nvgpu)", (8, 7), "10.3.0", "a" * 64, "fp16")
    assert engine_fingerprint(*base) == engine_fingerprint(*base, DEFAULT_MAX_BATCH)
    assert engine_fingerprint(*base, DEFAULT_MAX_BATCH + 1) != engine_fingerprint(*base)
    assert f"-b{DEFAULT_MAX_BATCH}-" in engine_fingerprint(*base)


def test_unknown_precision_is_refused(small_onnx, tmp_path):
    with pytest.raises(CalibrationError, match="fp32, fp16, int8"):
        build_engine(small_onnx, tmp_path, precision="int4")


@pytest.mark.skipif(HAVE_TRT, reason="tensorrt is installed here")
def test_missing_tensorrt_names_the_extra(small_onnx, tmp_path):
    with pytest.raises(MissingLibraryError, match=r"gain-mtl\[tensorrt\]"):
        build_engine(small_onnx, tmp_path, precision="fp16")


@pytest.mark.skipif(not HAVE_TRT, reason="tensorrt is not installed (extra: gain-mtl[tensorrt]); engines build on the target device")
def test_engines_build_and_are_reused(small_onnx, uint8_batches, tmp_path):
    pytest.importorskip("pycuda.driver", reason="pycuda is not installed (extra: gain-mtl[tensorrt])")
    fp16 = build_engine(small_onnx, tmp_path, precision="fp16")
    assert fp16.exists() and build_engine(small_onnx, tmp_path, precision="fp16") == fp16
    int8 = build_engine(small_onnx, tmp_path, precision="int8", batches=uint8_batches, max_batch=4)
    assert int8.exists() and int8 != fp16 and int8.with_suffix(".calib").exists()
