"""Joint image + mask augmentation (design section 7) with torchvision.transforms.v2.

A transform takes and returns ``{"image": tv_tensors.Image uint8 (3,S,S), "mask": tv_tensors.Mask
uint8 (1,S,S)}``. Geometric steps (flips, 90-degree rotations) move image and mask together;
photometric steps (colour jitter, Gaussian noise) and normalisation touch the image only. Every
transform ends with float conversion and ImageNet normalisation, so the dataset's output is what
the network takes.

The normalisation is the one the backbone's pretrained weights were trained with
(:func:`input_normalization`): timm's TensorFlow ports (``tf_efficientnet_lite0``,
``tf_efficientnetv2_s``) expect pixels scaled to [-1, 1] (mean = std = 0.5), not ImageNet's
statistics. Fed ImageNet-normalised pixels (about twice the range), their frozen stem's BatchNorm
and ReLU6 clip work on inputs they never saw, and the pretrained features degrade.
"""

from __future__ import annotations

from typing import Any

import torch
from torchvision import tv_tensors
from torchvision.transforms import v2

from gain_mtl.config import AugmentConfig, ModelConfig

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
IMAGENET = (IMAGENET_MEAN, IMAGENET_STD)
# model.normalization: "backbone" (what timm says the backbone's weights expect) or "imagenet".
NORMALIZATIONS = ("backbone", "imagenet")
Normalization = tuple[tuple[float, ...], tuple[float, ...]]
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


def input_normalization(model: ModelConfig) -> Normalization:
    """(mean, std) on [0, 1] RGB pixels for ``model``: timm's pretrained config of the backbone for
    ``normalization: backbone`` (ImageNet's statistics when timm has none), ImageNet's for
    ``imagenet``. Training, evaluation and the exported graph all ask here."""
    if model.normalization not in NORMALIZATIONS:
        raise ValueError(f"model.normalization {model.normalization!r} is not one of: {', '.join(NORMALIZATIONS)}")
    if model.normalization == "imagenet":
        return IMAGENET
    import timm

    pretrained = timm.get_pretrained_cfg(model.backbone) if timm.is_model(model.backbone) else None
    if pretrained is None:
        return IMAGENET
    return tuple(float(v) for v in pretrained.mean), tuple(float(v) for v in pretrained.std)


def _to_normalised_float(normalization: Normalization) -> list[v2.Transform]:
    mean, std = normalization
    return [
        v2.ToDtype({tv_tensors.Image: torch.float32, "others": None}, scale=True),
        v2.Normalize(mean=list(mean), std=list(std)),
    ]


def build_train_transform(aug: AugmentConfig | None = None, normalization: Normalization = IMAGENET) -> v2.Compose:
    """The design's augmentation: hflip, vflip, rot90, colour jitter, Gaussian noise (config's p)."""
    aug = aug or AugmentConfig()
    to_float, normalise = _to_normalised_float(normalization)
    return v2.Compose([
        v2.RandomHorizontalFlip(p=aug.hflip),
        v2.RandomVerticalFlip(p=aug.vflip),
        RandomRot90(p=aug.rot90),
        v2.RandomApply([v2.ColorJitter(**JITTER)], p=aug.color_jitter),
        to_float,
        v2.RandomApply([v2.GaussianNoise(sigma=NOISE_SIGMA, clip=True)], p=aug.gaussian_noise),
        normalise,
    ])


def build_eval_transform(normalization: Normalization = IMAGENET) -> v2.Compose:
    """No augmentation: float conversion and normalisation only."""
    return v2.Compose(_to_normalised_float(normalization))
