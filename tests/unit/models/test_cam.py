"""The weight-based CAM equals the design's formula, computed here by hand."""

from __future__ import annotations

import torch

from gain_mtl.models.cam import cam_weight, weight_cam
from gain_mtl.models.heads import ClassificationHead


def test_cam_matches_the_formula_by_hand():
    torch.manual_seed(0)
    head = ClassificationHead(in_chs=3, hidden=4)
    features = torch.randn(2, 3, 2, 2)
    w = head.classifier.weight[1] @ head.fc.weight  # (3,) the head's linear path for class 1
    expected = torch.zeros(2, 1, 2, 2)
    for n in range(2):
        for y in range(2):
            for x in range(2):
                expected[n, 0, y, x] = sum(w[c] * features[n, c, y, x] for c in range(3))
    torch.testing.assert_close(weight_cam(features, cam_weight(head)), expected)


def test_network_cam_uses_the_classification_head(build_model):
    model = build_model().eval()
    images = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        _, features = model.backbone(images)
        out = model(images)
        expected = torch.einsum("nchw,c->nhw", features, cam_weight(model.cls_head)).unsqueeze(1)
    torch.testing.assert_close(out["cam"], expected)
