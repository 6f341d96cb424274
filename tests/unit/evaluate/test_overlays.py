"""The overlay sheet: drawn for one row or a dozen, on one localization scale, refusing bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gain_mtl.evaluate.overlays import OverlayRow, write_overlays


def _row(defective: bool, size: int = 48) -> OverlayRow:
    rng = np.random.default_rng(int(defective))
    image = np.full((size, size, 3), 120, np.uint8)
    mask = np.zeros((size, size), bool)
    loc = np.full((size, size), 0.02, np.float32)
    if defective:
        mask[10:20, 25:40] = True
        loc[8:22, 24:42] = 0.9
    return OverlayRow(title="defective" if defective else "normal", image=image, mask=mask if defective else None,
                      cam=rng.random((size, size)).astype(np.float32), attention=loc * 0.5, localization=loc)


def _png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    return int.from_bytes(header[16:20], "big"), int.from_bytes(header[20:24], "big")


def test_a_sheet_of_many_rows_grows_downwards_only(tmp_path: Path) -> None:
    two = _png_size(write_overlays([_row(True), _row(False)], tmp_path / "two.png", 0.4))
    twelve = _png_size(write_overlays([_row(i < 8) for i in range(12)], tmp_path / "twelve.png", 0.4))
    assert two[0] == twelve[0] and twelve[1] > 5 * two[1] // 2


@pytest.mark.parametrize("threshold", [0.0, 1.5])
def test_a_threshold_outside_0_1_is_refused(tmp_path: Path, threshold: float) -> None:
    with pytest.raises(ValueError, match="localization threshold"):
        write_overlays([_row(True)], tmp_path / "o.png", threshold)
    assert not (tmp_path / "o.png").exists()


def _magenta_pixels(path: Path) -> int:
    import matplotlib.image

    rgb = (matplotlib.image.imread(path)[..., :3] * 255).astype(int)
    return int(np.sum((rgb[..., 0] > 200) & (rgb[..., 1] < 60) & (rgb[..., 2] > 200)))


def test_without_a_trained_localization_head_nothing_is_boxed(tmp_path: Path) -> None:
    boxed = _magenta_pixels(write_overlays([_row(True)], tmp_path / "boxed.png", 0.4))
    plain = _magenta_pixels(write_overlays([_row(True)], tmp_path / "plain.png", None))
    assert boxed > 50 and plain == 0


def test_an_accepted_part_gets_no_boxes_as_the_line_reports_none(tmp_path: Path) -> None:
    accepted = _row(True)
    accepted.rejected = False
    shown = _magenta_pixels(write_overlays([accepted], tmp_path / "accepted.png", 0.4))
    boxed = _magenta_pixels(write_overlays([_row(True)], tmp_path / "rejected.png", 0.4))
    bar_only = _magenta_pixels(write_overlays([_row(False)], tmp_path / "normal.png", 0.4))  # threshold mark
    assert shown == bar_only < boxed


def test_no_rows_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no samples"):
        write_overlays([], tmp_path / "o.png", 0.5)


def test_overlay_rows_are_spread_over_the_split_not_its_first_files():
    from gain_mtl.evaluation import spread

    assert spread(list(range(10)), 3) == [0, 4, 9]  # first, middle, last
    assert spread(list(range(100)), 5) == [0, 25, 50, 74, 99]
    assert spread([7, 8], 5) == [7, 8]
    assert spread(list(range(10)), 1) == [0]
