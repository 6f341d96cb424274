"""A small three-output conv net exported to ONNX, and uint8 batches to calibrate it.

It has the exported graph's shape (uint8 NHWC in; a probability, an attention map and a
localization map out, each ending in a head the INT8 routes keep in float) without needing a
trained GAIN-MTL model.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

SIZE = 32


def _make_net():
    import torch
    from torch import nn

    class ThreeHeads(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.body = nn.Sequential(
                nn.Conv2d(3, 8, 3, stride=2, padding=1), nn.ReLU(),
                nn.Conv2d(8, 16, 3, stride=2, padding=1), nn.ReLU(),
            )
            self.cls = nn.Linear(16, 2)
            self.attn = nn.Conv2d(16, 1, 1)
            self.temperature = nn.Parameter(torch.tensor(2.0))
            self.loc = nn.Conv2d(16, 1, 1)

        def forward(self, image):
            x = image.permute(0, 3, 1, 2).float().flip(1) / 255.0
            f = self.body(x)
            prob = torch.softmax(self.cls(f.mean((2, 3))), dim=1)[:, 1]
            attn = torch.sigmoid(self.attn(f) / self.temperature)
            loc = torch.sigmoid(nn.functional.interpolate(self.loc(f), scale_factor=4.0, mode="bilinear"))
            return prob, attn, loc

    torch.manual_seed(0)
    return ThreeHeads().eval()


@pytest.fixture(scope="session")
def small_onnx(tmp_path_factory) -> Path:
    import torch

    path = tmp_path_factory.mktemp("small") / "model.onnx"
    torch.onnx.export(
        _make_net(), (torch.zeros(2, SIZE, SIZE, 3, dtype=torch.uint8),), str(path),
        input_names=["image"], output_names=["defect_prob", "attention_map", "localization_map"],
        dynamo=False, opset_version=17,
        dynamic_axes={"image": {0: "batch"}, "defect_prob": {0: "batch"},
                      "attention_map": {0: "batch"}, "localization_map": {0: "batch"}},
    )
    return path


@pytest.fixture(scope="session")
def uint8_batches() -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.integers(0, 256, (4, SIZE, SIZE, 3), dtype=np.uint8) for _ in range(4)]
