"""The one building block the design repeats: Conv -> BatchNorm -> ReLU."""

from __future__ import annotations

from torch import nn


class ConvBnReLU(nn.Sequential):
    """Conv(k x k, 'same' padding, no bias: BN has one) -> BN -> ReLU."""

    def __init__(self, in_chs: int, out_chs: int, kernel_size: int = 3) -> None:
        super().__init__(
            nn.Conv2d(in_chs, out_chs, kernel_size, padding=kernel_size // 2, bias=False),
            nn.BatchNorm2d(out_chs),
            nn.ReLU(inplace=True),
        )


class ConvHead(nn.Sequential):
    """Conv3x3-BN-ReLU, Conv3x3-BN-ReLU, Conv1x1: the design's shape for every dense head
    (attention conv net, attention mining head, localization head, counterfactual mask net)."""

    def __init__(self, in_chs: int, hidden: int, out_chs: int) -> None:
        super().__init__(
            ConvBnReLU(in_chs, hidden),
            ConvBnReLU(hidden, hidden),
            nn.Conv2d(hidden, out_chs, 1),
        )
