"""Soft Dice and BCE on logits, per sample (L_cam_guide, L_loc and part of L_guide).

Dice is ``1 - 2 sum(p y) / (sum p + sum y)`` over each sample's map, the denominator clamped at
``EPS`` so two empty maps give a loss of 1 - 0 = 1 rather than NaN (never reached in practice: the
combined loss only passes samples with a defect mask). BCE is the mean over the sample's pixels.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

EPS = 1e-7


def dice_loss(prob: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """prob, target (N, 1, h, w) in [0, 1] -> (N,)."""
    inter = (prob * target).flatten(1).sum(1)
    total = prob.flatten(1).sum(1) + target.flatten(1).sum(1)
    return 1.0 - 2.0 * inter / total.clamp_min(EPS)


def bce_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """BCE with logits, averaged per sample -> (N,)."""
    return F.binary_cross_entropy_with_logits(logits, target, reduction="none").flatten(1).mean(1)


def dice_bce_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """BCE (on logits) + Dice (on sigmoid) -> (N,)."""
    return bce_loss(logits, target) + dice_loss(torch.sigmoid(logits), target)
