"""Backbone stages, sizes read from timm, freezing and name errors."""

from __future__ import annotations

import pytest
import torch

from gain_mtl.models.backbone import Backbone
from gain_mtl.models.errors import ModelError, UnknownBackboneError


def test_efficientnetv2_s_blocks_3_to_6_are_timm_blocks_2_to_5():
    backbone = Backbone("efficientnetv2_s")
    assert [s.module for s in backbone.pyramid_info] == ["blocks.2", "blocks.3", "blocks.4", "blocks.5"]
    assert [s.num_chs for s in backbone.pyramid_info] == [64, 128, 160, 256]
    assert [s.reduction for s in backbone.pyramid_info] == [8, 16, 16, 32]
    assert backbone.head_info.num_chs == 1280


def test_pyramid_outputs_match_their_info():
    backbone = Backbone("test_efficientnet").eval()
    with torch.no_grad():
        pyramid, head = backbone(torch.randn(1, 3, 64, 64))
    for info, feature in zip(backbone.pyramid_info, pyramid, strict=True):
        assert feature.shape[1:] == (info.num_chs, 64 // info.reduction, 64 // info.reduction)
    assert head.shape[1] == backbone.head_info.num_chs


def test_freeze_stages_freezes_stem_and_first_stages_with_bn_in_eval():
    backbone = Backbone("test_efficientnet", freeze_stages=2).train()
    m = backbone.model
    frozen = [m.conv_stem, m.bn1, m.blocks[0], m.blocks[1]]
    assert all(not p.requires_grad for mod in frozen for p in mod.parameters())
    assert all(p.requires_grad for p in m.blocks[2].parameters())
    assert not m.bn1.training and not m.blocks[1][0].bn1.training
    assert m.blocks[2][0].bn1.training
    with pytest.raises(ModelError, match="freeze_stages"):
        Backbone("test_efficientnet", freeze_stages=99)


def test_unknown_name_lists_close_names():
    with pytest.raises(KeyError) as info:
        Backbone("efficientnetv2_ss")
    assert isinstance(info.value, UnknownBackboneError) and isinstance(info.value, ValueError)
    assert "efficientnetv2_s" in str(info.value)


def test_a_model_without_conv_head_is_refused():
    with pytest.raises(ModelError, match="conv_head"):
        Backbone("resnet10t")


def _last_frozen_output(backbone: Backbone, images: torch.Tensor) -> tuple[torch.Tensor, list, torch.Tensor]:
    """Run the backbone, returning the last frozen stage's output as the forward saw it."""
    seen: list[torch.Tensor] = []
    hook = backbone.model.blocks[backbone.freeze_stages - 1].register_forward_hook(
        lambda _m, _i, out: seen.append(out))
    try:
        pyramid, head = backbone(images)
    finally:
        hook.remove()
    return seen[0], pyramid, head


def test_frozen_stages_keep_no_graph_and_the_rest_still_learns():
    torch.manual_seed(0)
    backbone = Backbone("test_efficientnet", freeze_stages=3).train()
    assert 2 in backbone.pyramid_indices  # a frozen stage feeds the pyramid: its output is used too
    frozen_out, pyramid, head = _last_frozen_output(backbone, torch.randn(2, 3, 64, 64))
    assert frozen_out.grad_fn is None and not frozen_out.requires_grad  # nothing kept for backward
    assert pyramid[0].grad_fn is None and pyramid[-1].grad_fn is not None
    (head.mean() + sum(p.mean() for p in pyramid)).backward()
    m = backbone.model
    assert all(p.grad is None for mod in backbone.frozen_modules() for p in mod.parameters())
    trainable = [p for mod in (m.blocks[3], m.conv_head, m.bn2) for p in mod.parameters()]
    assert trainable and all(p.grad is not None and p.grad.abs().sum() > 0 for p in trainable)


def test_frozen_stages_give_the_same_outputs_as_with_a_graph():
    torch.manual_seed(0)
    backbone = Backbone("test_efficientnet", freeze_stages=2).train()
    images = torch.randn(2, 3, 64, 64)
    pyramid, head = backbone(images)
    full_pyramid, full_head = backbone(images.clone().requires_grad_())  # input gradient: full graph
    assert torch.allclose(head, full_head) and all(map(torch.allclose, pyramid, full_pyramid))
    frozen_out, _, _ = _last_frozen_output(backbone, images.clone().requires_grad_())
    assert frozen_out.grad_fn is not None  # saliency on the input still works
