"""Joint image + mask augmentation (design section 7) with torchvision.transforms.v2.

A transform takes and returns ``{"image": tv_tensors.Image uint8 (3,S,S), "mask": tv_tensors.Mask
uint8 (1,S,S)}``. Geometric steps (flips, 90-degree rotations) move image and mask together;
photometric steps (colour jitter, Gaussian noise) and normalisation touch the image only. Every
transform ends with float conversion and ImageNet normalisation, so the dataset's output is what
the network takes.
"""

from __future__ import annotations

from typing import Any

import torch
from torchvision import tv_tensors
from torchvision.transforms import v2

from gain_mtl.config import AugmentConfig

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# Strengths (the design gives only probabilities): mild, so low-contrast defects survive them.
JITTER = {"brightness": 0.2, "contrast": 0.2, "saturation": 0.2, "hue": 0.02}
NOISE_SIGMA = 0.03  # on [0, 1] pixels


class RandomRot90(v2.Transform):
    """With probability ``p``, rotate by 90, 180 or 270 degrees (chosen uniformly).

    torch.rot90 is an exact pixel permutation, unlike an interpolated rotation, so masks stay
    binary and aligned.
    """

    def __init__(self, p: float = 0.5) -> None:
        super().__init__()
        self.p = p

    def make_params(self, flat_inputs: list[Any]) -> dict[str, Any]:
        if torch.rand(()) >= self.p:
            return {"k": 0}
        return {"k": int(torch.randint(1, 4, ()))}

    def transform(self, inpt: Any, params: dict[str, Any]) -> Any:
        if params["k"] == 0:
            return inpt
        return tv_tensors.wrap(torch.rot90(inpt, params["k"], dims=(-2, -1)), like=inpt)


def _to_normalised_float() -> list[v2.Transform]:
    return [
        v2.ToDtype({tv_tensors.Image: torch.float32, "others": None}, scale=True),
        v2.Normalize(mean=IMAGENET_MEAN, std=IMAGENET_STD),
    ]


def build_train_transform(aug: AugmentConfig | None = None) -> v2.Compose:
    """The design's augmentation: hflip, vflip, rot90, colour jitter, Gaussian noise (config's p)."""
    aug = aug or AugmentConfig()
    to_float, normalise = _to_normalised_float()
    return v2.Compose([
        v2.RandomHorizontalFlip(p=aug.hflip),
        v2.RandomVerticalFlip(p=aug.vflip),
        RandomRot90(p=aug.rot90),
        v2.RandomApply([v2.ColorJitter(**JITTER)], p=aug.color_jitter),
        to_float,
        v2.RandomApply([v2.GaussianNoise(sigma=NOISE_SIGMA, clip=True)], p=aug.gaussian_noise),
        normalise,
    ])


def build_eval_transform() -> v2.Compose:
    """No augmentation: float conversion and ImageNet normalisation only."""
    return v2.Compose(_to_normalised_float())
