"""Bring a binary mask to the resolution of a predicted map.

Two rules, by what the map is for:
- :func:`resize_mask` for the localization map (H/2, a segmentation scored by IoU against the
  mask): area averaging when shrinking, so a boundary cell gets its coverage; nearest when
  enlarging, which keeps the mask binary.
- :func:`cell_mask` for the stride-32 maps (attention, CAM, the counterfactual's suppression, S6's
  GT attention), which say *which cells* hold a defect: a cell is defective when any pixel it
  covers is (max pooling). Area averaging there made most small defects vanish: at 224 px, 71 % of
  Magnetic Tile's blowholes and 72 % of its cracks cover under a tenth of their busiest 32x32
  cell, so attention was trained towards 0 on the very cell that holds the defect, and the
  attended head saw it suppressed.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def _shrinks(mask: torch.Tensor, h: int, w: int) -> bool:
    return h <= mask.shape[-2] and w <= mask.shape[-1]


def resize_mask(mask: torch.Tensor, size: tuple[int, int] | torch.Size) -> torch.Tensor:
    """``mask`` (N, 1, H, W) in [0, 1] resized to ``size`` (h, w) by area (shrinking) or nearest
    (enlarging); float32 result."""
    mask = mask.float()
    h, w = int(size[0]), int(size[1])
    if mask.shape[-2:] == (h, w):
        return mask
    if _shrinks(mask, h, w):
        return F.interpolate(mask, size=(h, w), mode="area")
    return F.interpolate(mask, size=(h, w), mode="nearest")


def cell_mask(mask: torch.Tensor, size: tuple[int, int] | torch.Size) -> torch.Tensor:
    """``mask`` (N, 1, H, W) in [0, 1] at a coarse map's ``size`` (h, w): each cell the largest
    value it covers (enlarging: nearest, as :func:`resize_mask`); float32 result."""
    mask = mask.float()
    h, w = int(size[0]), int(size[1])
    if mask.shape[-2:] == (h, w) or not _shrinks(mask, h, w):
        return resize_mask(mask, (h, w))
    return F.adaptive_max_pool2d(mask, (h, w))
