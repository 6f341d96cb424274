"""Accuracy per benchmark row on a dataset's test split, so speed and quality sit side by side.

Reads the design's layout (``images/test/{normal,defective}``, ``masks/defective/<stem>.*``) with
OpenCV and resizes with the camera's own ``resize_frame``: the numbers are those of the frames the
edge would see, computed without torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edge.bench.schema import BenchError
from edge.decision import accepts, valid_scores
from edge.preprocess import resize_frame
from edge.sources import IMAGE_SUFFIXES, ImageFolderSource, SourceError

CLASS_DIRS = (("normal", 0), ("defective", 1))


@dataclass
class TestSplit:
    images: np.ndarray  # (N, H, W, 3) uint8 in the graph's channel order
    labels: np.ndarray  # (N,) 0 normal, 1 defective
    masks: list[np.ndarray | None]  # (H, W) bool at input size, None where a defect has no mask
    names: list[str]


def load_test_split(root: str | Path, height: int, width: int, channel_order: str = "BGR") -> TestSplit:
    """Every test image of ``root`` resized to the graph's input; BenchError if either class is empty."""
    import cv2

    root = Path(root)
    masks_dir = root / "masks" / "defective"
    images, labels, masks, names = [], [], [], []
    for class_name, label in CLASS_DIRS:
        # Listed as `gainctl run --source FOLDER` lists them, so both see the same files.
        folder = ImageFolderSource(root / "images" / "test" / class_name)
        try:
            folder.open()
        except (SourceError, OSError) as exc:
            raise BenchError(f"{folder.folder}: no images; --data needs the design's "
                             "layout images/test/{normal,defective} (see `gainctl data`)") from exc
        for path in folder.files:
            frame = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if frame is None:
                raise BenchError(f"{path}: OpenCV cannot read this image; remove or replace it")
            if channel_order == "RGB":
                frame = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
            images.append(resize_frame(frame, width, height))
            labels.append(label)
            names.append(f"{class_name}/{path.name}")
            masks.append(_mask(masks_dir, path.stem, height, width) if label == 1 else None)
    return TestSplit(np.stack(images), np.asarray(labels, dtype=np.int64), masks, names)


def _mask(folder: Path, stem: str, height: int, width: int) -> np.ndarray | None:
    import cv2

    for suffix in IMAGE_SUFFIXES:
        path = folder / f"{stem}{suffix}"
        if path.is_file():
            mask = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
            if mask is None:
                raise BenchError(f"{path}: OpenCV cannot read this mask")
            return cv2.resize(mask, (width, height), interpolation=cv2.INTER_NEAREST) > 127
    return None


def predict(runner: Any, images: np.ndarray, batch: int, input_name: str) -> tuple[np.ndarray, np.ndarray]:
    """(defect_prob (N,), localization_map (N, h, w)) of ``images`` at the row's batch size (last batch padded)."""
    probs, maps = [], []
    for start in range(0, len(images), batch):
        chunk = images[start:start + batch]
        real = len(chunk)
        if real < batch:
            chunk = np.concatenate([chunk, np.repeat(chunk[-1:], batch - real, axis=0)])
        out = runner.infer({input_name: np.ascontiguousarray(chunk)})
        probs.append(np.asarray(out["defect_prob"], dtype=np.float32).reshape(-1)[:real])
        maps.append(np.asarray(out["localization_map"], dtype=np.float32)[:real, 0])
    return np.concatenate(probs), np.concatenate(maps)


def localization_iou(maps: np.ndarray, masks: list[np.ndarray | None]) -> float | None:
    """Mean IoU over defective images with a mask, the map binarised at 0.5 at mask resolution."""
    import cv2

    ious = []
    for prob_map, mask in zip(maps, masks):
        if mask is None:
            continue
        pred = cv2.resize(prob_map, (mask.shape[1], mask.shape[0]), interpolation=cv2.INTER_LINEAR) >= 0.5
        union = np.logical_or(pred, mask).sum()
        ious.append(1.0 if union == 0 else float(np.logical_and(pred, mask).sum() / union))
    return float(np.mean(ious)) if ious else None


def scores(prob: np.ndarray, maps: np.ndarray, split: TestSplit, threshold: float,
           reference: np.ndarray | None, reference_name: str | None) -> dict[str, Any]:
    """Recall, precision, F1 at ``threshold``, decision agreement with ``reference``, localization IoU.

    A decision is "not accepted" (``flagged``) by the line's own rule, ``edge.decision.accepts``:
    an invalid score (NaN, inf, out of range) is a fault, which stops the part like a reject,
    and is counted in ``faults`` so a model that emits them is seen, not hidden in the recall.
    ``reference`` is the reference row's flagged array.
    """
    decisions = flagged(prob, threshold)
    recall, precision = recall_precision(decisions, split.labels)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "images": len(prob), "threshold": threshold, "recall": recall, "precision": precision, "f1": f1,
        "agreement": None if reference is None else float(np.mean(decisions == reference)),
        "agreement_with": reference_name, "iou": localization_iou(maps, split.masks),
        "masks": sum(m is not None for m in split.masks),
        "faults": int(np.sum(~valid_scores(prob))),
    }


def recall_precision(flag: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """(recall, precision) of the parts ``flag`` stops among ``labels`` (1 defective); 0.0 where undefined."""
    truth = labels == 1
    tp = int(np.sum(flag & truth))
    recall = tp / int(truth.sum()) if truth.any() else 0.0
    precision = tp / int(flag.sum()) if flag.any() else 0.0
    return recall, precision


def flagged(prob: np.ndarray, threshold: float) -> np.ndarray:
    """Where the line would not accept the part: a reject or a fault."""
    return ~accepts(prob, threshold)
