"""FP32 artifacts of the bundle against the PyTorch inference graph on random frames."""

from __future__ import annotations

import numpy as np
import pytest
import torch

pytestmark = pytest.mark.slow

TOLERANCE = {"defect_prob": 1e-4, "attention_map": 1e-3, "localization_map": 1e-3}


def test_torch_onnxruntime_openvino_agree(int8_bundle, export_run):
    import onnxruntime as ort
    import openvino as ov

    from edge.bundle import load_bundle
    from gain_mtl.export.graph import OUTPUT_NAMES, InferenceGraph
    from gain_mtl.train.checkpoint import load_model

    model, _, meta = load_model(export_run / "checkpoints" / "best.pt")
    graph = InferenceGraph(model, meta["strategy"])
    size = load_bundle(int8_bundle).spec.input.height
    frames = np.random.default_rng(0).integers(0, 256, (4, size, size, 3), dtype=np.uint8)
    with torch.no_grad():
        reference = dict(zip(OUTPUT_NAMES, (t.numpy() for t in graph(torch.from_numpy(frames)))))
    session = ort.InferenceSession(str(int8_bundle / "model.onnx"), providers=["CPUExecutionProvider"])
    onnx_out = dict(zip([o.name for o in session.get_outputs()], session.run(None, {"image": frames})))
    # FP32 means FP32: OpenVINO would otherwise pick bf16 on CPUs that have it.
    compiled = ov.Core().compile_model(str(int8_bundle / "openvino" / "model.xml"), "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    ov_out = {port.get_any_name(): value for port, value in compiled(frames).items()}
    for name, tol in TOLERANCE.items():
        assert np.max(np.abs(onnx_out[name] - reference[name])) < tol, f"onnxruntime {name}"
        assert np.max(np.abs(ov_out[name] - reference[name])) < tol, f"openvino {name}"
