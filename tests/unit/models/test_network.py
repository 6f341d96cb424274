"""GainMTL's named outputs, their shapes, and which parameters each strategy trains."""

from __future__ import annotations

import pytest
import torch

from gain_mtl.config import LossConfig
from gain_mtl.losses import GainMTLLoss
from gain_mtl.models.network import OUTPUT_NAMES
from gain_mtl.schedule import loss_weights, s6_alpha

INFERENCE_NAMES = set(OUTPUT_NAMES) - {"cf_logits"}


@pytest.mark.parametrize("backbone", ["test_efficientnet", "efficientnet_lite0"])
@pytest.mark.parametrize("size", [64, 96])
def test_output_names_and_shapes(build_model, backbone, size):
    model = build_model(backbone).train()
    images, mask = torch.randn(2, 3, size, size), torch.zeros(2, 1, size, size)
    out = model(images, mask)
    assert set(out) == set(OUTPUT_NAMES)
    h = size // 32
    assert out["cls_logits"].shape == out["attended_cls_logits"].shape == out["cf_logits"].shape == (2, 2)
    for name in ("cam", "attention_logits", "mined_attention_logits", "attention_map"):
        assert out[name].shape == (2, 1, h, h), name
    assert out["localization_logits"].shape == (2, 1, size // 2, size // 2)
    assert 0 <= out["attention_map"].min() and out["attention_map"].max() <= 1


def test_counterfactual_only_in_training_with_a_mask(build_model):
    model = build_model()
    images, mask = torch.randn(2, 3, 64, 64), torch.ones(2, 1, 64, 64)
    assert "cf_logits" not in model.train()(images)
    with torch.no_grad():
        assert set(model.eval()(images, mask)) == INFERENCE_NAMES


def test_attention_map_is_sigmoid_of_combined_logits(build_model):
    with torch.no_grad():
        out = build_model().eval()(torch.randn(2, 3, 64, 64))
    combined = (out["attention_logits"] + out["mined_attention_logits"]) / 2
    torch.testing.assert_close(out["attention_map"], torch.sigmoid(combined))


def _backward(model, batch, strategy, progress):
    model.train().zero_grad(set_to_none=True)
    out = model(batch["image"], batch["mask"], labels=batch["label"], has_mask=batch["has_mask"],
                s6_alpha=s6_alpha(strategy, progress))
    total, components = GainMTLLoss(LossConfig())(out, batch, loss_weights(strategy, progress))
    total.backward()
    return components


@pytest.mark.parametrize("strategy", ["S5", "S6"])
def test_every_parameter_gets_a_gradient_in_stage_4(build_model, batch, strategy):
    model = build_model()
    _backward(model, batch, strategy, 0.9)
    missing = [n for n, p in model.named_parameters()
               if p.requires_grad and (p.grad is None or not p.grad.abs().sum() > 0)]
    assert missing == []


def test_s1_leaves_counterfactual_and_localization_untrained(build_model, batch):
    model = build_model()
    _backward(model, batch, "S1", 0.9)
    for prefix in ("counterfactual.", "fpn.", "loc_head.", "attention.", "mining."):
        grads = [p.grad for n, p in model.named_parameters() if n.startswith(prefix)]
        assert grads and all(g is None for g in grads), prefix
    assert model.cls_head.classifier.weight.grad is not None


def test_s6_needs_masks_and_has_mask(build_model, batch):
    model = build_model().train()
    with pytest.raises(ValueError, match="masks"):
        model(batch["image"], s6_alpha=0.5)
    with pytest.raises(ValueError, match="has_mask"):
        model(batch["image"], batch["mask"], s6_alpha=0.5)
    with pytest.raises(ValueError, match="not both"):
        model(batch["image"], batch["mask"], s6_alpha=0.5, external_mask=batch["mask"])


def test_external_mask_changes_only_the_attended_path(build_model):
    model = build_model().eval()
    images = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        plain = model(images)
        fused = model(images, external_mask=torch.zeros(2, 1, 64, 64))
    for name in INFERENCE_NAMES - {"attended_cls_logits"}:
        torch.testing.assert_close(plain[name], fused[name])
    # an all-zero external mask zeroes the attention, so both images get the same logits
    torch.testing.assert_close(fused["attended_cls_logits"][0], fused["attended_cls_logits"][1])
