"""Entropy maximisation for normal images' attention (the normal half of L_guide).

A normal image has nothing to point at, so its attention should not commit anywhere: each pixel's
binary entropy ``H(p) = -p log p - (1 - p) log(1 - p)`` is pushed to its maximum, log 2 at
p = 0.5. The loss is normalised to [0, 1]: ``1 - mean(H) / log 2`` (0 at maximum entropy), so it
adds to the defect terms on the same scale. H is computed from logits, stable at any value:
``H = softplus(z) - z sigmoid(z)``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def binary_entropy_from_logits(logits: torch.Tensor) -> torch.Tensor:
    return F.softplus(logits) - logits * torch.sigmoid(logits)


def entropy_loss(logits: torch.Tensor) -> torch.Tensor:
    """logits (N, 1, h, w) -> (N,) in [0, 1]; 0 when every pixel is at p = 0.5."""
    return 1.0 - binary_entropy_from_logits(logits.float()).flatten(1).mean(1) / math.log(2.0)
