from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from calibration.dataset import (
    RECOMMENDED_SIZE,
    CalibrationSet,
    LabelledImage,
    build_calibration_set,
    select_stratified,
)
from calibration.errors import CalibrationError


def _items(n_normal: int, n_defect: int) -> list[LabelledImage]:
    return [LabelledImage(Path(f"n{i}.png"), 0) for i in range(n_normal)] + [
        LabelledImage(Path(f"d{i}.png"), 1) for i in range(n_defect)
    ]


@pytest.mark.parametrize("n_normal,n_defect,size", [(500, 50, 300), (100, 100, 300), (40, 5, 300), (900, 900, 64)])
def test_selection_is_stratified_and_bounded(n_normal, n_defect, size):
    chosen = select_stratified(_items(n_normal, n_defect), size, 0.3, seed=1)
    labels = [it.label for it in chosen]
    assert 0 < len(chosen) <= size
    assert sum(labels) / len(labels) >= 0.3
    assert 0 in labels and 1 in labels
    assert len({it.path for it in chosen}) == len(chosen)


def test_selection_is_seeded():
    items = _items(200, 80)
    assert select_stratified(items, 50, 0.3, seed=3) == select_stratified(items, 50, 0.3, seed=3)
    assert select_stratified(items, 50, 0.3, seed=3) != select_stratified(items, 50, 0.3, seed=4)


@pytest.mark.parametrize("n_normal,n_defect,missing", [(10, 0, "no defective"), (0, 10, "no normal")])
def test_missing_class_is_an_error(n_normal, n_defect, missing):
    with pytest.raises(CalibrationError, match=missing):
        select_stratified(_items(n_normal, n_defect), 300, 0.3, seed=0)


def _write_images(folder: Path, n: int, label: int) -> list[LabelledImage]:
    folder.mkdir(parents=True, exist_ok=True)
    items = []
    for i in range(n):
        img = np.zeros((40, 48, 3), np.uint8)
        img[..., 0] = 255  # blue in OpenCV's BGR order
        img[..., 2] = 10 * i + label
        path = folder / f"{label}_{i}.png"
        cv2.imwrite(str(path), img)
        items.append(LabelledImage(path, label))
    return items


def test_batches_are_what_the_edge_feeds_and_manifest_records_them(tmp_path):
    items = _write_images(tmp_path / "n", 7, 0) + _write_images(tmp_path / "d", 5, 1)
    with pytest.warns(UserWarning, match=f"fewer than {RECOMMENDED_SIZE}"):
        calib = build_calibration_set(items, image_size=16, size=10, min_defect_ratio=0.3, seed=0, batch_size=4)
    batches = list(calib)
    assert [b.shape for b in batches] == [(4, 16, 16, 3), (4, 16, 16, 3), (2, 16, 16, 3)]
    assert all(b.dtype == np.uint8 for b in batches)
    assert np.all(batches[0][..., 0] == 255)  # BGR kept: channel 0 is blue
    assert len(list(calib)) == 3  # re-iterable: every target walks the same batches
    manifest = calib.manifest(tmp_path)
    json.dumps(manifest)
    assert manifest["size"] == 10 and manifest["defective"] >= 3
    assert manifest["channel_order"] == "BGR" and manifest["split"] == "val"
    assert {m["path"] for m in manifest["images"]} <= {it.path.relative_to(tmp_path).as_posix() for it in items}


def test_unreadable_image_names_the_file(tmp_path):
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"not an image")
    with pytest.raises(CalibrationError, match="broken.png"):
        CalibrationSet([LabelledImage(bad, 1)], image_size=16)
