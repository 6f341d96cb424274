from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import numpy_helper

from calibration.errors import CalibrationError
from calibration.onnx_qdq import quantize_qdq


def _run(path, batch):
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {"image": batch})


@pytest.mark.parametrize("method", ["minmax", "entropy", "percentile"])
def test_qdq_model_is_per_channel_keeps_heads_float_and_stays_close(small_onnx, uint8_batches, tmp_path, method):
    out = tmp_path / "int8.onnx"
    batches = [*uint8_batches, uint8_batches[0][:3]]  # a short last batch, as the calibration set has
    excluded = quantize_qdq(small_onnx, out, batches, method=method)
    model = onnx.load(str(out))
    onnx.checker.check_model(model)
    producer = {o: n for n in model.graph.node for o in n.output}
    inits = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    body_conv = next(n for n in model.graph.node if n.name.startswith("/body/body.2/Conv"))
    weight_dq = producer[body_conv.input[1]]
    assert weight_dq.op_type == "DequantizeLinear"
    assert inits[weight_dq.input[1]].shape == (16,)  # one scale per output channel
    assert np.all(inits[weight_dq.input[2]] == 0)  # symmetric: TensorRT needs zero points of 0
    for name in ("/cls/Gemm", "/attn/Conv", "/loc/Conv"):
        assert name in excluded
        node = next(n for n in model.graph.node if n.name == name)
        assert node.input[1] in inits  # float weights; an input shared with the body may arrive dequantized
    fp32, int8 = _run(small_onnx, uint8_batches[0]), _run(out, uint8_batches[0])
    for a, b in zip(fp32, int8):
        assert a.shape == b.shape
        assert np.max(np.abs(a - b)) < 0.05


def test_unknown_method_lists_choices(small_onnx, uint8_batches, tmp_path):
    with pytest.raises(CalibrationError, match="minmax, entropy, percentile"):
        quantize_qdq(small_onnx, tmp_path / "x.onnx", uint8_batches, method="kl")
