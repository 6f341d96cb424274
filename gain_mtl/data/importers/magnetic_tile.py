"""The public Magnetic Tile surface defect dataset -> the design's layout.

Source: ``SRC/MT_<Type>/Imgs/NAME.jpg`` with a same-size mask ``NAME.png``; ``MT_Free`` holds the
defect-free tiles (their empty masks are not copied). The dataset has no official split, so one is
made here: seeded, stratified by type folder, so every defect type appears in train and test.
Files land as ``images/<split>/<class>/<MT_Type>__NAME.jpg`` and ``masks/defective/<MT_Type>__NAME.png``
so the defect type stays visible and names of different types never clash.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gain_mtl.data.importers.common import Entry, split_by_group, write_import
from gain_mtl.data.layout import DataError, image_files

NORMAL_TYPE = "MT_Free"


def plan_magnetic_tile(src: Path) -> list[Entry]:
    """Every image of the source with its mask and class, before the split."""
    type_dirs = sorted(d for d in src.glob("MT_*") if (d / "Imgs").is_dir()) if src.is_dir() else []
    if not any(d.name == NORMAL_TYPE for d in type_dirs) or len(type_dirs) < 2:
        raise DataError(
            f"{src}: not the Magnetic Tile dataset (needs {NORMAL_TYPE}/Imgs and at least one "
            "defect folder such as MT_Crack/Imgs); pass the folder that holds the MT_* folders"
        )
    entries = []
    for type_dir in type_dirs:
        label = int(type_dir.name != NORMAL_TYPE)
        for image in image_files(type_dir / "Imgs"):
            if image.suffix.lower() != ".jpg":
                continue  # the .png files are the masks
            mask = image.with_suffix(".png")
            entries.append(Entry(image=image, mask=mask if mask.is_file() else None, label=label,
                                 group=type_dir.name, name=f"{type_dir.name}__{image.stem}"))
    return entries


def import_magnetic_tile(
    src: str | Path, out: str | Path, test_ratio: float = 0.2, seed: int = 0, force: bool = False
) -> dict[str, Any]:
    """Convert ``src`` into ``out``; returns the manifest also written to ``out/import.json``."""
    src = Path(src)
    entries = split_by_group(plan_magnetic_tile(src), test_ratio, seed)
    meta = {"source": "magnetic-tile", "seed": seed, "test_ratio": test_ratio}
    return write_import(out, entries, src, meta, force=force)
