"""Procedural sample data: deterministic, exact masks, in the layout, written atomically."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from gain_mtl.data import synth
from gain_mtl.data.check import check_dataset
from gain_mtl.data.io import read_image, read_mask
from gain_mtl.data.layout import DataError, scan_dataset
from gain_mtl.data.synth import make_image, synthesize


def _hashes(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_same_bytes_other_seed_other_images(tmp_path):
    a = synthesize(tmp_path / "a", 6, 6, 64, seed=5)
    b = synthesize(tmp_path / "b", 6, 6, 64, seed=5)
    c = synthesize(tmp_path / "c", 6, 6, 64, seed=6)
    assert _hashes(a) == _hashes(b)
    images = {k: v for k, v in _hashes(a).items() if k.startswith("images/")}
    assert not set(images.values()) & set(_hashes(c).values())
    # An image depends on (seed, index) only, not on how many images are made.
    assert (make_image(5, 3, 64, True).image == make_image(5, 3, 64, True).image).all()


def test_layout_counts_and_exact_masks(tmp_path):
    root = synthesize(tmp_path / "d", n_normal=8, n_defective=8, size=64, seed=1, test_ratio=0.25)
    samples = scan_dataset(root)
    assert [(s.split, s.label) for s in samples].count(("test", 1)) == 2
    assert [(s.split, s.label) for s in samples].count(("train", 0)) == 6
    assert all(s.has_mask == (s.label == 1) for s in samples)
    assert check_dataset(root).ok
    info = json.loads((root / "synth.json").read_text())
    assert info["seed"] == 1 and info["counts"]["test"] == {"normal": 2, "defective": 2}
    for s in samples:
        if s.has_mask:
            mask = read_mask(s.mask, None)
            assert mask.shape == (64, 64) and 0 < mask.sum() < 0.25 * mask.size


def test_a_mask_marks_exactly_the_pixels_a_defect_changed(monkeypatch):
    """Rendering the same image with its defects switched off differs only inside the mask."""
    item = make_image(3, 11, 96, defective=True)
    # Same generator draws, zero amplitude: the surface is the defect-free twin.
    for name, draw in list(synth.DEFECTS.items()):
        monkeypatch.setitem(synth.DEFECTS, name, lambda rng, size, mask, draw=draw: draw(rng, size, mask) * 0.0)
    twin = make_image(3, 11, 96, defective=True)
    changed = np.abs(item.image.astype(int) - twin.image.astype(int)).max(axis=2) > 0
    marked = item.mask > 0
    assert (twin.mask == item.mask).all()
    assert not (changed & ~marked).any()
    assert changed[marked].mean() > 0.9


def test_defects_are_subtle_but_present():
    """Learnable but not trivial: mean contrast inside masks is a few grey levels, not a glare."""
    contrasts = []
    for index in range(12):
        item = make_image(0, index, 96, defective=True)
        gray, marked = item.image.mean(axis=2), item.mask > 0
        contrasts.append(abs(gray[marked].mean() - gray[~marked].mean()))
    assert 5 < float(np.median(contrasts)) < 40


def test_contrast_scales_only_the_defect():
    base, strong = make_image(3, 1, 64, True), make_image(3, 1, 64, True, contrast=3.0)
    assert np.array_equal(base.mask, strong.mask)
    inside = base.mask > 0
    assert np.array_equal(base.image[~inside], strong.image[~inside])  # the surface is untouched
    surface = make_image(3, 1, 64, True, contrast=1e-9).image.astype(float)  # the defect scaled away
    change = lambda img: np.abs(img.astype(float) - surface)[inside].mean()  # noqa: E731
    assert change(strong.image) > 2.5 * change(base.image)


def test_existing_output_is_refused_unless_forced(tmp_path):
    root = synthesize(tmp_path / "d", 3, 3, 32, seed=0)
    before = _hashes(root)
    with pytest.raises(FileExistsError, match="pass --force"):
        synthesize(root, 3, 3, 32, seed=1)
    assert _hashes(root) == before
    synthesize(root, 3, 3, 32, seed=1, force=True)
    assert _hashes(root) != before


def test_a_failure_midway_leaves_nothing(tmp_path, monkeypatch):
    calls = []

    def failing(seed, index, size, defective, contrast=1.0):
        calls.append(index)
        if len(calls) == 4:
            raise RuntimeError("disk full")
        return make_image(seed, index, size, defective, contrast)

    monkeypatch.setattr(synth, "make_image", failing)
    with pytest.raises(RuntimeError):
        synthesize(tmp_path / "d", 4, 4, 32, seed=0)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("kwargs, message", [
    (dict(n_normal=1, n_defective=5, size=64), "at least 2 normal and 2 defective"),
    (dict(n_normal=5, n_defective=5, size=16), "too small"),
    (dict(n_normal=5, n_defective=5, size=64, contrast=0.0), "contrast must be positive"),
])
def test_bad_arguments_are_refused(tmp_path, kwargs, message):
    with pytest.raises(DataError, match=message):
        synthesize(tmp_path / "d", seed=0, **kwargs)


def test_an_image_opencv_cannot_write_is_named_and_leaves_nothing(tmp_path, monkeypatch):
    import cv2

    monkeypatch.setattr(cv2, "imwrite", lambda path, image: not path.endswith("/masks/defective/part_00002.png"))
    with pytest.raises(DataError, match=r"masks/defective/part_00002\.png: OpenCV could not write"):
        synthesize(tmp_path / "d", 3, 3, 32, seed=0)
    assert list(tmp_path.iterdir()) == []
