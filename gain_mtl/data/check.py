"""``gainctl data check``: everything wrong with a dataset folder, named at once.

Layout problems come from :func:`gain_mtl.data.layout.scan_layout`; here every file is also
decoded: unreadable images and masks, masks whose size differs from their image, masks that are
not 0/255, and identical files in both splits (a test image that is also trained on makes every
test number a lie). Torch-free, so it runs anywhere the data is.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from gain_mtl.data.io import decode
from gain_mtl.data.layout import CLASS_NAMES, SPLITS, DataError, Problem, Sample, scan_layout


@dataclass
class CheckReport:
    root: Path
    samples: list[Sample] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def counts(self) -> dict[tuple[str, str], tuple[int, int]]:
        """(split, class) -> (images, images with a mask)."""
        table = {(split, name): (0, 0) for split in SPLITS for name in CLASS_NAMES}
        for s in self.samples:
            key = (s.split, CLASS_NAMES[s.label])
            n, masked = table[key]
            table[key] = (n + 1, masked + s.has_mask)
        return table

    def format(self) -> str:
        """A printable table of counts, then every problem (or 'no problems')."""
        rows = [("split", "class", "images", "with mask")]
        rows += [(split, name, str(n), str(m) if name == "defective" else "-")
                 for (split, name), (n, m) in self.counts().items()]
        widths = [max(len(r[i]) for r in rows) for i in range(4)]
        lines = [f"dataset {self.root}"]
        for i, row in enumerate(rows):
            lines.append("  ".join(c.ljust(w) if j < 2 else c.rjust(w)
                                   for j, (c, w) in enumerate(zip(row, widths))).rstrip())
            if i == 0:
                lines.append("  ".join("-" * w for w in widths))
        if self.ok:
            lines.append("no problems found")
        else:
            lines.append(f"{len(self.problems)} problem(s):")
            lines += [f"  [{p.kind}] {p.message}" for p in self.problems]
        return "\n".join(lines)


def _check_pair(sample: Sample, problems: list[Problem]) -> None:
    """Decode the image and its mask; record unreadable files, size mismatches, non-binary masks."""
    import cv2

    try:
        image = decode(sample.image, cv2.IMREAD_UNCHANGED)
    except DataError as exc:
        problems.append(Problem("unreadable", sample.image, str(exc)))
        image = None
    if sample.mask is None:
        return
    try:
        mask = decode(sample.mask, cv2.IMREAD_UNCHANGED)
    except DataError as exc:
        problems.append(Problem("unreadable", sample.mask, str(exc)))
        return
    if image is not None and mask.shape[:2] != image.shape[:2]:
        problems.append(Problem(
            "size", sample.mask,
            f"{sample.mask}: mask is {mask.shape[1]}x{mask.shape[0]} but its image {sample.image} is "
            f"{image.shape[1]}x{image.shape[0]}; remake the mask at the image's size",
        ))
    values = np.unique(mask)
    odd = values[(values != 0) & (values != 255)]
    if mask.ndim != 2 or odd.size:
        detail = f"{mask.ndim}-channel" if mask.ndim != 2 else f"values {odd[:5].tolist()} besides 0 and 255"
        problems.append(Problem(
            "non-binary", sample.mask,
            f"{sample.mask}: mask has {detail}; save it as single-channel 0 (background) / "
            "255 (defect) -- pixels > 127 are read as defect",
        ))


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def check_dataset(root: str | Path) -> CheckReport:
    """Check a dataset folder; never raises for problems in the data, reports them."""
    samples, problems = scan_layout(root)
    report = CheckReport(root=Path(root).resolve(), samples=samples, problems=problems)
    first_seen: dict[str, Sample] = {}
    for sample in samples:
        _check_pair(sample, report.problems)
        if not sample.image.is_file():
            continue
        other = first_seen.setdefault(_digest(sample.image), sample)
        if other.split != sample.split:
            report.problems.append(Problem(
                "duplicate", sample.image,
                f"{sample.image}: same content as {other.image} in the {other.split} split; "
                "remove one so test images are never trained on",
            ))
    return report
