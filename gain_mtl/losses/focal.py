"""Focal loss for the two-class logits (L_cls and L_am).

``FL = -alpha_t (1 - p_t)^gamma log p_t`` with p_t the softmax probability of the true class and,
as in RetinaNet and torchvision's ``sigmoid_focal_loss``, ``alpha_t = alpha`` for the defective
class (1) and ``1 - alpha`` for the normal class (0). Per sample; the caller averages.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def focal_loss(logits: torch.Tensor, labels: torch.Tensor, alpha: float = 0.25,
               gamma: float = 2.0) -> torch.Tensor:
    """logits (N, 2), labels (N,) int -> (N,) losses."""
    log_pt = F.log_softmax(logits.float(), dim=1).gather(1, labels.long().view(-1, 1)).squeeze(1)
    pt = log_pt.exp()
    alpha_t = torch.where(labels == 1, alpha, 1.0 - alpha).to(log_pt.dtype)
    return -alpha_t * (1.0 - pt).pow(gamma) * log_pt
