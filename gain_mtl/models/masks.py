"""Bring a binary mask to the resolution of a predicted map.

Shrinking uses area averaging, so a defect smaller than one output cell still shows up as a
fraction of that cell instead of vanishing (nearest sampling would drop it at stride 32).
Enlarging uses nearest, which keeps the mask binary.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def resize_mask(mask: torch.Tensor, size: tuple[int, int] | torch.Size) -> torch.Tensor:
    """``mask`` (N, 1, H, W) in [0, 1] resized to ``size`` (h, w); float32 result."""
    mask = mask.float()
    h, w = int(size[0]), int(size[1])
    if mask.shape[-2:] == (h, w):
        return mask
    if h <= mask.shape[-2] and w <= mask.shape[-1]:
        return F.interpolate(mask, size=(h, w), mode="area")
    return F.interpolate(mask, size=(h, w), mode="nearest")
