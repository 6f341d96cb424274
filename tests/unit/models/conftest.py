"""Small GainMTL builds shared by the model tests (no downloads, tiny widths)."""

from __future__ import annotations

import pytest
import torch

from gain_mtl.config import ModelConfig
from gain_mtl.models.network import GainMTL

TINY = dict(pretrained=False, fpn_channels=16, cls_hidden=32)


def build(backbone: str = "test_efficientnet", **overrides) -> GainMTL:
    torch.manual_seed(0)
    return GainMTL(ModelConfig(backbone=backbone, **{**TINY, **overrides}))


def make_batch(size: int = 64) -> dict[str, torch.Tensor]:
    """Two normals, one defect with a mask, one defect without."""
    torch.manual_seed(1)
    mask = torch.zeros(4, 1, size, size)
    mask[2, :, size // 4 : size // 2, size // 4 : size // 2] = 1
    return {
        "image": torch.randn(4, 3, size, size),
        "mask": mask,
        "label": torch.tensor([0, 0, 1, 1]),
        "has_mask": torch.tensor([False, False, True, False]),
    }


@pytest.fixture
def build_model():
    return build


@pytest.fixture
def batch() -> dict[str, torch.Tensor]:
    return make_batch()
