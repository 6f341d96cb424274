"""Counterfactual module (design 2.7), used in training only.

It asks: with the defect region replaced by learned "normal-looking" features, does a classifier
say normal? Steps, as in the design:
1. mask processing: the defect mask (resized to the feature map) -> Conv3x3-BN-ReLU x2 -> Conv1x1
   -> sigmoid gives a per-channel suppression mask (C channels);
2. learned suppression: ``cf = F * (1 - s) + replacer(F) * s``;
3. residual refinement: ``cf = refiner(cf) + cf``;
4. re-classification: GAP -> Linear -> ReLU -> Linear -> cf_logits (expected class 0).

Choices the design leaves open: the replacer is Conv1x1-BN-ReLU (C -> C) and the refiner a 1x1
bottleneck (C -> C/4 -> C), since 3x3 convs at 1280 channels would add ~15 M parameters each for a
training-only branch; the re-classifier puts a ReLU between its two Linear layers (two stacked
Linear layers without one are a single linear map). The design lists the attention map among the
inputs but no step uses it, so it is not taken.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

from gain_mtl.models.heads import NUM_CLASSES
from gain_mtl.models.layers import ConvBnReLU, ConvHead
from gain_mtl.models.masks import cell_mask


class CounterfactualModule(nn.Module):
    def __init__(self, channels: int, hidden: int = 512, mask_hidden: int = 32) -> None:
        super().__init__()
        self.mask_net = ConvHead(1, mask_hidden, channels)
        self.replacer = ConvBnReLU(channels, channels, kernel_size=1)
        self.refiner = nn.Sequential(
            ConvBnReLU(channels, max(channels // 4, 1), kernel_size=1),
            nn.Conv2d(max(channels // 4, 1), channels, 1),
        )
        self.classifier = nn.Sequential(OrderedDict(
            pool=nn.AdaptiveAvgPool2d(1),
            flatten=nn.Flatten(1),
            fc=nn.Linear(channels, hidden),
            act=nn.ReLU(inplace=True),
            out=nn.Linear(hidden, NUM_CLASSES),
        ))

    def forward(self, features: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        suppression = torch.sigmoid(self.mask_net(cell_mask(mask, features.shape[-2:])))
        cf = features * (1 - suppression) + self.replacer(features) * suppression
        cf = self.refiner(cf) + cf
        return self.classifier(cf)
