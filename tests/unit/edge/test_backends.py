"""Runners on real OpenVINO and ONNX Runtime sessions; the backend table; TensorRT where present."""

from __future__ import annotations

import ast
import importlib.util
import threading
from pathlib import Path

import numpy as np
import pytest

from edge.backends import BACKENDS, BackendError, choose_backend, open_runner
from edge.backends.base import Runner
from edge.bundle import load_bundle
from edge.preprocess import resize_frame
from tests.helpers.tiny_bundle import SIZE, synth_frame

LOCAL = ["openvino", "onnxruntime"]


def _batch(n: int = 4) -> np.ndarray:
    return np.stack([resize_frame(synth_frame(i % 2 == 1, seed=i), SIZE, SIZE) for i in range(n)])


@pytest.mark.parametrize("backend", LOCAL)
def test_infer_and_submit_agree(tiny_bundle_dir: Path, backend: str) -> None:
    x = _batch()
    with open_runner(tiny_bundle_dir, backend) as runner:
        out = runner.infer({"image": x})
        assert set(out) == {"defect_prob", "attention_map", "localization_map"}
        assert out["defect_prob"].shape == (4,)
        assert out["localization_map"].shape == (4, 1, SIZE // 4, SIZE // 4)
        assert list(out["defect_prob"] > 0.5) == [False, True, False, True]
        results: dict = {}
        lock = threading.Lock()
        for i in range(4):
            def done(o, e, i=i):
                with lock:
                    results[i] = (o, e)
            runner.submit({"image": x[i:i + 1]}, done)
        assert runner.wait_all(10)
    assert all(results[i][1] is None for i in range(4))
    async_probs = np.array([results[i][0]["defect_prob"][0] for i in range(4)])
    np.testing.assert_allclose(async_probs, out["defect_prob"], rtol=1e-5)


def test_backends_agree(tiny_bundle_dir: Path) -> None:
    x = _batch()
    outs = []
    for backend in LOCAL:
        with open_runner(tiny_bundle_dir, backend) as runner:
            outs.append(runner.infer({"image": x}))
    for name in outs[0]:
        np.testing.assert_allclose(outs[0][name], outs[1][name], atol=1e-5)


@pytest.mark.parametrize("feed, message", [
    ({"img": np.zeros((1, SIZE, SIZE, 3), np.uint8)}, "expected exactly the input 'image'"),
    ({"image": np.zeros((1, SIZE, SIZE, 3), np.float32)}, "numpy uint8"),
    ({"image": np.zeros((1, SIZE + 1, SIZE, 3), np.uint8)}, "resize frames"),
])
def test_inputs_are_checked_against_the_spec(tiny_bundle_dir: Path, feed: dict, message: str) -> None:
    with open_runner(tiny_bundle_dir, "onnxruntime") as runner:
        with pytest.raises(ValueError, match=message):
            runner.infer(feed)


def test_unavailable_choice_lists_what_is_available(tiny_bundle_dir: Path) -> None:
    bundle = load_bundle(tiny_bundle_dir)
    with pytest.raises(BackendError, match=r"cannot run int8.*available here: openvino/fp32, onnxruntime/fp32"):
        open_runner(bundle, "openvino", "int8")
    with pytest.raises(BackendError, match="unknown backend 'coreml'"):
        open_runner(bundle, "coreml")
    assert choose_backend(bundle, "auto", "fp32").name in ("tensorrt", "openvino")


def test_runner_outside_with_is_refused(tiny_bundle_dir: Path) -> None:
    with pytest.raises(RuntimeError, match="inside 'with runner:'"):
        open_runner(tiny_bundle_dir, "onnxruntime").infer({"image": _batch(1)})


def test_table_names_real_runners_and_no_behaviour_is_copied() -> None:
    """Shared behaviour (checks, submit bookkeeping, output selection) is only in the base."""
    shared = {"infer", "submit", "check_feed", "wait_all", "_select", "activate", "deactivate"}
    for info in BACKENDS:
        path = Path(importlib.util.find_spec(info.module).origin)
        tree = ast.parse(path.read_text())
        classes = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == info.runner]
        assert classes, f"{info.module} lacks {info.runner}"
        defined = {f.name for f in classes[0].body if isinstance(f, ast.FunctionDef)}
        assert not defined & shared, f"{info.runner} redefines {defined & shared}"
    for info in BACKENDS:
        if info.installed():
            assert issubclass(info.load_runner_class(), Runner)


def test_engine_fingerprint_changes_with_every_input() -> None:
    from edge.backends.tensorrt import engine_fingerprint

    base = ("NVIDIA Orin", (8, 7), "10.3.0", "a" * 64, "fp16")
    fingerprints = {engine_fingerprint(*base)}
    for i, other in enumerate([("NVIDIA H100", (8, 7)), ("NVIDIA Orin", (9, 0))]):
        fingerprints.add(engine_fingerprint(*other, *base[2:]))
    fingerprints.add(engine_fingerprint(*base[:2], "10.4.0", *base[3:]))
    fingerprints.add(engine_fingerprint(*base[:3], "b" * 64, "fp16"))
    fingerprints.add(engine_fingerprint(*base[:4], "int8"))
    assert len(fingerprints) == 6


def test_tensorrt_runner(tiny_bundle_dir: Path, tmp_path: Path) -> None:
    pytest.importorskip("tensorrt", reason="tensorrt is not installed here (it needs an NVIDIA GPU and the tensorrt extra)")
    pytest.importorskip("pycuda", reason="pycuda is not installed here (tensorrt extra)")
    from edge.backends import has_nvidia_gpu

    if not has_nvidia_gpu():
        pytest.skip("no NVIDIA GPU on this machine")
    x = _batch()
    with open_runner(tiny_bundle_dir, "onnxruntime") as ref:
        expected = ref.infer({"image": x})
    with open_runner(tiny_bundle_dir, "tensorrt", "fp32", cache_dir=tmp_path) as runner:
        out = runner.infer({"image": x})
        engine = runner.engine_path
    np.testing.assert_allclose(out["defect_prob"], expected["defect_prob"], atol=1e-3)
    assert engine is not None and engine.is_file()
    with open_runner(tiny_bundle_dir, "tensorrt", "fp32", cache_dir=tmp_path) as runner:  # from the cache
        assert runner.engine_path == engine


def _bundle_with(tmp_path: Path, int8_gate_passed: bool = True, robust: bool = True):
    from edge.bundle import ArtifactSpec, Bundle, BundleSpec, InputSpec

    arts = [ArtifactSpec(f"m-{fmt}-{p}", fmt, p, "0" * 64, 1) for fmt in ("onnx", "openvino") for p in ("fp32", "int8")]
    thresholds = {p: {fmt: t for fmt in ("onnx", "openvino")} for p, t in (("fp32", 0.3), ("int8", 0.4))}
    spec = BundleSpec(input=InputSpec(SIZE, SIZE), thresholds=thresholds, artifacts=arts,
                      calibration={"gates": {fmt: {"passed": int8_gate_passed} for fmt in ("onnx", "openvino")}},
                      robustness={"int8": {"openvino": {"passed": robust}, "onnx": {"passed": robust}}})
    return Bundle(spec, tmp_path)


def test_auto_precision_takes_the_fastest_model_that_passed_its_gates(tmp_path: Path) -> None:
    from edge.backends import select

    chosen = select(_bundle_with(tmp_path), "onnxruntime")
    assert (chosen.backend.name, chosen.precision, chosen.artifact.name, chosen.threshold) == ("onnxruntime", "int8", "m-onnx-int8", 0.4)
    assert chosen.describe() == "onnxruntime/int8 m-onnx-int8 (threshold 0.4000)"
    for failed in (_bundle_with(tmp_path, int8_gate_passed=False), _bundle_with(tmp_path, robust=False)):
        fallback = select(failed, "onnxruntime")
        assert (fallback.precision, fallback.artifact.name, fallback.threshold) == ("fp32", "m-onnx-fp32", 0.3)
    asked = select(_bundle_with(tmp_path), "onnxruntime", "fp32")
    assert asked.precision == "fp32" and asked.threshold == 0.3
    assert select(_bundle_with(tmp_path), "onnxruntime", "int8").precision == "int8"


def test_an_int8_model_without_a_gate_verdict_is_not_taken_by_default(tmp_path: Path) -> None:
    """Every INT8 model an export ships has its gate's verdict; one without is taken only when asked for."""
    from edge.backends import passed_gates, select

    for gates in ({}, {"openvino": {"passed": True}}, {"onnx": {"recall_drop": 0.0}}):
        bundle = _bundle_with(tmp_path)
        bundle.spec.calibration["gates"] = gates
        assert not passed_gates(bundle, "onnx", "int8") and passed_gates(bundle, "onnx", "fp32")
        assert select(bundle, "onnxruntime").precision == "fp32"
        assert select(bundle, "onnxruntime", "int8").precision == "int8"
    bundle = _bundle_with(tmp_path)
    bundle.spec.calibration.clear()
    bundle.spec.robustness.clear()  # schema 3 and 4: no robustness measured, no reason to refuse
    assert passed_gates(bundle, "onnx", "fp32") and not passed_gates(bundle, "onnx", "int8")
    assert select(_bundle_with(tmp_path)).backend.name in ("tensorrt", "openvino")


def test_auto_precision_on_a_backend_that_cannot_run_the_bundle_lists_what_can(tiny_bundle_dir: Path) -> None:
    from edge.backends import select

    with pytest.raises(BackendError, match="unknown backend 'coreml'"):
        select(load_bundle(tiny_bundle_dir), "coreml")
    assert select(load_bundle(tiny_bundle_dir), "onnxruntime").precision == "fp32"  # no INT8 in the tiny bundle
