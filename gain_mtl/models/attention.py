"""GAIN attention (design 2.2) and the attention mining head S_am (design 2.3).

- CBAM is timm's ``CbamModule``: channel attention (avg + max pooled MLP) then spatial attention
  (7x7 conv over channel mean and max), the order the design names.
- The attention conv net's logits are divided by a learnable temperature. It is positive by
  construction: ``T = softplus(raw) + MIN_TEMPERATURE``, starting at T = 1, so no gradient step can
  flip the sign or divide by zero.
- ``combine_attention_logits`` is the design's ``(attention_logits + mined_attention_logits) / 2``.
  Choice: the network's ``attention_map`` is the sigmoid of this combined logit (the design calls
  it the "final attention"), and it is what weights the features for the attended head; so the
  mining head is trained through the attended classification loss and through L_guide.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from timm.layers.cbam import CbamModule
from torch import nn

from gain_mtl.models.layers import ConvHead

MIN_TEMPERATURE = 1e-3


class LearnableTemperature(nn.Module):
    """A positive scalar T = softplus(raw) + MIN_TEMPERATURE, initialised to ``initial``."""

    def __init__(self, initial: float = 1.0) -> None:
        super().__init__()
        if initial <= MIN_TEMPERATURE:
            raise ValueError(f"initial temperature must exceed {MIN_TEMPERATURE}, got {initial}")
        target = initial - MIN_TEMPERATURE
        self.raw = nn.Parameter(torch.tensor(math.log(math.expm1(target))))

    def forward(self) -> torch.Tensor:
        return F.softplus(self.raw) + MIN_TEMPERATURE


class GainAttention(nn.Module):
    """features (N, C, h, w) -> CBAM -> conv net -> / temperature -> attention logits (N, 1, h, w)."""

    def __init__(self, channels: int, hidden: int) -> None:
        super().__init__()
        self.cbam = CbamModule(channels)
        self.conv = ConvHead(channels, hidden, 1)
        self.temperature = LearnableTemperature()

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.conv(self.cbam(features)) / self.temperature()


class AttentionMiningHead(ConvHead):
    """S_am: features -> Conv3x3-BN-ReLU x2 -> Conv1x1 -> mined attention logits (N, 1, h, w)."""

    def __init__(self, channels: int, hidden: int) -> None:
        super().__init__(channels, hidden, 1)


def combine_attention_logits(attention_logits: torch.Tensor, mined_logits: torch.Tensor) -> torch.Tensor:
    """The design's final attention logits: the mean of the two streams."""
    return (attention_logits + mined_logits) / 2
