from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
import torch

from gain_mtl.config import load_config
from gain_mtl.data.transforms import build_eval_transform, input_normalization
from gain_mtl.export.graph import InferenceGraph, graph_cost
from gain_mtl.export.onnx import OnnxExportError, export_onnx
from gain_mtl.models.network import GainMTL

SIZE = 64


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return GainMTL(load_config("tiny").model, load_weights=False).eval()


def _full_model_outputs(model, frames: torch.Tensor, final_key: str):
    """The full model on the same frames, preprocessed by training's own transform (RGB, the
    backbone's mean/std)."""
    from torchvision import tv_tensors

    transform = build_eval_transform(input_normalization(model.cfg))
    rgb = frames[..., [2, 1, 0]].permute(0, 3, 1, 2)
    images = torch.stack([transform({"image": tv_tensors.Image(x)})["image"].as_subclass(torch.Tensor) for x in rgb])
    out = model(images)
    return (torch.softmax(out[final_key], 1)[:, 1], out["attention_map"], torch.sigmoid(out["localization_logits"]))


@pytest.mark.parametrize("strategy,final_key", [("S1", "cls_logits"), ("S5", "attended_cls_logits"), ("S6", "attended_cls_logits")])
def test_pruned_graph_equals_full_model(model, strategy, final_key):
    frames = torch.randint(0, 256, (3, SIZE, SIZE, 3), dtype=torch.uint8, generator=torch.Generator().manual_seed(1))
    graph = InferenceGraph(model, strategy)
    with torch.no_grad():
        pruned, full = graph(frames), _full_model_outputs(model, frames, final_key)
    for name, a, b in zip(("defect_prob", "attention_map", "localization_map"), pruned, full):
        assert a.shape == b.shape, name
        assert torch.max(torch.abs(a - b)) < 1e-5, name
    assert pruned[0].shape == (3,) and pruned[1].shape[:2] == (3, 1) and pruned[2].shape[:2] == (3, 1)


def test_graph_normalises_with_the_backbones_statistics():
    """A tf_ port expects [-1, 1] pixels: the graph must fold in what training used, not ImageNet's."""
    config = load_config("tiny", ["model.backbone=tf_efficientnet_lite0"]).model
    assert input_normalization(config) == ((0.5,) * 3, (0.5,) * 3)
    torch.manual_seed(0)
    lite0 = GainMTL(config, load_weights=False).eval()
    frames = torch.randint(0, 256, (2, SIZE, SIZE, 3), dtype=torch.uint8, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        pruned, full = InferenceGraph(lite0, "S5")(frames), _full_model_outputs(lite0, frames, "attended_cls_logits")
    assert all(torch.max(torch.abs(a - b)) < 1e-5 for a, b in zip(pruned, full))


def test_rgb_camera_order_is_supported(model):
    frames = torch.randint(0, 256, (2, SIZE, SIZE, 3), dtype=torch.uint8)
    with torch.no_grad():
        bgr = InferenceGraph(model, "S5", "BGR")(frames)
        rgb = InferenceGraph(model, "S5", "RGB")(frames.flip(-1))
    assert len(bgr) == len(rgb) == 3  # defect_prob, attention_map, localization_map
    assert all(torch.allclose(a, b) for a, b in zip(bgr, rgb))
    with pytest.raises(ValueError, match="channel order"):
        InferenceGraph(model, "S5", "BGRA")


def test_pruning_removes_counterfactual_and_unused_head(model):
    s5, s1 = InferenceGraph(model, "S5"), InferenceGraph(model, "S1")
    names = {n for n, _ in s5.named_modules()}
    assert not any("counterfactual" in n or "cls_head" in n for n in names)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    cost = graph_cost(model, s5, SIZE)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())  # weights untouched
    assert not model.training
    assert cost.params_pruned < cost.params_full and 0 < cost.flops_pruned < cost.flops_full
    assert graph_cost(model, s1, SIZE).params_pruned < cost.params_pruned  # no attended head / adapter


def test_onnx_has_dynamic_batch_opset_17_and_matches_torch(model, tmp_path):
    graph = InferenceGraph(model, "S5")
    info = export_onnx(graph, tmp_path / "m.onnx", SIZE)
    assert info["opset"] == 17
    session = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    (inp,) = session.get_inputs()
    assert inp.name == "image" and inp.type == "tensor(uint8)" and inp.shape[1:] == [SIZE, SIZE, 3]
    for batch in (1, 5):
        frames = np.random.default_rng(batch).integers(0, 256, (batch, SIZE, SIZE, 3), dtype=np.uint8)
        with torch.no_grad():
            expected = graph(torch.from_numpy(frames))
        for got, want in zip(session.run(None, {"image": frames}), expected):
            assert got.shape == tuple(want.shape)
            assert np.max(np.abs(got - want.numpy())) < 1e-4


def test_old_opset_is_refused(model, tmp_path):
    with pytest.raises(OnnxExportError, match="opset 13"):
        export_onnx(InferenceGraph(model, "S5"), tmp_path / "m.onnx", SIZE, opset=13)
