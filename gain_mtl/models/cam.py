"""Weight-based class activation map (design section 2.4).

The design writes ``W = classifier.weight[class=1]`` (1280 values) and
``CAM(x, y) = sum_c W_c F_c(x, y)``. The classification head has a hidden layer
(Linear C -> 512 -> ReLU -> Dropout -> Linear 512 -> 2), so its last weight row has 512 values,
not C. We take W as the head's linear path for class 1, ``W = classifier.weight[1] @ fc.weight``
(C values), i.e. the weight the defect logit would give each feature channel without the ReLU:
with that W the formula is kept exactly, and for a head without a hidden layer it reduces to the
design's literal ``classifier.weight[1]``. Biases do not enter (the design's formula has none).
"""

from __future__ import annotations

import torch

from gain_mtl.models.heads import ClassificationHead

DEFECT_CLASS = 1


def cam_weight(head: ClassificationHead, target_class: int = DEFECT_CLASS) -> torch.Tensor:
    """The (C,) channel weights of ``target_class`` through the head's linear path."""
    return head.classifier.weight[target_class] @ head.fc.weight


def weight_cam(features: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """``CAM(x, y) = sum_c W_c F_c(x, y)``: features (N, C, h, w), weight (C,) -> (N, 1, h, w)."""
    return torch.einsum("nchw,c->nhw", features, weight).unsqueeze(1)
