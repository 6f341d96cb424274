"""Small heads (design sections 2.4 and 2.6), each a tiny ``nn.Sequential``.

The classification head and the attended classification head have the same shape (GAP, Linear
C -> hidden, ReLU, Dropout, Linear hidden -> 2); two instances are used. Their last layer is named
``classifier`` because the weight-based CAM reads ``classifier.weight``.
"""

from __future__ import annotations

from collections import OrderedDict

from torch import nn

from gain_mtl.models.layers import ConvHead

NUM_CLASSES = 2  # 0 normal, 1 defective


class ClassificationHead(nn.Sequential):
    def __init__(self, in_chs: int, hidden: int = 512, dropout: float = 0.5) -> None:
        super().__init__(OrderedDict(
            pool=nn.AdaptiveAvgPool2d(1),
            flatten=nn.Flatten(1),
            fc=nn.Linear(in_chs, hidden),
            act=nn.ReLU(inplace=True),
            drop=nn.Dropout(dropout),
            classifier=nn.Linear(hidden, NUM_CLASSES),
        ))


class LocalizationHead(nn.Sequential):
    """FPN map -> Conv3x3-BN-ReLU x2 -> Conv1x1 -> bilinear upsample x4 -> defect logits."""

    def __init__(self, in_chs: int, hidden: int | None = None, upsample: int = 4) -> None:
        super().__init__(
            ConvHead(in_chs, hidden or in_chs, 1),
            nn.Upsample(scale_factor=upsample, mode="bilinear", align_corners=False),
        )
