"""Small datasets in the design's layout, written file by file so each test can break one thing."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import pytest

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


@pytest.fixture
def make_dataset(tmp_path: Path) -> Callable[..., Path]:
    """Build ROOT with ``counts[(split, class)]`` images; defectives get masks unless listed in
    ``unmasked`` (by index). Image names are ``<split>_<class>_<i>`` with suffix ``suffix``."""

    def build(
        counts: dict[tuple[str, str], int] | None = None,
        unmasked: tuple[int, ...] = (),
        suffix: str = ".png",
        name: str = "data",
    ) -> Path:
        counts = counts or {("train", "normal"): 6, ("train", "defective"): 5,
                            ("test", "normal"): 2, ("test", "defective"): 2}
        root = tmp_path / name
        seed = 0
        for (split, cls), n in counts.items():
            for i in range(n):
                seed += 1
                stem = f"{split}_{cls}_{i}"
                write_image(root / "images" / split / cls / f"{stem}{suffix}", image_array(seed))
                if cls == "defective" and i not in unmasked:
                    write_image(root / "masks" / "defective" / f"{stem}.png", mask_array())
        return root

    return build
