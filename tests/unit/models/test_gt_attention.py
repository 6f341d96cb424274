"""S6 fusion formulas (design section 5), sample by sample."""

from __future__ import annotations

import torch

from gain_mtl.models.gt_attention import external_mask_attention, s6_training_attention


def _maps():
    internal = torch.tensor([[0.2, 0.4], [0.6, 0.8]]).expand(3, 1, 2, 2).clone()
    mask = torch.tensor([[0.0, 1.0], [1.0, 0.0]]).expand(3, 1, 2, 2).clone()
    return internal, mask


def test_training_fusion_per_sample():
    internal, mask = _maps()
    # sample 0 normal, 1 defect with mask, 2 defect without mask
    selected = torch.tensor([False, True, False])
    alpha = 0.3
    out = s6_training_attention(internal, mask, selected, alpha)
    fused = torch.tensor([[0.0, 0.4], [0.6, 0.0]]) / 0.6  # GT * internal, / its max
    expected_masked = alpha * mask[1, 0] + (1 - alpha) * fused
    torch.testing.assert_close(out[1, 0], expected_masked)
    torch.testing.assert_close(out[0], internal[0])
    torch.testing.assert_close(out[2], internal[2])


def test_training_fusion_resizes_the_mask_and_alpha_one_is_the_mask():
    internal = torch.full((1, 1, 2, 2), 0.5)
    mask = torch.zeros(1, 1, 8, 8)
    mask[..., :4, :4] = 1  # top-left quarter -> top-left cell
    out = s6_training_attention(internal, mask, torch.tensor([True]), alpha=1.0)
    torch.testing.assert_close(out, torch.tensor([[[[1.0, 0.0], [0.0, 0.0]]]]))


def test_inference_fusion_with_an_external_mask():
    internal, mask = _maps()
    out = external_mask_attention(internal[:1], mask[:1])
    torch.testing.assert_close(out[0, 0], torch.tensor([[0.0, 0.4], [0.6, 0.0]]) / 0.6)
    empty = external_mask_attention(internal[:1], torch.zeros(1, 1, 2, 2))
    assert torch.equal(empty, torch.zeros(1, 1, 2, 2))  # no NaN from 0 / 0
