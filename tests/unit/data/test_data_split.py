"""Train/val split: seeded, stratified, disjoint; the manifest round-trips with relative paths."""

from __future__ import annotations

import json
import re
import shutil

import pytest

from gain_mtl.data.layout import DataError, scan_dataset
from gain_mtl.data.split import make_split, read_manifest, write_manifest

COUNTS = {("train", "normal"): 20, ("train", "defective"): 10, ("test", "normal"): 3, ("test", "defective"): 2}


def test_split_is_deterministic_for_a_seed(make_dataset):
    samples = scan_dataset(make_dataset(COUNTS))
    a, b = make_split(samples, 0.2, seed=3), make_split(list(reversed(samples)), 0.2, seed=3)
    assert a.to_json() == b.to_json()
    assert a.digest() == b.digest()
    assert make_split(samples, 0.2, seed=4).digest() != a.digest()


def test_split_is_disjoint_stratified_and_keeps_test(make_dataset):
    samples = scan_dataset(make_dataset(COUNTS))
    manifest = make_split(samples, 0.2, seed=0)
    parts = {name: {s.image for s in items} for name, items in manifest.parts().items()}
    assert not parts["train"] & parts["val"] and not parts["val"] & parts["test"]
    assert not parts["train"] & parts["test"]
    assert parts["train"] | parts["val"] | parts["test"] == {s.image for s in samples}
    assert [s.label for s in manifest.val].count(0) == 4  # 20% of 20 normals
    assert [s.label for s in manifest.val].count(1) == 2  # 20% of 10 defectives
    assert {s.image for s in manifest.test} == {s.image for s in samples if s.split == "test"}
    assert {s.split for s in manifest.val} == {"val"}


def test_small_class_is_never_missing_from_val(make_dataset):
    counts = {("train", "normal"): 10, ("train", "defective"): 2}
    manifest = make_split(scan_dataset(make_dataset(counts)), 0.2, seed=0)
    assert sorted(s.label for s in manifest.val) == [0, 0, 1]
    assert [s.label for s in manifest.train].count(1) == 1


def test_manifest_is_relative_and_round_trips_under_another_root(make_dataset, tmp_path):
    root = make_dataset(COUNTS)
    manifest = make_split(scan_dataset(root), 0.25, seed=1)
    path = write_manifest(manifest, tmp_path / "run" / "split.json")
    raw = json.loads(path.read_text())
    entries = raw["train"] + raw["val"] + raw["test"]
    assert all(not e["image"].startswith("/") and e["image"].startswith("images/") for e in entries)
    assert str(tmp_path) not in path.read_text()
    assert raw["counts"] == {"train": len(manifest.train), "val": len(manifest.val), "test": 5}

    moved = tmp_path / "elsewhere"
    shutil.copytree(root, moved)
    again = read_manifest(path, moved)
    assert again.digest() == manifest.digest()
    assert again.val[0].image == moved / raw["val"][0]["image"]
    assert [s.has_mask for s in again.train] == [s.has_mask for s in manifest.train]


def test_edited_manifest_and_wrong_root_are_refused(make_dataset, tmp_path):
    root = make_dataset(COUNTS)
    path = write_manifest(make_split(scan_dataset(root), 0.2, seed=1), tmp_path / "split.json")
    with pytest.raises(DataError, match="does not exist; pass the data root"):
        read_manifest(path, tmp_path / "nowhere")
    raw = json.loads(path.read_text())
    raw["val"].append(raw["train"].pop())
    path.write_text(json.dumps(raw))
    with pytest.raises(DataError, match="do not match its digest"):
        read_manifest(path, root)


@pytest.mark.parametrize("ratio", [-0.1, 1.0])
def test_bad_ratio_is_refused(make_dataset, ratio):
    with pytest.raises(DataError, match=f"split ratio {ratio} must be in"):
        make_split(scan_dataset(make_dataset()), ratio, seed=0)


@pytest.mark.parametrize("edit, fragment", [
    (lambda raw: raw["train"][0].pop("label"), "'train' list lacks the key 'label'"),
    (lambda raw: raw["val"].append("images/train/normal/x.png"), "'val' list is malformed"),
    (lambda raw: raw["test"][0].update(label="defective"), "'test' list is malformed"),
])
def test_a_manifest_entry_without_its_keys_is_named(make_dataset, tmp_path, edit, fragment):
    root = make_dataset(COUNTS)
    path = write_manifest(make_split(scan_dataset(root), 0.2, seed=1), tmp_path / "split.json")
    raw = json.loads(path.read_text())
    edit(raw)
    path.write_text(json.dumps(raw))
    with pytest.raises(DataError, match=re.escape(f"{path}: an entry of its {fragment}")):
        read_manifest(path, root)


def test_a_manifest_that_is_no_json_object_is_named(make_dataset, tmp_path):
    path = tmp_path / "split.json"
    path.write_text("[]")
    with pytest.raises(DataError, match=re.escape(f"{path}: not a split manifest") + ".*a JSON list"):
        read_manifest(path, make_dataset(COUNTS))


def _write_parts(root, rows) -> None:
    (root / "parts.csv").write_text("image,part\n" + "".join(f"{image},{part}\n" for image, part in rows))


def test_images_of_one_part_stay_together_and_without_parts_the_split_is_unchanged(make_dataset):
    root = make_dataset(COUNTS)
    before = make_split(scan_dataset(root), 0.2, seed=0)
    # Two normals and two defectives are the same two parts, shot twice each.
    normals = sorted((root / "images" / "train" / "normal").iterdir())
    defects = sorted((root / "images" / "train" / "defective").iterdir())
    pairs = [(normals[0], "tile-a"), (normals[1], "tile-a"), (defects[0], "tile-b"), (defects[5], "tile-b")]
    _write_parts(root, [(p.relative_to(root).as_posix(), part) for p, part in pairs])
    samples = scan_dataset(root)
    assert {s.image: s.part for s in samples if s.part} == {p.resolve(): part for p, part in pairs}
    for seed in range(8):  # whatever the draw, a part is on one side
        manifest = make_split(samples, 0.2, seed=seed)
        for part in ("tile-a", "tile-b"):
            assert len({name for name, items in manifest.parts().items() for s in items if s.part == part}) == 1
    # ratio counts parts: 19 normal parts -> 4 held, 9 defective parts -> 2 held (as in round(n * 0.2))
    manifest = make_split(samples, 0.2, seed=0)
    assert len({s.part or s.image for s in manifest.val if s.label == 0}) == 4
    assert len({s.part or s.image for s in manifest.val if s.label == 1}) == 2
    # a dataset without parts.csv splits exactly as before
    (root / "parts.csv").unlink()
    assert make_split(scan_dataset(root), 0.2, seed=0).digest() == before.digest()


def test_the_manifest_keeps_the_parts_and_names_none_where_there_are_none(make_dataset, tmp_path):
    root = make_dataset(COUNTS)
    plain = json.loads(write_manifest(make_split(scan_dataset(root), 0.2, seed=0), tmp_path / "a.json").read_text())
    # Without parts.csv the entries are the three keys they always were, so old digests still hold.
    assert all(set(e) == {"image", "label", "mask"} for name in ("train", "val", "test") for e in plain[name])
    defects = sorted((root / "images" / "train" / "defective").iterdir())
    _write_parts(root, [(p.relative_to(root).as_posix(), "tile-b") for p in defects[:3]])
    manifest = make_split(scan_dataset(root), 0.2, seed=0)
    path = write_manifest(manifest, tmp_path / "b.json")
    again = read_manifest(path, root)
    assert [s.part for s in again.train + again.val] == [s.part for s in manifest.train + manifest.val]
    assert sum(s.part == "tile-b" for s in again.train + again.val) == 3
    # The parts are part of what the digest covers: the same files with parts named are another split.
    assert again.digest() == manifest.digest() != plain["digest"]
    raw = json.loads(path.read_text())
    assert sum("part" in e for name in ("train", "val", "test") for e in raw[name]) == 3


def test_a_digest_recorded_before_manifests_named_parts_still_matches(make_dataset, tmp_path):
    """Runs made before the manifest carried parts resume, evaluate and export on the same files."""
    root = make_dataset(COUNTS)
    defects = sorted((root / "images" / "train" / "defective").iterdir())
    _write_parts(root, [(p.relative_to(root).as_posix(), "tile-b") for p in defects[:3]])
    manifest = make_split(scan_dataset(root), 0.2, seed=0)
    old = manifest.digest(parts=False)
    assert old != manifest.digest() and manifest.matches(old) and manifest.matches(manifest.digest())
    assert not make_split(scan_dataset(root), 0.2, seed=1).matches(old)
    raw = manifest.to_json()
    for name in ("train", "val", "test"):  # split.json as written before: no part keys, the old digest
        raw[name] = [{k: v for k, v in e.items() if k != "part"} for e in raw[name]]
    raw["digest"] = old
    path = tmp_path / "split.json"
    path.write_text(json.dumps(raw))
    assert read_manifest(path, root).digest() == old


def test_a_part_shot_good_and_defective_stays_on_one_side(make_dataset):
    root = make_dataset(COUNTS)
    normals = sorted((root / "images" / "train" / "normal").iterdir())
    defects = sorted((root / "images" / "train" / "defective").iterdir())
    # One part seen twice good and once defective (a defect visible from one view only).
    _write_parts(root, [(p.relative_to(root).as_posix(), "tile-m") for p in (normals[3], normals[9], defects[2])])
    samples = scan_dataset(root)
    sides = set()
    for seed in range(12):
        manifest = make_split(samples, 0.3, seed=seed)
        where = {name for name, items in manifest.parts().items() for s in items if s.part == "tile-m"}
        assert len(where) == 1
        sides |= where
    assert sides == {"train", "val"}  # counted with the defectives, it is drawn like them, both ways
