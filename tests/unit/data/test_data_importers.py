"""Importers: Magnetic Tile (real data, skipped when absent) and an MVTec AD tree built here."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from gain_mtl.data.check import check_dataset
from gain_mtl.data.importers.common import split_by_group
from gain_mtl.data.importers.magnetic_tile import import_magnetic_tile, plan_magnetic_tile
from gain_mtl.data.importers.mvtec import import_mvtec
from gain_mtl.data.io import read_mask
from gain_mtl.data.layout import DataError, scan_dataset

from tests.unit.data.datafiles import mvtec_tree


@pytest.fixture(scope="module")
def imported_tiles(magnetic_tile_root: Path, tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("mt") / "data"
    return out, import_magnetic_tile(magnetic_tile_root, out, test_ratio=0.2, seed=0)


@pytest.mark.realdata
def test_magnetic_tile_counts_and_layout(imported_tiles):
    out, manifest = imported_tiles
    samples = scan_dataset(out)
    assert Counter(s.label for s in samples) == {0: 952, 1: 392}
    assert all(s.has_mask for s in samples if s.label == 1)
    assert not any(s.has_mask for s in samples if s.label == 0)
    for group, counts in manifest["counts"].items():  # stratified: every type in both splits
        assert counts["test"] > 0 and counts["train"] > 0, group
    # Every exposure of a tile is one part, on one side of the split; 0.2 of each type's tiles in test.
    tiles: dict[str, set] = {}
    for record in manifest["files"]:
        tiles.setdefault(record["part"], set()).add((record["group"], record["split"]))
    assert manifest["parts"] == len(tiles) == 243 and all(len(where) == 1 for where in tiles.values())
    for group in manifest["counts"]:
        sides = [next(iter(where))[1] for where in tiles.values() if next(iter(where))[0] == group]
        assert sides.count("test") == round(0.2 * len(sides)), group
    assert {s.part for s in samples} == set(tiles)
    assert sum(c["test"] for c in manifest["counts"].values()) == len([s for s in samples if s.split == "test"])
    crack = next(s for s in samples if s.image.name.startswith("MT_Crack__"))
    assert crack.label == 1 and crack.image.suffix == ".jpg" and crack.mask.name == crack.image.stem + ".png"


@pytest.mark.realdata
def test_magnetic_tile_manifest_and_clean_check(imported_tiles, magnetic_tile_root):
    out, manifest = imported_tiles
    assert json.loads((out / "import.json").read_text()) == manifest
    record = next(f for f in manifest["files"] if f["group"] == "MT_Blowhole" and f["mask"])
    assert record["source"].startswith("MT_Blowhole/Imgs/") and record["image"].startswith("images/")
    source = (magnetic_tile_root / record["source"]).read_bytes()
    assert (out / record["image"]).read_bytes() == source  # image bytes copied, not re-encoded
    # Source masks carry anti-aliasing grey levels; imported ones are 0/255.
    mask = read_mask(out / record["mask"], None)
    assert mask.shape == read_mask(magnetic_tile_root / record["mask_source"], None).shape
    report = check_dataset(out)
    assert report.ok, report.format()


@pytest.mark.realdata
def test_magnetic_tile_split_is_deterministic_by_seed(magnetic_tile_root):
    plan = plan_magnetic_tile(magnetic_tile_root)
    a, b = split_by_group(plan, 0.2, seed=0), split_by_group(list(reversed(plan)), 0.2, seed=0)
    assert a == b
    other = split_by_group(plan, 0.2, seed=1)
    assert {e.name for e in a if e.split == "test"} != {e.name for e in other if e.split == "test"}


def test_magnetic_tile_wrong_source_is_named(tmp_path):
    with pytest.raises(DataError, match=f"{tmp_path}: not the Magnetic Tile dataset"):
        import_magnetic_tile(tmp_path, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_mvtec_tree_imports_with_type_prefixed_names(tmp_path):
    src = mvtec_tree(tmp_path / "bottle")
    manifest = import_mvtec(src, tmp_path / "out", test_ratio=0.5, seed=0)
    samples = scan_dataset(tmp_path / "out")
    assert Counter((s.split, s.label) for s in samples) == {
        ("train", 0): 5, ("test", 0): 1, ("train", 1): 2, ("test", 1): 2}
    defective = {s.image.stem: s for s in samples if s.label == 1}
    assert set(defective) == {"test_crack__000", "test_crack__001", "test_scratch__000", "test_scratch__001"}
    assert {s.image.stem for s in samples if s.label == 0} >= {"train_good__000", "train_good__003"}
    assert not defective["test_scratch__001"].has_mask
    assert all(defective[f"test_crack__{i:03d}"].has_mask for i in range(2))
    # Each defect type lands in both splits; the manifest says where each file came from.
    for kind in ("crack", "scratch"):
        assert {s.split for s in defective.values() if f"_{kind}__" in s.image.stem} == {"train", "test"}
    record = next(f for f in manifest["files"] if f["image"].endswith("test_crack__001.png"))
    assert record["source"] == "test/crack/001.png" and record["mask_source"] == "ground_truth/crack/001_mask.png"
    assert manifest["category"] == "bottle"
    assert check_dataset(tmp_path / "out").ok


def test_mvtec_wrong_source_is_named(tmp_path):
    (tmp_path / "bottle" / "test").mkdir(parents=True)
    with pytest.raises(DataError, match="not an MVTec AD category folder.*train/good"):
        import_mvtec(tmp_path / "bottle", tmp_path / "out")


def test_import_refuses_existing_output_unless_forced(tmp_path):
    src = mvtec_tree(tmp_path / "bottle")
    (tmp_path / "out").mkdir()
    with pytest.raises(FileExistsError, match="pass --force"):
        import_mvtec(src, tmp_path / "out")
    import_mvtec(src, tmp_path / "out", force=True)
    assert (tmp_path / "out" / "import.json").is_file()
    assert np.array_equal(read_mask(tmp_path / "out" / "masks" / "defective" / "test_crack__000.png", None),
                          read_mask(src / "ground_truth" / "crack" / "000_mask.png", None))


def test_a_mask_opencv_cannot_write_is_named_and_leaves_nothing(tmp_path, monkeypatch):
    import cv2

    src = mvtec_tree(tmp_path / "bottle")
    monkeypatch.setattr(cv2, "imwrite", lambda path, image: False)
    with pytest.raises(DataError, match=r"masks/defective/test_crack__000\.png: OpenCV could not write"):
        import_mvtec(src, tmp_path / "out", test_ratio=0.5, seed=0)
    assert not (tmp_path / "out").exists()


def test_a_readme_in_a_source_folder_is_skipped(tmp_path):
    src = mvtec_tree(tmp_path / "bottle")
    (src / "train" / "good" / "readme.txt").write_text("license")
    import_mvtec(src, tmp_path / "out", test_ratio=0.5, seed=0)
    assert Counter(s.label for s in scan_dataset(tmp_path / "out")) == {0: 6, 1: 4}


def test_magnetic_tile_exposures_of_one_tile_are_one_part():
    from gain_mtl.data.importers.magnetic_tile import tiles

    stems = ["exp1_num_100", "exp2_num_130", "exp3_num_161",  # one tile, exposures rising
             "exp1_num_400",                                 # exposure falls back: a new tile
             "exp4_num_3000",                                # exposure rises, but thousands later: new
             "exp5_num_3020", "odd_name"]
    assert tiles(stems) == {"exp1_num_100": "exp1_num_100", "exp2_num_130": "exp1_num_100",
                            "exp3_num_161": "exp1_num_100", "exp1_num_400": "exp1_num_400",
                            "exp4_num_3000": "exp4_num_3000", "exp5_num_3020": "exp4_num_3000",
                            "odd_name": "odd_name"}
