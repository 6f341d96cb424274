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

# Which rule made the maps' targets; checkpoints record it, and a run is never resumed under
# another. 1: area averaging at every scale; 2: ``cell_mask`` at stride 32.
MASK_RULE = 2


def resize_mask(mask: torch.Tensor, size: tuple[int, int] | torch.Size) -> torch.Tensor:
    """``mask`` (N, 1, H, W) in [0, 1] resized to ``size`` (h, w) by area (shrinking) or nearest
    (enlarging); float32 result."""
    mask = mask.float()
    h, w = int(size[0]), int(size[1])
    if mask.shape[-2:] == (h, w):
        return mask
    if h <= mask.shape[-2] and w <= mask.shape[-1]:
        return F.interpolate(mask, size=(h, w), mode="area")
    return F.interpolate(mask, size=(h, w), mode="nearest")


def cell_mask(mask: torch.Tensor, size: tuple[int, int] | torch.Size) -> torch.Tensor:
    """``mask`` (N, 1, H, W) in [0, 1] at a coarse map's ``size`` (h, w): each cell the largest
    value it covers. A dimension that grows is first enlarged by nearest sampling, so a size that
    shrinks one way and grows the other still keeps every defect; float32 result."""
    mask = mask.float()
    h, w = int(size[0]), int(size[1])
    big = (max(h, mask.shape[-2]), max(w, mask.shape[-1]))
    if big != tuple(mask.shape[-2:]):
        mask = F.interpolate(mask, size=big, mode="nearest")
    if big == (h, w):
        return mask
    return F.adaptive_max_pool2d(mask, (h, w))
