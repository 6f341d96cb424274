from __future__ import annotations

import numpy as np
import pytest

ov = pytest.importorskip("openvino", reason="openvino is not installed (extra: gain-mtl[openvino])")
pytest.importorskip("nncf", reason="nncf is not installed (extra: gain-mtl[train])")

from calibration.heads import openvino_head_nodes  # noqa: E402
from calibration.guard import GuardSample, guard_metric  # noqa: E402
from calibration.openvino import quantize_ir  # noqa: E402


def _quantized_inputs(model) -> set[str]:
    """Friendly names of ops fed (directly) by a FakeQuantize."""
    return {
        op.get_friendly_name()
        for op in model.get_ops()
        for v in op.input_values()
        if v.get_node().get_type_name() == "FakeQuantize"
    }


def test_ignored_scope_keeps_heads_float_default_does_not(small_onnx, uint8_batches):
    model = ov.convert_model(str(small_onnx))
    heads = set(openvino_head_nodes(model))
    scoped = quantize_ir(model, uint8_batches, keep_heads_float=True)
    default = quantize_ir(ov.convert_model(str(small_onnx)), uint8_batches, keep_heads_float=False)
    assert not (_quantized_inputs(scoped) & heads)
    assert _quantized_inputs(default) & heads  # the default quantizes the heads' inputs
    assert _quantized_inputs(scoped)  # the body is still INT8
    reference = ov.compile_model(model, "CPU")(uint8_batches[0])
    result = ov.compile_model(scoped, "CPU")(uint8_batches[0])
    for i in range(3):
        assert np.max(np.abs(reference[i] - result[i])) < 0.05


def test_guard_metric_is_the_worse_of_recall_and_agreement():
    samples = [GuardSample(np.zeros((4, 1)), np.array([1, 1, 0, 0]), np.array([True, True, False, True]))]
    # decisions at 0.5: [1, 0, 0, 1] -> recall 0.5, agreement 0.75
    at_half = lambda prob, labels, parts: 0.5  # noqa: E731
    assert guard_metric(np.array([0.9, 0.1, 0.2, 0.8]), samples, at_half) == 0.5
    assert guard_metric(np.array([0.9, 0.9, 0.2, 0.8]), samples, at_half) == 1.0
    # Judged at the threshold its own rule picks: every score shifted down by 0.15 loses nothing.
    lowest_defect = lambda prob, labels, parts: float(prob[labels == 1].min())  # noqa: E731
    assert guard_metric(np.array([0.75, 0.75, 0.05, 0.75]), samples, lowest_defect) == 1.0
    # A score outside [0, 1] is a fault on the line, which stops the part: not the accept FP32 gave.
    assert guard_metric(np.array([0.75, 0.75, -0.1, 0.75]), samples, lowest_defect) == 0.75


def test_the_guard_hands_the_threshold_rule_each_frame_s_part():
    # The export's rule ranks parts, so the guard judges a candidate at the threshold the line will use.
    from calibration.guard import guard_samples

    parts = ["a", "a", None, "b", "b"]
    samples = guard_samples(np.zeros((5, 1)), np.array([1, 1, 0, 1, 0]), np.ones(5, bool), batch=2, parts=parts)
    seen = []
    guard_metric(np.full(5, 0.9), samples, lambda prob, labels, names: seen.append(names) or 0.5)
    assert seen == [parts]
    unnamed = guard_samples(np.zeros((3, 1)), np.array([1, 0, 1]), np.ones(3, bool), batch=2)
    guard_metric(np.full(3, 0.9), unnamed, lambda prob, labels, names: seen.append(names) or 0.5)
    assert seen[-1] == [None, None, None]


def test_accuracy_control_route_returns_a_quantized_model(small_onnx, uint8_batches):
    from calibration.openvino import quantize_ir_with_accuracy_control

    model = ov.convert_model(str(small_onnx))
    compiled = ov.compile_model(model, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    threshold = float(np.median(np.concatenate([compiled(b)[0] for b in uint8_batches])))
    samples = []
    for i, batch in enumerate(uint8_batches):
        prob = compiled(batch)[0]
        samples.append(GuardSample(batch, np.array([i % 2, 1, 0, 1]), prob >= threshold))
    quantized = quantize_ir_with_accuracy_control(model, uint8_batches, samples, lambda p, l, parts: threshold, max_drop=0.5)
    assert any(op.get_type_name() == "FakeQuantize" for op in quantized.get_ops())
    assert quantized.outputs[0].get_any_name() == "defect_prob"


def test_quantized_layers_counts_int8_weighted_layers(small_onnx, uint8_batches):
    from calibration.openvino import quantized_layers

    assert quantized_layers(ov.convert_model(str(small_onnx))) == 0  # FP32: what a fully reverted model looks like
    assert quantized_layers(quantize_ir(ov.convert_model(str(small_onnx)), uint8_batches)) >= 2  # the body convs
