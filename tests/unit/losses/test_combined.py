"""GainMTLLoss: subsets, resizing, zero for empty subsets, the weighted total."""

from __future__ import annotations

import math

import pytest
import torch

from gain_mtl.config import LossConfig
from gain_mtl.losses import GainMTLLoss
from gain_mtl.losses.dice_bce import dice_bce_loss
from gain_mtl.losses.entropy import entropy_loss
from gain_mtl.losses.focal import focal_loss
from gain_mtl.schedule import LOSS_NAMES


def _outputs(n: int, seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    attention = torch.randn(n, 1, 2, 2, generator=g)
    mined = torch.randn(n, 1, 2, 2, generator=g)
    return {
        "cls_logits": torch.randn(n, 2, generator=g),
        "attended_cls_logits": torch.randn(n, 2, generator=g),
        "cam": torch.randn(n, 1, 2, 2, generator=g),
        "attention_logits": attention,
        "mined_attention_logits": mined,
        "attention_map": torch.sigmoid((attention + mined) / 2),
        "localization_logits": torch.randn(n, 1, 8, 8, generator=g),
        "cf_logits": torch.randn(n, 2, generator=g),
    }


def _batch(labels, has_mask) -> dict[str, torch.Tensor]:
    n = len(labels)
    mask = torch.zeros(n, 1, 16, 16)
    for i, (label, has) in enumerate(zip(labels, has_mask)):
        if label == 1 and has:
            mask[i, :, :8, :8] = 1
    return {"label": torch.tensor(labels), "mask": mask, "has_mask": torch.tensor(has_mask)}


ALL_ONE = {name: 1.0 for name in LOSS_NAMES}


def test_empty_subsets_give_zero_not_nan():
    loss = GainMTLLoss(LossConfig())
    normals_only = _batch([0, 0], [False, False])
    total, parts = loss(_outputs(2), normals_only, ALL_ONE)
    assert torch.isfinite(total)
    for name in ("cam_guide", "cf", "consist"):
        assert parts[f"loss_{name}"] == 0.0, name
    # the localization head learns that a good part has nothing to mark: BCE to an empty map
    empty = torch.zeros(2, 1, 8, 8)
    expected = torch.nn.functional.binary_cross_entropy_with_logits(_outputs(2)["localization_logits"], empty)
    assert parts["loss_loc"] == pytest.approx(expected.item(), rel=1e-6)
    maskless_defects = _batch([1, 1], [False, False])
    total, parts = loss(_outputs(2), maskless_defects, ALL_ONE)
    assert parts["loss_guide"] == 0.0 and parts["loss_cam_guide"] == 0.0 and math.isfinite(parts["loss_total"])


def test_each_loss_uses_its_subset_and_resized_masks():
    out = _outputs(3)
    batch = _batch([0, 1, 1], [False, True, False])  # normal, masked defect, maskless defect
    _, parts = GainMTLLoss(LossConfig(focal_alpha=0.25, focal_gamma=2.0))(out, batch, ALL_ONE)
    labels = batch["label"]
    assert parts["loss_cls"] == pytest.approx(focal_loss(out["cls_logits"], labels).mean().item(), rel=1e-6)
    # the masked defect only: the 16x16 mask's top-left quarter is one cell of the 2x2 CAM
    cam_target = torch.tensor([[[[1.0, 0.0], [0.0, 0.0]]]])
    cam = out["cam"][1:2]
    expected_cam = dice_bce_loss(cam - cam.mean(), cam_target).item()
    assert parts["loss_cam_guide"] == pytest.approx(expected_cam, rel=1e-6)
    loc_target = torch.zeros(1, 1, 8, 8)
    loc_target[..., :4, :4] = 1
    expected_loc = (dice_bce_loss(out["localization_logits"][1:2], loc_target).item()
                    + torch.nn.functional.binary_cross_entropy_with_logits(
                        out["localization_logits"][0:1], torch.zeros(1, 1, 8, 8)).item())
    assert parts["loss_loc"] == pytest.approx(expected_loc, rel=1e-6)
    cf = -torch.log_softmax(out["cf_logits"][1], 0)[0].item()
    assert parts["loss_cf"] == pytest.approx(cf, rel=1e-6)
    # guide: the masked defect's alignment plus the normal's entropy term
    combined = (out["attention_logits"] + out["mined_attention_logits"]) / 2
    attn = out["attention_map"][1:2]
    bce = torch.nn.functional.binary_cross_entropy_with_logits(combined[1:2], cam_target).item()
    inter = (attn * cam_target).sum().item()
    dice = 1 - 2 * inter / (attn.sum().item() + 1)
    iou = 1 - inter / (attn.sum().item() + 1 - inter)
    expected_guide = bce + dice + iou + entropy_loss(combined[0:1]).item()
    assert parts["loss_guide"] == pytest.approx(expected_guide, rel=1e-5)


def test_cam_guidance_leaves_the_cams_level_to_the_verdict():
    """The CAM's mean is the defect logit's linear path: the guidance must not pull on it."""
    out = {k: v.requires_grad_() for k, v in _outputs(3).items()}
    batch = _batch([0, 1, 1], [False, True, True])
    loss = GainMTLLoss(LossConfig())
    _, parts = loss(out, batch, ALL_ONE)
    lifted = {**out, "cam": out["cam"] + torch.tensor([5.0, -3.0, 7.0]).view(3, 1, 1, 1)}
    assert loss(lifted, batch, ALL_ONE)[1]["loss_cam_guide"] == pytest.approx(parts["loss_cam_guide"], rel=1e-6)
    cam_loss = loss.raw_losses(out, batch)["cam_guide"]
    (grad,) = torch.autograd.grad(cam_loss, out["cam"])
    assert grad[1:].abs().sum() > 0, "the guidance still shapes where the CAM peaks"
    assert grad.sum(dim=(1, 2, 3)).abs().max() < 1e-6, "and pushes no image's CAM up or down as a whole"


def test_total_is_the_weighted_sum_and_zero_weights_add_no_graph():
    out = {k: v.requires_grad_() for k, v in _outputs(2).items()}
    batch = _batch([0, 1], [False, True])
    weights = {"cls": 0.3, "am": 1.0, "cam_guide": 1.0, "loc": 0.1, "guide": 0.5, "cf": 0.0, "consist": 0.2}
    total, parts = GainMTLLoss(LossConfig())(out, batch, weights)
    expected = sum(w * parts[f"loss_{n}"] for n, w in weights.items())
    assert total.item() == pytest.approx(expected, rel=1e-6)
    assert parts["loss_total"] == pytest.approx(expected, rel=1e-6)
    for name, w in weights.items():
        assert parts[f"weighted_{name}"] == pytest.approx(w * parts[f"loss_{name}"], rel=1e-6)
    total.backward()
    assert out["cf_logits"].grad is None and out["cls_logits"].grad is not None


def test_unknown_weight_name_is_refused():
    with pytest.raises(ValueError, match="valid"):
        GainMTLLoss(LossConfig())(_outputs(1), _batch([0], [False]), {"clss": 1.0})
