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
