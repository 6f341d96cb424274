"""The public Magnetic Tile surface defect dataset -> the design's layout.

Source: ``SRC/MT_<Type>/Imgs/NAME.jpg`` with a same-size mask ``NAME.png``; ``MT_Free`` holds the
defect-free tiles (their empty masks are not copied). The dataset has no official split, so one is
made here: seeded, stratified by type folder, so every defect type appears in train and test.
Files land as ``images/<split>/<class>/<MT_Type>__NAME.jpg`` and ``masks/defective/<MT_Type>__NAME.png``
so the defect type stays visible and names of different types never clash.

Most tiles were photographed several times, under up to six exposures: ``expK_num_N.jpg`` with K
rising 1..6 and N rising, mostly by tens, from one exposure of a tile to the next; the next tile
starts its exposures again. Of the 1344 images, 1224 belong to 204 tiles of six exposures each; there are 73 defective
tiles in all, not 392 defects. An image split would put five exposures of a test tile in training,
so every exposure of one tile is one part (``parts.csv``) and the split keeps it together.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from gain_mtl.data.importers.common import Entry, split_by_group, write_import
from gain_mtl.data.layout import DataError, image_files

NORMAL_TYPE = "MT_Free"
EXPOSURE_NAME = re.compile(r"exp(\d+)_num_(\d+)")
# Largest step in N between two exposures of one tile (measured within tiles: 1-1257). A new tile
# is mostly told by its exposure not rising (90 of the 237 steps between tiles are under 1000);
# the step only separates a tile whose first exposure continues where the previous tile stopped.
MAX_EXPOSURE_STEP = 2000


def tiles(stems: list[str]) -> dict[str, str]:
    """Each image stem of one type folder -> its tile, named by the tile's first image.

    A stem that does not follow ``expK_num_N`` is a tile of its own.
    """
    shots = sorted((int(m[2]), int(m[1]), stem) for stem in stems if (m := EXPOSURE_NAME.fullmatch(stem)))
    tile_of = {stem: stem for stem in stems}
    first, last_num, last_exposure = None, None, None
    for num, exposure, stem in shots:
        if first is None or exposure <= last_exposure or num - last_num > MAX_EXPOSURE_STEP:
            first = stem
        tile_of[stem] = first
        last_num, last_exposure = num, exposure
    return tile_of


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
        images = [i for i in image_files(type_dir / "Imgs") if i.suffix.lower() == ".jpg"]  # .png: masks
        tile_of = tiles([i.stem for i in images])
        for image in images:
            mask = image.with_suffix(".png")
            entries.append(Entry(image=image, mask=mask if mask.is_file() else None, label=label,
                                 group=type_dir.name, name=f"{type_dir.name}__{image.stem}",
                                 part=f"{type_dir.name}__{tile_of[image.stem]}"))
    return entries


def import_magnetic_tile(
    src: str | Path, out: str | Path, test_ratio: float = 0.2, seed: int = 0, force: bool = False
) -> dict[str, Any]:
    """Convert ``src`` into ``out``; returns the manifest also written to ``out/import.json``."""
    src = Path(src)
    entries = split_by_group(plan_magnetic_tile(src), test_ratio, seed)
    meta = {"source": "magnetic-tile", "seed": seed, "test_ratio": test_ratio}
    return write_import(out, entries, src, meta, force=force)
