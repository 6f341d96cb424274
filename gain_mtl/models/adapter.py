"""Feature adapter (design 2.5): Conv1x1 -> BN -> ReLU between the attention-weighted features and
the attended classification head, absorbing the shift in feature statistics that multiplying by an
attention map causes."""

from __future__ import annotations

from gain_mtl.models.layers import ConvBnReLU


class FeatureAdapter(ConvBnReLU):
    def __init__(self, channels: int) -> None:
        super().__init__(channels, channels, kernel_size=1)
