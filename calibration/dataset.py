"""The calibration set: held-out normals and defects as the exact batches the edge feeds.

INT8 scales are only as good as the images they were measured on. They come from the run's
validation split (never train: the model has memorised it; never test: the INT8 gate measures on
it), hold both classes (a set of normals alone calibrates away the activations defects produce) and
reach the network as the edge delivers frames: uint8, NHWC, BGR, resized by the edge's own
``resize_frame``. Every INT8 route (OpenVINO, ONNX Q/DQ, TensorRT) iterates the same object.
"""

from __future__ import annotations

import hashlib
import math
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from calibration.errors import CalibrationError

# Below this many images the ranges are noisy; still usable, so a warning rather than an error.
RECOMMENDED_SIZE = 300
MANIFEST_FORMAT = "gain-mtl-calibration/1"


@dataclass(frozen=True)
class LabelledImage:
    """One held-out image: its file and its class (0 normal, 1 defective)."""

    path: Path
    label: int


def select_stratified(
    items: Sequence[LabelledImage], size: int, min_defect_ratio: float, seed: int
) -> list[LabelledImage]:
    """Up to ``size`` images with at least ``min_defect_ratio`` defective, chosen with ``seed``.

    Defects get their natural share or the minimum ratio, whichever is larger; when too few
    defects exist, normals are cut so the ratio still holds. The order is shuffled so that every
    batch mixes both classes.
    """
    if size < 1:
        raise CalibrationError(f"calibration size must be at least 1, got {size}")
    if not 0.0 <= min_defect_ratio < 1.0:
        raise CalibrationError(f"minimum defect ratio must be in [0, 1), got {min_defect_ratio}")
    normals = [it for it in items if it.label == 0]
    defects = [it for it in items if it.label == 1]
    missing = [name for name, group in (("normal", normals), ("defective", defects)) if not group]
    if missing:
        raise CalibrationError(
            f"the validation split has no {' and no '.join(missing)} images; INT8 calibration needs "
            "both classes: add such images to the data folder or re-split with a larger val_ratio"
        )
    total = min(size, len(items))
    natural = round(total * len(defects) / len(items))
    n_def = min(len(defects), max(math.ceil(min_defect_ratio * total), natural))
    n_norm = min(len(normals), total - n_def)
    if min_defect_ratio > 0:
        n_norm = min(n_norm, math.floor(n_def * (1 - min_defect_ratio) / min_defect_ratio))
    rng = np.random.default_rng(seed)
    chosen = [defects[i] for i in rng.permutation(len(defects))[:n_def]]
    chosen += [normals[i] for i in rng.permutation(len(normals))[:n_norm]]
    return [chosen[i] for i in rng.permutation(len(chosen))]


def load_frame(path: Path, image_size: int) -> np.ndarray:
    """An image as the edge sees a camera frame: BGR uint8 (S, S, 3), resized by the edge."""
    import cv2

    from edge.preprocess import resize_frame

    frame = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if frame is None:
        raise CalibrationError(f"cannot read calibration image {path}: missing or not an image")
    return resize_frame(frame, image_size, image_size)


class CalibrationSet:
    """The chosen images, loaded once, iterable any number of times as uint8 NHWC BGR batches."""

    def __init__(self, items: Sequence[LabelledImage], image_size: int, batch_size: int = 8) -> None:
        if not items:
            raise CalibrationError("calibration set is empty")
        self.items = list(items)
        self.image_size = image_size
        self.batch_size = batch_size
        self.images = np.stack([load_frame(it.path, image_size) for it in self.items])
        self.labels = np.array([it.label for it in self.items], dtype=np.int64)

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self) -> Iterator[np.ndarray]:
        for start in range(0, len(self.images), self.batch_size):
            yield self.images[start : start + self.batch_size]

    @property
    def num_batches(self) -> int:
        return math.ceil(len(self.images) / self.batch_size)

    def manifest(self, data_root: Path, source: dict[str, Any] | None = None) -> dict[str, Any]:
        """What was calibrated on, for ``calibration/manifest.json`` and the bundle summary."""
        root = Path(data_root).resolve()
        files = [_relative(it.path, root) for it in self.items]
        n_def = int(self.labels.sum())
        return {
            "format": MANIFEST_FORMAT,
            "split": "val",
            "size": len(self.items),
            "defective": n_def,
            "normal": len(self.items) - n_def,
            "defect_ratio": round(n_def / len(self.items), 4),
            "image_size": self.image_size,
            "batch_size": self.batch_size,
            "layout": "NHWC",
            "dtype": "uint8",
            "channel_order": "BGR",
            "images_sha256": hashlib.sha256(self.images.tobytes()).hexdigest(),
            **(source or {}),
            "images": [{"path": f, "label": int(it.label)} for f, it in zip(files, self.items)],
        }


def build_calibration_set(
    val_items: Sequence[LabelledImage],
    image_size: int,
    size: int = RECOMMENDED_SIZE,
    min_defect_ratio: float = 0.3,
    seed: int = 0,
    batch_size: int = 8,
) -> CalibrationSet:
    """Choose and load the calibration images from the validation split's items."""
    chosen = select_stratified(val_items, size, min_defect_ratio, seed)
    if len(chosen) < RECOMMENDED_SIZE:
        warnings.warn(
            f"calibrating INT8 on {len(chosen)} images (fewer than {RECOMMENDED_SIZE}): scales may be "
            "noisy; a larger validation split gives steadier INT8 results",
            stacklevel=2,
        )
    return CalibrationSet(chosen, image_size, batch_size)


def _relative(path: Path, root: Path) -> str:
    resolved = Path(path).resolve()
    return resolved.relative_to(root).as_posix() if resolved.is_relative_to(root) else str(path)
