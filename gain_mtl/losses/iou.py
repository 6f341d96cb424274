"""Soft IoU (Jaccard) loss per sample: ``1 - sum(p y) / (sum p + sum y - sum(p y))``."""

from __future__ import annotations

import torch

EPS = 1e-7


def iou_loss(prob: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """prob, target (N, 1, h, w) in [0, 1] -> (N,)."""
    inter = (prob * target).flatten(1).sum(1)
    union = prob.flatten(1).sum(1) + target.flatten(1).sum(1) - inter
    return 1.0 - inter / union.clamp_min(EPS)
