"""What every importer shares: a plan of files, a seeded split per group, an atomic write.

An importer only reads its source layout into :class:`Entry` records; :func:`write_import` copies
them (image bytes unchanged, masks binarised to 0/255 PNG) into a temporary folder, writes the
``import.json`` manifest (source -> destination, per-group counts) and, where the source shows
one part in several images, ``parts.csv`` (edge/layout.py), and renames the folder into place, so
a failed import leaves nothing behind.
"""

from __future__ import annotations

import csv
import random
import shutil
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Iterable

from gain_mtl.data.layout import CLASS_NAMES, DATASET_WHAT, PARTS_COLUMNS, PARTS_FILE, written_dataset
from gain_mtl.data.split import holdout_parts

IMPORT_FORMAT = "gain-mtl-import/1"


@dataclass(frozen=True)
class Entry:
    """One source image (and mask) and where it goes; ``group`` is its defect type or "good"."""

    image: Path
    mask: Path | None
    label: int
    group: str
    name: str  # destination stem; unique over the whole dataset
    split: str = "train"
    part: str | None = None  # the physical part shown, where the source has several images of one


def split_by_group(entries: Iterable[Entry], test_ratio: float, seed: int) -> list[Entry]:
    """Assign train/test within each group (seeded per group), so every type is in both splits;
    the images of one part go to the same split, and ``test_ratio`` counts parts."""
    groups: dict[str, list[Entry]] = {}
    for entry in entries:
        groups.setdefault(entry.group, []).append(entry)
    out = []
    for group, members in sorted(groups.items()):
        members.sort(key=lambda e: e.name)
        train, test = holdout_parts(members, test_ratio, random.Random(f"{seed}:{group}"), lambda e: e.part)
        out += [replace(e, split="train") for e in train] + [replace(e, split="test") for e in test]
    return out


def write_import(
    out: str | Path, entries: list[Entry], source_root: Path, meta: dict[str, Any], force: bool = False
) -> dict[str, Any]:
    """Write the entries in the design's layout to ``out`` atomically; returns the manifest."""
    from edge.atomic import atomic_directory, atomic_write_json
    from gain_mtl.data.io import read_mask, write_image

    source_root = source_root.resolve()
    files: list[dict[str, Any]] = []
    counts: dict[str, dict[str, int]] = {}
    with atomic_directory(out, force=force, recognise=written_dataset, what=DATASET_WHAT) as tmp:
        for entry in entries:
            class_dir = f"images/{entry.split}/{CLASS_NAMES[entry.label]}"
            image_rel = f"{class_dir}/{entry.name}{entry.image.suffix.lower()}"
            (tmp / image_rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(entry.image, tmp / image_rel)
            record = {"source": entry.image.resolve().relative_to(source_root).as_posix(),
                      "image": image_rel, "split": entry.split, "group": entry.group, "part": entry.part,
                      "mask_source": None, "mask": None}
            if entry.mask is not None and entry.label == 1:
                mask_rel = f"masks/defective/{entry.name}.png"
                (tmp / mask_rel).parent.mkdir(parents=True, exist_ok=True)
                write_image(tmp / mask_rel, read_mask(entry.mask, None) * 255)
                record.update(mask_source=entry.mask.resolve().relative_to(source_root).as_posix(),
                              mask=mask_rel)
            files.append(record)
            group_counts = counts.setdefault(entry.group, {"train": 0, "test": 0})
            group_counts[entry.split] += 1
        manifest = {"format": IMPORT_FORMAT, **meta, "counts": dict(sorted(counts.items())),
                    "parts": len({f["part"] for f in files if f["part"] is not None}), "files": files}
        if manifest["parts"]:
            _write_parts(tmp / PARTS_FILE, files)
        atomic_write_json(tmp / "import.json", manifest)
    return manifest


def _write_parts(path: Path, files: list[dict[str, Any]]) -> None:
    """``parts.csv``: each image that shows a part, and the part."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(PARTS_COLUMNS)
        writer.writerows((f["image"], f["part"]) for f in files if f["part"] is not None)
