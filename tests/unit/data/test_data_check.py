"""``check_dataset``: counts, and every kind of problem named with its file and fix."""

from __future__ import annotations

import shutil

import numpy as np

from gain_mtl.data.check import check_dataset

from tests.unit.data.datafiles import mask_array, write_image


def test_clean_dataset_reports_counts(make_dataset):
    report = check_dataset(make_dataset(unmasked=(4,)))
    assert report.ok
    assert report.counts() == {("train", "normal"): (6, 0), ("train", "defective"): (5, 4),
                               ("test", "normal"): (2, 0), ("test", "defective"): (2, 2)}
    table = report.format()
    assert "train  defective       5          4" in table and "no problems found" in table


def test_every_problem_is_named_at_once(make_dataset):
    root = make_dataset()
    images, masks = root / "images", root / "masks" / "defective"
    (images / "train" / "normal" / "train_normal_0.png").write_bytes(b"")
    (images / "train" / "normal" / "train_normal_1.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    write_image(masks / "train_defective_0.png", np.zeros((8, 8), np.uint8))
    write_image(masks / "train_defective_1.png", (mask_array() > 0).astype(np.uint8))  # 0/1, not 0/255
    write_image(masks / "orphan.png", mask_array())
    shutil.copy(images / "train" / "normal" / "train_normal_2.png", images / "test" / "normal" / "copy.png")
    for path in (images / "test" / "defective").iterdir():
        path.unlink()

    report = check_dataset(root)
    assert not report.ok
    by_kind = {}
    for problem in report.problems:
        by_kind.setdefault(problem.kind, []).append(problem)
    assert sorted(by_kind) == ["duplicate", "empty", "non-binary", "orphan", "size", "unreadable"]
    assert {p.path.name for p in by_kind["unreadable"]} == {"train_normal_0.png", "train_normal_1.png"}
    assert "empty file" in str(by_kind["unreadable"][0]) or "empty file" in str(by_kind["unreadable"][1])
    assert by_kind["size"][0].path == masks / "train_defective_0.png"
    assert "8x8 but its image" in by_kind["size"][0].message
    assert "values [1] besides 0 and 255" in by_kind["non-binary"][0].message
    duplicate = by_kind["duplicate"][0].message
    assert "copy.png" in duplicate and "train_normal_2.png" in duplicate and "same content as" in duplicate
    assert by_kind["empty"][0].path == images / "test" / "defective"
    text = report.format()
    for problem in report.problems:
        assert problem.message in text
