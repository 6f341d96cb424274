"""Scanning the design's layout: pairing by stem, has_mask, and each structural bad input."""

from __future__ import annotations

import re

import pytest

from gain_mtl.data.layout import DataError, scan_dataset, scan_layout

from tests.unit.data.datafiles import image_array, mask_array, write_image


def test_scan_pairs_masks_by_stem_across_suffixes(make_dataset):
    root = make_dataset(suffix=".jpg")
    samples = scan_dataset(root)
    assert len(samples) == 15
    defective = [s for s in samples if s.label == 1]
    assert defective and all(s.has_mask for s in defective)
    for s in defective:
        assert s.image.suffix == ".jpg" and s.mask.suffix == ".png" and s.mask.stem == s.image.stem
    assert all(s.mask is None and not s.has_mask for s in samples if s.label == 0)
    assert all(s.image.is_absolute() for s in samples)
    assert {(s.split, s.label) for s in samples} == {("train", 0), ("train", 1), ("test", 0), ("test", 1)}


def test_scan_is_sorted_and_deterministic(make_dataset):
    root = make_dataset()
    first, second = scan_dataset(root), scan_dataset(root)
    assert first == second
    assert first == sorted(first, key=lambda s: (s.split, s.label, str(s.image)))


def test_defective_without_mask_is_valid_and_flagged(make_dataset):
    root = make_dataset(unmasked=(1, 3))
    unmasked = [s for s in scan_dataset(root) if s.label == 1 and not s.has_mask]
    assert sorted(s.image.stem for s in unmasked) == [
        "test_defective_1", "train_defective_1", "train_defective_3"]
    assert all(s.mask is None for s in unmasked)


def test_normal_image_never_takes_a_mask(make_dataset):
    root = make_dataset()
    # A mask named like a normal image has no defective image: an orphan, not a pairing.
    write_image(root / "masks" / "defective" / "train_normal_0.png", mask_array())
    samples, problems = scan_layout(root)
    assert all(s.mask is None for s in samples if s.label == 0)
    assert [p.kind for p in problems] == ["orphan"]


def test_missing_images_folder_names_it_and_the_fix(tmp_path):
    with pytest.raises(DataError, match=re.escape(str(tmp_path / "images")) + ".*missing images/ folder"):
        scan_dataset(tmp_path)


def test_empty_class_folder_is_named(make_dataset):
    root = make_dataset(counts={("train", "normal"): 2, ("train", "defective"): 0})
    (root / "images" / "train" / "defective").mkdir(parents=True)
    with pytest.raises(DataError) as info:
        scan_dataset(root)
    assert str(root / "images" / "train" / "defective") in str(info.value)
    assert "empty class folder; add defective images there" in str(info.value)


def test_mask_with_no_image_is_named(make_dataset):
    root = make_dataset()
    orphan = write_image(root / "masks" / "defective" / "ghost.png", mask_array())
    with pytest.raises(DataError) as info:
        scan_dataset(root)
    assert f"{orphan}: mask with no image" in str(info.value)
    assert "or remove the mask" in str(info.value)


def test_same_defective_name_in_both_splits_is_ambiguous(make_dataset):
    root = make_dataset()
    write_image(root / "images" / "test" / "defective" / "train_defective_0.png", image_array(99))
    with pytest.raises(DataError, match="same name as .*train_defective_0.png.*rename one"):
        scan_dataset(root)


def test_every_problem_is_reported_together(make_dataset):
    root = make_dataset()
    write_image(root / "masks" / "defective" / "ghost.png", mask_array())
    (root / "images" / "test" / "normal" / "notes.txt").write_text("not an image")
    _, problems = scan_layout(root)
    assert sorted(p.kind for p in problems) == ["orphan", "unsupported"]
    # Hidden files (editor and OS droppings) are skipped, not reported.
    (root / "images" / "train" / "normal" / ".DS_Store").write_bytes(b"x")
    assert len(scan_layout(root)[1]) == 2


def test_parts_file_problems_are_named(make_dataset):
    root = make_dataset({("train", "normal"): 2, ("train", "defective"): 1, ("test", "normal"): 1,
                         ("test", "defective"): 1})
    train = sorted((root / "images" / "train" / "normal").iterdir())[0].relative_to(root).as_posix()
    test = sorted((root / "images" / "test" / "normal").iterdir())[0].relative_to(root).as_posix()
    (root / "parts.csv").write_text(f"image,part\n{train},tile-1\n{test},tile-1\nimages/train/normal/gone.png,tile-2\n")
    _, problems = scan_layout(root)
    messages = {p.kind: p.message for p in problems}
    assert "part 'tile-1' has images in both train and test" in messages["leak"]
    assert "lists images/train/normal/gone.png, which is not an image of this dataset" in messages["parts"]
    (root / "parts.csv").write_text("file,tile\n")
    _, problems = scan_layout(root)
    assert [p.kind for p in problems] == ["parts"] and "header must be 'image,part'" in problems[0].message
