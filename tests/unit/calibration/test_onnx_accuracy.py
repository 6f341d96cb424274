"""The ONNX route's accuracy control: layer groups, and the search that returns groups to float."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from calibration.errors import CalibrationError
from calibration.guard import guard_samples
from calibration.onnx_accuracy import layer_groups, quantize_qdq_with_accuracy_control, quantized_layers


def _prob(path, images: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(["defect_prob"], {"image": images})[0]


def _has_qdq(path) -> bool:
    return any(n.op_type == "QuantizeLinear" for n in onnx.load(str(path)).graph.node)


def test_layer_groups_follow_module_paths_and_cover_every_node(small_onnx):
    model = onnx.load(str(small_onnx))
    groups = layer_groups(model)
    assert "/body/body.0/Conv" in groups["body/body.0"] and "/body/body.2/Conv" in groups["body/body.2"]
    names = [n for members in groups.values() for n in members]
    assert sorted(names) == sorted(n.name for n in model.graph.node if n.op_type != "Constant")


@pytest.fixture()
def validation(small_onnx, uint8_batches):
    """Validation batches whose FP32 decisions sit at the median score, where INT8 rounding flips some."""
    images = np.concatenate(uint8_batches)
    prob = _prob(small_onnx, images)
    threshold = float(np.median(prob))
    decisions = prob >= threshold
    # Labels equal to FP32's decisions: FP32 scores 1.0, and any flip INT8 makes costs the metric.
    return guard_samples(images, decisions.astype(np.int64), decisions, batch=4), threshold


def test_within_the_guard_nothing_returns_to_float(small_onnx, uint8_batches, validation, tmp_path):
    samples, threshold = validation
    out = tmp_path / "int8.onnx"
    result = quantize_qdq_with_accuracy_control(small_onnx, out, uint8_batches, samples, lambda p, l, parts: threshold, max_drop=1.0)
    assert result.kept_float == [] and result.trials == 1
    assert _has_qdq(out)


def test_groups_return_to_float_until_the_guard_holds(small_onnx, uint8_batches, validation, tmp_path):
    samples, threshold = validation
    out = tmp_path / "int8.onnx"
    result = quantize_qdq_with_accuracy_control(small_onnx, out, uint8_batches, samples, lambda p, l, parts: threshold, max_drop=0.0)
    assert result.quantized_metric < result.initial_metric  # plain INT8 flipped decisions at the median
    assert result.kept_float and result.final_metric == result.initial_metric
    assert result.trials > len(result.kept_float)  # ranking trials, then the reverting ones
    # The written model is the last, accepted one: re-measured, it keeps FP32's decisions.
    images = np.concatenate([s.images for s in samples])
    decisions = np.concatenate([s.fp32_decisions for s in samples])
    assert np.array_equal(_prob(out, images) >= threshold, decisions)
    kept_nodes = {n for g in result.kept_float for n in layer_groups(onnx.load(str(small_onnx)))[g]}
    quantized = {n.name for n in onnx.load(str(out)).graph.node}
    assert kept_nodes <= quantized  # the float groups' nodes are still there, unquantized
    assert quantized_layers(onnx.load(str(out))) > 0  # and some layers still run in INT8


def test_a_guard_only_float_can_meet_is_refused(small_onnx, uint8_batches, validation, tmp_path, monkeypatch):
    """Only exact FP32 scores pass this guard: the search must not ship an all-float "INT8" model."""
    import calibration.onnx_accuracy as accuracy

    samples, threshold = validation
    fp32 = _prob(small_onnx, np.concatenate([s.images for s in samples]))
    monkeypatch.setattr(accuracy, "guard_metric", lambda prob, samples, rule: float(np.array_equal(prob, fp32)))
    with pytest.raises(CalibrationError, match="unless every layer is in float"):
        quantize_qdq_with_accuracy_control(small_onnx, tmp_path / "int8.onnx", uint8_batches, samples,
                                           lambda p, l, parts: threshold, max_drop=0.0)
