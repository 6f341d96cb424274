"""One MVTec AD category -> the design's layout.

Source (a category folder such as ``bottle/``): ``train/good/``, ``test/good/``,
``test/<type>/NAME.png`` and ``ground_truth/<type>/NAME_mask.png``.

MVTec AD's own split has no defective images for training (it was made for methods that learn
from good parts only), but GAIN-MTL learns from defects and their masks. So ``train/good`` stays in
train, and every folder of ``test/`` (``good`` and each defect type) is divided into train and test
by ``test_ratio``, seeded per type. Every destination name carries its source folder
(``test_crack__000.png``), because MVTec numbers the images of each type from 000.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gain_mtl.data.importers.common import Entry, split_by_group, write_import
from gain_mtl.data.layout import DataError, image_files

GOOD = "good"


def _entries(folder: Path, group: str, label: int, masks: Path | None) -> list[Entry]:
    out = []
    for image in image_files(folder):
        mask = masks / f"{image.stem}_mask.png" if masks is not None else None
        out.append(Entry(image=image, mask=mask if mask is not None and mask.is_file() else None,
                         label=label, group=group, name=f"{folder.parent.name}_{group}__{image.stem}"))
    return out


def plan_mvtec(src: Path) -> tuple[list[Entry], list[Entry]]:
    """(train/good entries, test/* entries) of one category folder."""
    train_good, test_dir = src / "train" / GOOD, src / "test"
    if not train_good.is_dir() or not test_dir.is_dir():
        raise DataError(
            f"{src}: not an MVTec AD category folder (needs train/good/ and test/); pass a "
            "category folder such as mvtec_anomaly_detection/bottle"
        )
    test_entries = []
    for folder in sorted(d for d in test_dir.iterdir() if d.is_dir()):
        label = int(folder.name != GOOD)
        masks = src / "ground_truth" / folder.name if label else None
        test_entries += _entries(folder, folder.name, label, masks)
    if not any(e.label for e in test_entries):
        raise DataError(f"{test_dir}: no defect type folders (test/<type>/); nothing to learn defects from")
    return _entries(train_good, GOOD, 0, None), test_entries


def import_mvtec(
    src: str | Path, out: str | Path, test_ratio: float = 0.5, seed: int = 0, force: bool = False
) -> dict[str, Any]:
    """Convert one category folder into ``out``; returns the manifest also in ``out/import.json``."""
    src = Path(src)
    train_good, test_entries = plan_mvtec(src)
    entries = train_good + split_by_group(test_entries, test_ratio, seed)
    meta = {"source": "mvtec-ad", "category": src.resolve().name, "seed": seed, "test_ratio": test_ratio}
    return write_import(out, entries, src, meta, force=force)
