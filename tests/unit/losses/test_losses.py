"""Each loss against values computed by hand on tiny tensors."""

from __future__ import annotations

import math

import torch

from gain_mtl.losses.consistency import consistency_loss
from gain_mtl.losses.counterfactual import counterfactual_loss
from gain_mtl.losses.dice_bce import bce_loss, dice_bce_loss, dice_loss
from gain_mtl.losses.entropy import entropy_loss
from gain_mtl.losses.focal import focal_loss
from gain_mtl.losses.iou import iou_loss
from gain_mtl.losses.subset import subset_mean


def test_focal_by_hand():
    logits = torch.tensor([[0.0, 0.0], [math.log(3.0), 0.0]])  # p = (0.5, 0.5), (0.75, 0.25)
    labels = torch.tensor([1, 1])
    alpha, gamma = 0.25, 2.0
    expected = torch.tensor([
        -alpha * 0.5**2 * math.log(0.5),
        -alpha * 0.75**2 * math.log(0.25),
    ])
    torch.testing.assert_close(focal_loss(logits, labels, alpha, gamma), expected)
    normal = focal_loss(logits[1:], torch.tensor([0]), alpha, gamma)
    torch.testing.assert_close(normal, torch.tensor([-(1 - alpha) * 0.25**2 * math.log(0.75)]))
    gamma0 = focal_loss(logits, labels, 0.5, 0.0)  # gamma 0, alpha 0.5: half the cross-entropy
    ce = torch.nn.functional.cross_entropy(logits, labels, reduction="none")
    torch.testing.assert_close(gamma0, 0.5 * ce)


def test_dice_iou_bce_by_hand():
    prob = torch.tensor([[[[0.5, 1.0], [0.0, 0.5]]]])
    target = torch.tensor([[[[1.0, 1.0], [0.0, 0.0]]]])
    inter, p_sum, t_sum = 1.5, 2.0, 2.0
    torch.testing.assert_close(dice_loss(prob, target), torch.tensor([1 - 2 * inter / (p_sum + t_sum)]))
    torch.testing.assert_close(iou_loss(prob, target), torch.tensor([1 - inter / (p_sum + t_sum - inter)]))
    logits = torch.tensor([[[[0.0, 2.0], [-2.0, 0.0]]]])
    sp = lambda z: math.log1p(math.exp(z))  # noqa: E731  BCE(z, 1) = softplus(-z), BCE(z, 0) = softplus(z)
    expected_bce = (sp(-0.0) + sp(-2.0) + sp(-2.0) + sp(0.0)) / 4
    torch.testing.assert_close(bce_loss(logits, target), torch.tensor([expected_bce]))
    sig = torch.sigmoid(logits)
    torch.testing.assert_close(dice_bce_loss(logits, target), bce_loss(logits, target) + dice_loss(sig, target))


def test_entropy_is_zero_at_half_and_one_when_certain():
    torch.testing.assert_close(entropy_loss(torch.zeros(1, 1, 2, 2)), torch.tensor([0.0]))
    certain = entropy_loss(torch.full((1, 1, 2, 2), 50.0))
    assert certain.item() > 0.999 and torch.isfinite(certain).all()
    p = 0.25
    h = -(p * math.log(p) + (1 - p) * math.log(1 - p))
    torch.testing.assert_close(entropy_loss(torch.full((1, 1, 1, 1), math.log(p / (1 - p)))),
                               torch.tensor([1 - h / math.log(2)]))


def test_counterfactual_is_cross_entropy_to_normal():
    logits = torch.tensor([[math.log(3.0), 0.0]])  # p(normal) = 0.75
    torch.testing.assert_close(counterfactual_loss(logits), torch.tensor([-math.log(0.75)]))


def test_consistency_compares_each_cell_with_its_most_defective_pixel():
    loc_logits = torch.tensor([[[[0.0, 0.0], [100.0, -100.0]]]])  # probs 0.5, 0.5, 1, 0 -> max 1
    torch.testing.assert_close(consistency_loss(torch.ones(1, 1, 1, 1), loc_logits), torch.tensor([0.0]))
    torch.testing.assert_close(consistency_loss(torch.full((1, 1, 1, 1), 0.5), loc_logits), torch.tensor([0.25]))


def test_subset_mean_of_nothing_is_zero():
    values = torch.tensor([1.0, 3.0], requires_grad=True)
    assert subset_mean(values, torch.tensor([False, True])).item() == 3.0
    empty = subset_mean(values, torch.tensor([False, False]))
    assert empty.item() == 0.0
    empty.backward()
    assert torch.equal(values.grad, torch.zeros(2))
