"""Feature pyramid over the design's blocks 3-6, fused into one map (design section 2.6).

Lateral 1x1 convs bring every level to ``channels`` (256 by default, ``model.fpn_channels``);
the top-down path adds each coarser level, upsampled, into the next finer one, so the finest
level (stride 8) carries all four; a 3x3 conv smooths that sum. Only the fused finest map is
returned, because the localization head is its only consumer.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from gain_mtl.models.layers import ConvBnReLU


class FPN(nn.Module):
    def __init__(self, in_channels: Sequence[int], channels: int = 256) -> None:
        super().__init__()
        self.lateral = nn.ModuleList(nn.Conv2d(c, channels, 1) for c in in_channels)
        self.smooth = ConvBnReLU(channels, channels, 3)

    def forward(self, features: Sequence[torch.Tensor]) -> torch.Tensor:
        laterals = [conv(f) for conv, f in zip(self.lateral, features)]
        x = laterals[-1]
        for lateral in reversed(laterals[:-1]):
            x = lateral + F.interpolate(x, size=lateral.shape[-2:], mode="nearest")
        return self.smooth(x)
