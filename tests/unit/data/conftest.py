"""The ``make_dataset`` fixture: a small dataset in the design's layout, file by file."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import pytest

from tests.unit.data.datafiles import image_array, mask_array, write_image


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
