"""Seeded, stratified train/val split, recorded as a manifest in the run folder.

The manifest (``split.json``) lists every file of train, val and test with paths relative to the
data root, and the part each shows where ``parts.csv`` names one (the threshold ranks parts), so a
run can be reproduced on another machine and the INT8 calibration set can later be drawn from val
only. Its digest covers the file lists (and parts) alone, so the same split has the same digest
wherever the data lives.
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Sequence, TypeVar

from edge.atomic import read_json
from gain_mtl.data.layout import DataError, Sample, data_root_of

MANIFEST_FORMAT = "gain-mtl-split/1"
PARTS = ("train", "val", "test")
T = TypeVar("T")


def holdout(items: Sequence[T], ratio: float, rng: random.Random) -> tuple[list[T], list[T]]:
    """Shuffle ``items`` with ``rng`` and hold out ``round(len * ratio)`` of them.

    Any group of two or more keeps at least one item on each side when ``0 < ratio < 1``, so a
    small class is never missing from either part. Returns ``(kept, held)`` in the input's order.
    """
    if not 0.0 <= ratio < 1.0:
        raise DataError(f"split ratio {ratio} must be in [0, 1)")
    n = len(items)
    n_held = round(n * ratio)
    if ratio > 0 and n >= 2:
        n_held = min(max(n_held, 1), n - 1)
    order = list(range(n))
    rng.shuffle(order)
    held = set(order[:n_held])
    return [x for i, x in enumerate(items) if i not in held], [x for i, x in enumerate(items) if i in held]


@dataclass
class SplitManifest:
    """The three parts of a run's data; ``root`` turns the manifest's relative paths absolute."""

    root: Path
    train: list[Sample]
    val: list[Sample]
    test: list[Sample]
    seed: int | None = None
    val_ratio: float | None = None

    def parts(self) -> dict[str, list[Sample]]:
        return {"train": self.train, "val": self.val, "test": self.test}

    def _entry(self, sample: Sample, parts: bool = True) -> dict[str, Any]:
        def rel(path: Path) -> str:
            try:
                return path.relative_to(self.root).as_posix()
            except ValueError:
                raise DataError(
                    f"{path} is not under the data root {self.root}; a manifest records paths "
                    "relative to one root, so keep every sample in one dataset folder"
                ) from None

        entry = {"image": rel(sample.image), "label": sample.label,
                 "mask": rel(sample.mask) if sample.mask else None}
        # Only where named, so a manifest of a dataset without parts (and its digest) stays as it was.
        return entry if sample.part is None or not parts else {**entry, "part": sample.part}

    def _lists(self, parts: bool = True) -> dict[str, list[dict[str, Any]]]:
        return {name: [self._entry(s, parts) for s in samples] for name, samples in self.parts().items()}

    def digest(self, parts: bool = True) -> str:
        """sha256 of the file lists (relative paths, labels, masks, parts), recorded in checkpoints."""
        payload = json.dumps(self._lists(parts), sort_keys=True, separators=(",", ":")).encode()
        return hashlib.sha256(payload).hexdigest()

    def matches(self, digest: str | None) -> bool:
        """Whether ``digest`` is this split's: as recorded now, or as a run recorded it before
        manifests named parts (the same files, labels and masks), so such runs still resume,
        evaluate and export."""
        return digest in (self.digest(), self.digest(parts=False))

    def to_json(self) -> dict[str, Any]:
        lists = self._lists()
        return {"format": MANIFEST_FORMAT, "seed": self.seed, "val_ratio": self.val_ratio,
                "digest": self.digest(),
                "counts": {name: len(items) for name, items in lists.items()}, **lists}

    @classmethod
    def from_json(cls, data: dict[str, Any], root: str | Path) -> SplitManifest:
        """Rebuild a manifest under ``root``; raises DataError if it was edited or is another format.

        The messages do not name the file: :func:`read_manifest`, which knows it, prefixes them.
        """
        if not isinstance(data, dict) or data.get("format") != MANIFEST_FORMAT:
            found = data.get("format") if isinstance(data, dict) else f"a JSON {type(data).__name__}"
            raise DataError(
                f"not a split manifest of this kit (format {found!r}, expected {MANIFEST_FORMAT!r})"
            )
        root = Path(root).resolve()
        parts = {}
        for name in PARTS:
            try:
                parts[name] = [
                    Sample(image=root / e["image"], label=int(e["label"]), split=name,
                           mask=root / e["mask"] if e.get("mask") else None, part=e.get("part"))
                    for e in data.get(name, [])
                ]
            except (KeyError, TypeError, ValueError) as exc:
                problem = f"lacks the key {exc}" if isinstance(exc, KeyError) else f"is malformed ({exc})"
                raise DataError(
                    f"an entry of its {name!r} list {problem} (edited by hand?); make a new split "
                    "instead of editing one"
                ) from None
        manifest = cls(root=root, seed=data.get("seed"), val_ratio=data.get("val_ratio"), **parts)
        if data.get("digest") is not None and not manifest.matches(data["digest"]):
            raise DataError(
                "split manifest's file lists do not match its digest (edited by hand?); "
                "make a new split instead of editing one"
            )
        return manifest


def by_part(items: Sequence[T], part_of: Callable[[T], str | None]) -> list[list[T]]:
    """``items`` grouped by their part, in order of first appearance; an item without one is its own."""
    groups: dict[object, list[T]] = {}
    for i, item in enumerate(items):
        part = part_of(item)
        groups.setdefault(("part", part) if part is not None else ("item", i), []).append(item)
    return list(groups.values())


def holdout_parts(items: Sequence[T], ratio: float, rng: random.Random,
                  part_of: Callable[[T], str | None]) -> tuple[list[T], list[T]]:
    """:func:`holdout` over whole parts: every image of a part lands on the same side.

    ``ratio`` counts parts, not images. Items that share no part split exactly as :func:`holdout`
    splits them, so a dataset without parts keeps the split it always had.
    """
    kept, held = holdout(by_part(items, part_of), ratio, rng)
    return [x for group in kept for x in group], [x for group in held for x in group]


def make_split(samples: Sequence[Sample], val_ratio: float, seed: int) -> SplitManifest:
    """Hold out ``val_ratio`` of each class of the train split as val; test stays as on disk.

    Deterministic for a seed: samples are sorted first, each class is shuffled by its own
    generator, so adding normals never reshuffles the defectives. The images of one part
    (``parts.csv``, edge/layout.py) stay together, counted with the defectives when any of them is
    one: validation holds parts the model never saw.
    """
    if not samples:
        raise DataError("no samples to split; scan a dataset folder first")
    roots = {data_root_of(s) for s in samples}
    if len(roots) != 1:
        raise DataError(f"samples come from several data roots ({', '.join(map(str, sorted(roots)))}); use one")
    ordered = sorted(samples, key=lambda s: str(s.image))
    # A part is stratified by its worst image, so a part shot both good and defective stays whole.
    part_label: dict[str, int] = {}
    for s in ordered:
        if s.part is not None and s.split == "train":
            part_label[s.part] = max(part_label.get(s.part, s.label), s.label)
    train: list[Sample] = []
    val: list[Sample] = []
    for label in sorted({s.label for s in ordered}):
        group = [s for s in ordered if s.split == "train" and part_label.get(s.part, s.label) == label]
        kept, held = holdout_parts(group, val_ratio, random.Random(f"{seed}:{label}"), lambda s: s.part)
        train += [replace(s, split="train") for s in kept]
        val += [replace(s, split="val") for s in held]
    test = [s for s in ordered if s.split == "test"]
    if not train:
        raise DataError("no training samples: the dataset's images/train/ is empty")
    return SplitManifest(root=roots.pop(), train=train, val=val, test=test, seed=seed,
                         val_ratio=val_ratio)


def write_manifest(manifest: SplitManifest, path: str | Path) -> Path:
    """Write ``split.json`` atomically, paths relative to the data root."""
    from edge.atomic import atomic_write_json

    return atomic_write_json(path, manifest.to_json())


def read_manifest(path: str | Path, root: str | Path) -> SplitManifest:
    """Read a split manifest and check that every file it lists exists under ``root``."""
    path = Path(path)
    data = read_json(path, DataError, "split manifest not found; train once to make it", fix="make a new split")
    try:
        manifest = SplitManifest.from_json(data, root)
    except DataError as exc:
        raise DataError(f"{path}: {exc}") from None
    for samples in manifest.parts().values():
        for s in samples:
            for file in (s.image, s.mask):
                if file is not None and not file.is_file():
                    raise DataError(
                        f"{path} lists {file}, which does not exist; pass the data root this "
                        "split was made from"
                    )
    return manifest
