"""Augmentation: masks follow their images through every flip, rotation and camera shift;
photometric and camera steps (blur, gamma, JPEG) touch the image only; probabilities come from the
config; normalisation is the backbone's."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torchvision import tv_tensors

from gain_mtl.config import AugmentConfig
from gain_mtl.data.transforms import IMAGENET_MEAN, IMAGENET_STD, build_eval_transform, build_train_transform

S = 12
CAMERA_OFF = dict(jpeg=0.0, blur=0.0, gamma=0.0, shift=0.0, translate=0.0, exposure=0.0)
GEOMETRY_ONLY = dict(color_jitter=0.0, gaussian_noise=0.0, **CAMERA_OFF)


def _coordinate_image() -> tuple[tv_tensors.Image, np.ndarray]:
    """An image whose pixel at (r, c) holds (r, c, 0) * 10: a transformed pixel says where it came from."""
    rows, cols = np.mgrid[0:S, 0:S]
    image = np.stack([rows * 10, cols * 10, np.zeros_like(rows)]).astype(np.uint8)
    return tv_tensors.Image(torch.from_numpy(image)), np.stack([rows, cols])


def _source_coordinates(normalised: torch.Tensor) -> np.ndarray:
    mean, std = torch.tensor(IMAGENET_MEAN)[:, None, None], torch.tensor(IMAGENET_STD)[:, None, None]
    pixels = torch.round((normalised * std + mean) * 255).numpy()
    return np.round(pixels[:2] / 10).astype(int)


def _apply(transform, image, mask):
    out = transform({"image": image, "mask": tv_tensors.Mask(torch.from_numpy(mask)[None])})
    return out["image"], out["mask"][0].numpy()


@pytest.mark.parametrize("seed", range(40))
def test_every_mask_pixel_follows_its_image_pixel(seed):
    """Property: under any random mix of flips and rotations, each output mask pixel is the mask
    value at the source position its image pixel came from (and the map is a permutation)."""
    rng = np.random.default_rng(seed)
    mask = (rng.random((S, S)) < 0.3).astype(np.uint8)
    image, _ = _coordinate_image()
    torch.manual_seed(seed)
    out_image, out_mask = _apply(build_train_transform(AugmentConfig(**GEOMETRY_ONLY)), image, mask)
    rows, cols = _source_coordinates(out_image)
    assert len({(r, c) for r, c in zip(rows.ravel(), cols.ravel())}) == S * S
    assert (out_mask == mask[rows, cols]).all()


@pytest.mark.parametrize(
    "name, expected",
    [
        ("hflip", lambda r, c: (r, S - 1 - c)),
        ("vflip", lambda r, c: (S - 1 - r, c)),
    ],
)
def test_a_marked_pixel_moves_where_each_flip_sends_it(name, expected):
    probs = {"hflip": 0.0, "vflip": 0.0, "rot90": 0.0, **GEOMETRY_ONLY, name: 1.0}
    transform = build_train_transform(AugmentConfig(**probs))
    for r, c in [(0, 0), (2, 7), (S - 1, 3)]:
        mask = np.zeros((S, S), np.uint8)
        mask[r, c] = 1
        image, _ = _coordinate_image()
        out_image, out_mask = _apply(transform, image, mask)
        assert list(zip(*np.nonzero(out_mask))) == [expected(r, c)]
        rows, cols = _source_coordinates(out_image)
        assert (rows[expected(r, c)], cols[expected(r, c)]) == (r, c)


def test_rot90_rotates_image_and_mask_by_the_same_quarter_turns():
    transform = build_train_transform(AugmentConfig(hflip=0, vflip=0, rot90=1.0, **GEOMETRY_ONLY))
    mask = np.zeros((S, S), np.uint8)
    mask[1, 4] = 1
    seen = set()
    for seed in range(30):
        torch.manual_seed(seed)
        image, _ = _coordinate_image()
        out_image, out_mask = _apply(transform, image, mask)
        k = next(k for k in (1, 2, 3) if (out_mask == np.rot90(mask, k)).all())
        rows, cols = _source_coordinates(out_image)
        grid_rows, grid_cols = np.mgrid[0:S, 0:S]
        assert (rows == np.rot90(grid_rows, k)).all() and (cols == np.rot90(grid_cols, k)).all()
        seen.add(k)
    assert seen == {1, 2, 3}  # p=1 always turns, by each of the three angles


def test_photometric_steps_change_the_image_but_never_the_mask():
    transform = build_train_transform(AugmentConfig(0, 0, 0, color_jitter=1.0, gaussian_noise=1.0))
    mask = (np.random.default_rng(0).random((S, S)) < 0.5).astype(np.uint8)
    image, _ = _coordinate_image()
    torch.manual_seed(0)
    out_image, out_mask = _apply(transform, image, mask)
    assert (out_mask == mask).all()
    reference, _ = _apply(build_eval_transform(), image, mask)
    assert not torch.allclose(out_image, reference)


def test_zero_probabilities_reduce_training_to_evaluation():
    transform = build_train_transform(AugmentConfig(0, 0, 0, 0, 0, **CAMERA_OFF), size=S)
    image, _ = _coordinate_image()
    mask = np.eye(S, dtype=np.uint8)
    for seed in range(5):
        torch.manual_seed(seed)
        out_image, out_mask = _apply(transform, image, mask)
        reference, _ = _apply(build_eval_transform(), image, mask)
        assert torch.equal(out_image, reference) and (out_mask == mask).all()


def test_evaluation_normalises_with_imagenet_constants():
    image = tv_tensors.Image(torch.full((3, 2, 2), 255, dtype=torch.uint8))
    out = build_eval_transform()({"image": image, "mask": tv_tensors.Mask(torch.zeros(1, 2, 2, dtype=torch.uint8))})
    assert out["image"].dtype == torch.float32
    expected = [(1 - m) / s for m, s in zip(IMAGENET_MEAN, IMAGENET_STD)]
    assert torch.allclose(out["image"][:, 0, 0], torch.tensor(expected))


def test_normalization_follows_the_backbones_pretrained_weights():
    from gain_mtl.config import ModelConfig
    from gain_mtl.data.transforms import IMAGENET, input_normalization

    half = ((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))
    assert input_normalization(ModelConfig(backbone="tf_efficientnet_lite0")) == half
    assert input_normalization(ModelConfig(backbone="tf_efficientnetv2_s.in1k")) == half
    assert input_normalization(ModelConfig(backbone="efficientnet_b0")) == IMAGENET
    assert input_normalization(ModelConfig(backbone="tf_efficientnet_lite0", normalization="imagenet")) == IMAGENET
    with pytest.raises(ValueError, match="model.normalization 'zscore'"):
        input_normalization(ModelConfig(normalization="zscore"))


def test_eval_transform_applies_the_given_statistics():
    image = tv_tensors.Image(torch.full((3, 2, 2), 255, dtype=torch.uint8))
    out = build_eval_transform(((0.5, 0.5, 0.5), (0.5, 0.5, 0.5)))(
        {"image": image, "mask": tv_tensors.Mask(torch.zeros(1, 2, 2, dtype=torch.uint8))})
    assert torch.allclose(out["image"], torch.ones(3, 2, 2))  # white is +1 in [-1, 1]


@pytest.mark.parametrize("step", ["jpeg", "blur", "gamma", "exposure"])
def test_each_camera_step_changes_the_image_but_never_the_mask(step):
    """JPEG, blur and gamma act on every draw at p=1 and leave the mask as it was."""
    probs = {"hflip": 0.0, "vflip": 0.0, "rot90": 0.0, **GEOMETRY_ONLY, step: 1.0}
    if step == "gamma":
        probs["gamma_range"] = 0.5
    transform = build_train_transform(AugmentConfig(**probs), size=32)
    rng = np.random.default_rng(1)
    image = tv_tensors.Image(torch.from_numpy(rng.integers(0, 256, (3, 32, 32), dtype=np.uint8)))
    mask = (rng.random((32, 32)) < 0.3).astype(np.uint8)
    reference, _ = _apply(build_eval_transform(), image, mask)
    changed = 0
    for seed in range(5):
        torch.manual_seed(seed)
        out_image, out_mask = _apply(transform, image, mask)
        assert (out_mask == mask).all()
        changed += not torch.allclose(out_image, reference, atol=1e-3)
    assert changed >= 4  # a gamma drawn near 1 may leave one image as it was


def test_the_camera_shift_moves_the_mask_with_its_image():
    """A bright square and its mask, shifted and zoomed together: the mask still covers the square."""
    probs = {"hflip": 0.0, "vflip": 0.0, "rot90": 0.0, **GEOMETRY_ONLY, "shift": 1.0, "crop_scale_min": 0.6}
    transform = build_train_transform(AugmentConfig(**probs), normalization=((0.0,) * 3, (1.0,) * 3), size=48)
    square = np.zeros((48, 48), np.uint8)
    square[14:30, 20:36] = 1
    image = tv_tensors.Image(torch.from_numpy(np.repeat(square[None] * 255, 3, axis=0)))
    moved = 0
    for seed in range(10):
        torch.manual_seed(seed)
        out_image, out_mask = _apply(transform, image, square)
        bright = out_image[0].numpy() > 0.5
        assert (bright & (out_mask == 1)).sum() / (bright | (out_mask == 1)).sum() > 0.85
        moved += not (out_mask == square).all()
    assert moved >= 8


def test_the_camera_translation_repeats_the_border_and_moves_the_mask():
    """A part a few pixels off: the image and its mask move by the same whole-pixel offset, no
    further than translate_max of the side, and the uncovered band repeats the frame's border (what
    the export's shift perturbation sends), never a black edge the model could take for a defect."""
    probs = {"hflip": 0.0, "vflip": 0.0, "rot90": 0.0, **GEOMETRY_ONLY, "translate": 1.0, "translate_max": 0.125}
    transform = build_train_transform(AugmentConfig(**probs), normalization=((0.0,) * 3, (1.0,) * 3), size=32)
    rows = np.repeat(np.linspace(40, 240, 32).astype(np.uint8)[:, None], 32, axis=1)  # brighter downwards
    image = tv_tensors.Image(torch.from_numpy(np.repeat(rows[None], 3, axis=0)))
    mask = np.zeros((32, 32), np.uint8)
    mask[10:20, 12:22] = 1
    offsets = set()
    for seed in range(20):
        torch.manual_seed(seed)
        out_image, out_mask = _apply(transform, image, mask)
        out = np.rint(out_image[0].numpy() * 255).astype(np.uint8)
        dy = int(np.argmax(out_mask.any(axis=1))) - 10
        dx = int(np.argmax(out_mask.any(axis=0))) - 12
        assert max(abs(dy), abs(dx)) <= 4 and out_mask.sum() == mask.sum()
        expected = rows[np.clip(np.arange(32) - dy, 0, 31)]  # moved rows; the band repeats row 0 or 31
        assert np.array_equal(out, expected)
        offsets.add((dy, dx))
    assert len(offsets) >= 10


@pytest.mark.parametrize("key, value, match", [
    ("jpeg_quality_min", 0, "augment.jpeg_quality_min"),
    ("translate_max", 0.5, "augment.translate_max"),
    ("crop_scale_min", 1.5, "augment.crop_scale_min"),
    ("gamma_range", 1.0, "augment.gamma_range"),
    ("exposure_range", -0.1, "augment.exposure_range"),
    ("blur_sigma", 0.0, "augment.blur_sigma"),
])
def test_camera_strengths_out_of_range_are_refused_by_name(key, value, match):
    from gain_mtl.config import ConfigError

    with pytest.raises(ConfigError, match=match):
        AugmentConfig(**{key: value})
