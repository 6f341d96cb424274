"""Procedural inspection images: textured surfaces with scratches, spots and cracks, exact masks.

Built-in sample data for the tests and the demo, deterministic by seed (each image has its own
generator seeded by ``(seed, index)``, so the bytes never depend on how many images are made).

Learnable but not trivial: every surface varies (brightness, illumination gradient, low-frequency
mottling, grain, and either brushed streaks or a faint machining pattern), a third of all images,
normal ones included, carry a harmless soft smudge, and defects are thin or small and only a few
grain-widths darker or brighter than the surface around them. A mask marks exactly the pixels a
defect changed.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from gain_mtl.data.io import write_image
from gain_mtl.data.layout import CLASS_NAMES, DATASET_WHAT, DataError, written_dataset
from gain_mtl.data.split import holdout

SYNTH_FORMAT = "gain-mtl-synth/1"
MIN_SIZE = 32


@dataclass(frozen=True)
class SynthImage:
    name: str
    label: int
    image: np.ndarray  # uint8 (S, S, 3) BGR, ready for cv2.imwrite
    mask: np.ndarray | None  # uint8 (S, S) 0/255


def _smooth_noise(rng: np.random.Generator, size: int, cells: int) -> np.ndarray:
    """Zero-mean, unit-ish noise with features about size/cells pixels wide."""
    import cv2

    coarse = rng.normal(size=(cells, cells)).astype(np.float32)
    return cv2.resize(coarse, (size, size), interpolation=cv2.INTER_CUBIC)


def _surface(rng: np.random.Generator, size: int) -> np.ndarray:
    """A grey textured surface, float32 (S, S), roughly 60..200."""
    import cv2

    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    angle = rng.uniform(0, 2 * np.pi)
    surface = np.full((size, size), rng.uniform(95, 165), np.float32)
    surface += rng.uniform(0, 20) * (np.cos(angle) * xx + np.sin(angle) * yy - 0.5)  # lighting
    surface += rng.uniform(3, 9) * _smooth_noise(rng, size, int(rng.integers(3, 8)))  # mottling
    if rng.random() < 0.5:  # brushed streaks along a random direction
        streaks = rng.normal(size=(1, size * 2)).astype(np.float32).repeat(size * 2, axis=0)
        streaks = cv2.GaussianBlur(streaks, (0, 0), 0.7)
        rot = cv2.getRotationMatrix2D((size, size), rng.uniform(0, 180), 1.0)
        rot[:, 2] -= size / 2
        surface += rng.uniform(2, 6) * cv2.warpAffine(streaks, rot, (size, size), flags=cv2.INTER_LINEAR)
    else:  # faint machining pattern
        theta = rng.uniform(0, np.pi)
        freq = rng.uniform(4, 14) * 2 * np.pi
        surface += rng.uniform(1.5, 5) * np.sin(freq * (np.cos(theta) * xx + np.sin(theta) * yy))
    if rng.random() < 1 / 3:  # harmless smudge, also on normal parts: blobs alone are no defect
        blob = np.zeros((size, size), np.float32)
        centre = tuple(int(c) for c in rng.integers(0, size, 2))
        cv2.circle(blob, centre, int(size * rng.uniform(0.12, 0.3)), 1.0, -1)
        surface += rng.choice([-1, 1]) * rng.uniform(4, 9) * cv2.GaussianBlur(blob, (0, 0), size * 0.08)
    surface += rng.normal(0, rng.uniform(2, 5), (size, size)).astype(np.float32)  # grain
    return surface


def _point(rng: np.random.Generator, size: int, margin: float = 0.1) -> np.ndarray:
    return rng.uniform(size * margin, size * (1 - margin), 2)


def _scratch(rng: np.random.Generator, size: int, mask: np.ndarray) -> float:
    """A long thin, slightly bent line; scratches catch the light, so mostly brighter."""
    import cv2

    start, angle = _point(rng, size), rng.uniform(0, 2 * np.pi)
    length, bend = size * rng.uniform(0.2, 0.6), rng.uniform(-0.4, 0.4)
    points = [start]
    for _ in range(3):
        angle += bend / 3
        points.append(points[-1] + length / 3 * np.array([np.cos(angle), np.sin(angle)]))
    thickness = int(rng.integers(1, max(2, size // 96) + 1))
    cv2.polylines(mask, [np.round(points).astype(np.int32)], False, 1, thickness)
    return rng.choice([1, 1, -1]) * rng.uniform(14, 30)


def _spot(rng: np.random.Generator, size: int, mask: np.ndarray) -> float:
    """A small elliptic stain or pit, mostly darker."""
    import cv2

    axes = tuple(int(max(1, size * a)) for a in rng.uniform(0.015, 0.07, 2))
    centre = tuple(int(c) for c in _point(rng, size))
    cv2.ellipse(mask, centre, axes, rng.uniform(0, 180), 0, 360, 1, -1)
    return rng.choice([-1, -1, 1]) * rng.uniform(12, 28)


def _crack(rng: np.random.Generator, size: int, mask: np.ndarray) -> float:
    """A jagged random walk, sometimes branching; always darker."""
    import cv2

    thickness = int(rng.integers(1, max(2, size // 80) + 1))
    heading = rng.uniform(0, 2 * np.pi)
    walks = [(_point(rng, size, 0.2), heading, int(rng.integers(6, 14)))]
    while walks:
        point, heading, steps = walks.pop()
        points = [point]
        for _ in range(steps):
            heading += rng.normal(0, 0.5)
            step = size * rng.uniform(0.02, 0.05)
            points.append(points[-1] + step * np.array([np.cos(heading), np.sin(heading)]))
            if rng.random() < 0.08 and len(walks) < 2:
                walks.append((points[-1], heading + rng.choice([-1, 1]) * rng.uniform(0.5, 1.2), steps // 2))
        cv2.polylines(mask, [np.round(points).astype(np.int32)], False, 1, thickness)
    return -rng.uniform(18, 36)


DEFECTS: dict[str, Callable[[np.random.Generator, int, np.ndarray], float]] = {
    "scratch": _scratch, "spot": _spot, "crack": _crack,
}


def make_image(seed: int, index: int, size: int, defective: bool, contrast: float = 1.0) -> SynthImage:
    """One image (and its mask when defective), a pure function of its arguments.

    ``contrast`` scales how far a defect departs from the surface: 1 is the built-in difficulty;
    larger values make defects plain enough for a tiny network trained from scratch in seconds.
    """
    rng = np.random.default_rng([seed, index])
    surface = _surface(rng, size)
    mask = None
    if defective:
        mask = np.zeros((size, size), np.uint8)
        for _ in range(int(rng.integers(1, 4))):
            shape = np.zeros((size, size), np.uint8)
            delta = DEFECTS[str(rng.choice(list(DEFECTS)))](rng, size, shape)
            # Uneven depth inside the defect, but never outside it: the mask stays exact.
            depth = np.clip(0.75 + 0.25 * _smooth_noise(rng, size, 6), 0.4, 1.0)
            surface += np.where(shape > 0, contrast * delta * depth, 0.0).astype(np.float32)
            mask |= shape
        mask *= 255
    tint = rng.uniform(0.96, 1.04, 3).astype(np.float32)
    image = np.clip(np.round(surface[..., None] * tint), 0, 255).astype(np.uint8)
    return SynthImage(name=f"part_{index:05d}", label=int(defective), image=image, mask=mask)


def synthesize(
    out: str | Path,
    n_normal: int,
    n_defective: int,
    size: int,
    seed: int,
    test_ratio: float = 0.25,
    force: bool = False,
    contrast: float = 1.0,
) -> Path:
    """Write a dataset in the design's layout to ``out`` (atomically) and return its path.

    Normal and defective parts are interleaved over the indices (a seeded permutation), and each
    class is split into train/test with ``test_ratio``.
    """
    from edge.atomic import atomic_directory

    least = 2 if test_ratio > 0 else 1  # each class needs an image in every split written
    if min(n_normal, n_defective) < least:
        raise DataError(
            f"synth needs at least {least} normal and {least} defective images with test ratio "
            f"{test_ratio} (got {n_normal} normal, {n_defective} defective); raise --n-normal/--n-defective"
        )
    if contrast <= 0:
        raise DataError(f"synth contrast must be positive, got {contrast}; 1 is the built-in difficulty")
    if size < MIN_SIZE:
        raise DataError(f"synth size {size} is too small to draw defects on; use {MIN_SIZE} or more")
    order = list(range(n_normal + n_defective))
    random.Random(f"{seed}:synth:order").shuffle(order)
    by_class = {0: sorted(order[:n_normal]), 1: sorted(order[n_normal:])}
    split_of: dict[int, str] = {}
    for label, indices in by_class.items():
        train, test = holdout(indices, test_ratio, random.Random(f"{seed}:synth:{label}"))
        split_of.update({i: "train" for i in train})
        split_of.update({i: "test" for i in test})

    counts = {split: {name: 0 for name in CLASS_NAMES} for split in ("train", "test")}
    with atomic_directory(out, force=force, recognise=written_dataset, what=DATASET_WHAT) as tmp:
        (tmp / "masks" / "defective").mkdir(parents=True)
        for label, indices in by_class.items():
            for index in indices:
                item = make_image(seed, index, size, defective=bool(label), contrast=contrast)
                split, name = split_of[index], CLASS_NAMES[label]
                (tmp / "images" / split / name).mkdir(parents=True, exist_ok=True)
                write_image(tmp / "images" / split / name / f"{item.name}.png", item.image)
                if item.mask is not None:
                    write_image(tmp / "masks" / "defective" / f"{item.name}.png", item.mask)
                counts[split][name] += 1
        counts = {split: c for split, c in counts.items() if any(c.values())}
        info = {"format": SYNTH_FORMAT, "seed": seed, "size": size, "test_ratio": test_ratio, "contrast": contrast,
                "n_normal": n_normal, "n_defective": n_defective, "counts": counts}
        (tmp / "synth.json").write_text(json.dumps(info, indent=2) + "\n")
    return Path(out)
