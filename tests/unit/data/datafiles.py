"""Small image files and trees for the data tests: each test builds only what it breaks."""

from __future__ import annotations

from pathlib import Path

import numpy as np

SIZE = 16


def write_image(path: Path, array: np.ndarray) -> Path:
    import cv2

    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), array)
    return path


def image_array(seed: int, size: int = SIZE) -> np.ndarray:
    """A distinct random BGR image per seed (so no two files share content)."""
    return np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8)


def mask_array(size: int = SIZE) -> np.ndarray:
    mask = np.zeros((size, size), np.uint8)
    mask[2:6, 3:9] = 255
    return mask


def mvtec_tree(root: Path) -> Path:
    """bottle/: 4 train goods, 2 test goods, two defect types numbered 000.. like MVTec's."""
    seed = iter(range(1000))
    for i in range(4):
        write_image(root / "train" / "good" / f"{i:03d}.png", image_array(next(seed)))
    for i in range(2):
        write_image(root / "test" / "good" / f"{i:03d}.png", image_array(next(seed)))
    for kind in ("crack", "scratch"):
        for i in range(2):
            write_image(root / "test" / kind / f"{i:03d}.png", image_array(next(seed)))
            if (kind, i) != ("scratch", 1):  # one defect left unannotated
                write_image(root / "ground_truth" / kind / f"{i:03d}_mask.png", mask_array())
    return root
