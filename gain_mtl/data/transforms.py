"""Joint image + mask augmentation (design section 7) with torchvision.transforms.v2.

A transform takes and returns ``{"image": tv_tensors.Image uint8 (3,S,S), "mask": tv_tensors.Mask
uint8 (1,S,S)}``. Geometric steps (flips, 90-degree rotations, the camera's shift and zoom) move
image and mask together; photometric steps (colour jitter, gamma, blur, JPEG, Gaussian noise) and
normalisation touch the image only. Every transform ends with float conversion and normalisation,
so the dataset's output is what the network takes.

Besides the design's augmentations, training sees what a line camera sends: a part a few pixels
off, slight defocus or motion blur, exposure drift (brightness, contrast, gamma), JPEG
compression (MJPG and H.264 cameras) and sensor noise. A model trained on clean PNGs only flips
its verdict on such frames (``gainctl export`` measures it: edge/bench/robustness.py). JPEG runs
on the uint8 frame before float conversion, so the noise lands after it, not before as in a
sensor; as an augmentation the order does not matter, and it spares a round trip to uint8.

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


class RandomGamma(v2.Transform):
    """With probability ``p``, a gamma drawn uniformly from ``[1 - spread, 1 + spread]`` (image only)."""

    def __init__(self, p: float, spread: float) -> None:
        super().__init__()
        self.p, self.spread = p, spread

    def make_params(self, flat_inputs: list[Any]) -> dict[str, Any]:
        if torch.rand(()) >= self.p:
            return {"gamma": None}
        return {"gamma": float(1.0 + (2.0 * torch.rand(()) - 1.0) * self.spread)}

    def transform(self, inpt: Any, params: dict[str, Any]) -> Any:
        if params["gamma"] is None or not isinstance(inpt, tv_tensors.Image):
            return inpt
        return v2.functional.adjust_gamma(inpt, params["gamma"])


class RandomMotionBlur(v2.Transform):
    """A straight motion streak (a part moving during exposure): a line kernel of ``length`` pixels
    at 0, 45, 90 or 135 degrees, length drawn from 3 to ``max_length`` (odd); image only."""

    def __init__(self, max_length: int) -> None:
        super().__init__()
        self.max_length = max(3, max_length | 1)

    def make_params(self, flat_inputs: list[Any]) -> dict[str, Any]:
        length = 2 * int(torch.randint(1, self.max_length // 2 + 1, ())) + 1
        kernel = torch.zeros(length, length)
        centre = length // 2
        direction = int(torch.randint(0, 4, ()))
        if direction == 0:
            kernel[centre, :] = 1
        elif direction == 1:
            kernel[:, centre] = 1
        else:
            kernel = torch.eye(length) if direction == 2 else torch.eye(length).flip(0)
        return {"kernel": kernel / kernel.sum()}

    def transform(self, inpt: Any, params: dict[str, Any]) -> Any:
        if not isinstance(inpt, tv_tensors.Image):
            return inpt
        kernel = params["kernel"]
        pad = kernel.shape[-1] // 2
        x = torch.nn.functional.pad(inpt.float()[None], (pad, pad, pad, pad), mode="reflect")
        weight = kernel.to(x.dtype).expand(x.shape[1], 1, *kernel.shape)
        out = torch.nn.functional.conv2d(x, weight, groups=x.shape[1])[0]
        return tv_tensors.wrap(out.round_().clamp_(0, 255).to(inpt.dtype), like=inpt)


def camera_blur(aug: AugmentConfig) -> v2.Transform:
    """Defocus (Gaussian, sigma up to ``aug.blur_sigma``) or a motion streak of similar extent, half each."""
    return v2.RandomChoice([
        v2.GaussianBlur(2 * int(3 * aug.blur_sigma) + 1, sigma=(0.1, aug.blur_sigma)),
        RandomMotionBlur(max_length=int(round(5 * aug.blur_sigma))),
    ])


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


def build_train_transform(aug: AugmentConfig | None = None, normalization: Normalization = IMAGENET,
                          size: int | None = None) -> v2.Compose:
    """The design's augmentation (hflip, vflip, rot90, colour jitter, Gaussian noise) and the
    camera's (shift and zoom, translation, blur, exposure, gamma, JPEG), each with the config's
    probability.

    ``size`` is the model's input side, which the shift-and-zoom crop is resized back to and the
    translation keeps; without it those steps are left out.
    """
    aug = aug or AugmentConfig()
    to_float, normalise = _to_normalised_float(normalization)
    shift = ([v2.RandomApply([v2.RandomResizedCrop(size, scale=(aug.crop_scale_min, 1.0), ratio=(0.95, 1.05))],
                             p=aug.shift),
              # Pad by the largest offset, repeating the edge, and crop back at a random place: the
              # part moves by up to that many pixels each way and the uncovered band repeats the
              # border, as on a camera whose part sits off (and as the export's shift-2% measures).
              v2.RandomApply([v2.RandomCrop(size, padding=round(aug.translate_max * size), padding_mode="edge")],
                             p=aug.translate)] if size else [])
    return v2.Compose([
        v2.RandomHorizontalFlip(p=aug.hflip),
        v2.RandomVerticalFlip(p=aug.vflip),
        RandomRot90(p=aug.rot90),
        *shift,
        v2.RandomApply([camera_blur(aug)], p=aug.blur),
        v2.RandomApply([v2.ColorJitter(**JITTER)], p=aug.color_jitter),
        v2.RandomApply([v2.ColorJitter(brightness=aug.exposure_range, contrast=aug.exposure_range)], p=aug.exposure),
        RandomGamma(p=aug.gamma, spread=aug.gamma_range),
        v2.RandomApply([v2.JPEG(quality=(aug.jpeg_quality_min, 95))], p=aug.jpeg),
        to_float,
        v2.RandomApply([v2.GaussianNoise(sigma=NOISE_SIGMA, clip=True)], p=aug.gaussian_noise),
        normalise,
    ])


def build_eval_transform(normalization: Normalization = IMAGENET) -> v2.Compose:
    """No augmentation: float conversion and normalisation only."""
    return v2.Compose(_to_normalised_float(normalization))
