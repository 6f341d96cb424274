"""Accuracy per benchmark row on a dataset's test split, so speed and quality sit side by side.

Reads the design's layout with ``edge.layout`` (the module training and export read it with) and
resizes with the camera's own ``resize_frame``; the numbers come from ``edge.metrics`` and the
line's own decision rule, so a row's recall and localization IoU are the export's numbers for the
same model file, computed without torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edge.bench.schema import BenchError
from edge.decision import flagged, valid_scores
from edge.layout import CLASS_NAMES, scan_layout
from edge.metrics import decision_metrics, localization_metrics
from edge.preprocess import resize_frame

# A mask pixel above this grey level is defect (masks are 0 background, 255 defect).
MASK_LEVEL = 127


@dataclass
class TestSplit:
    images: np.ndarray  # (N, H, W, 3) uint8 in the graph's channel order
    labels: np.ndarray  # (N,) 0 normal, 1 defective
    masks: list[np.ndarray | None]  # (H, W) uint8 {0, 1} at the mask file's size, None where a defect has no mask
    names: list[str]
    paths: list[Path]  # the image files, for measurements that start from the frame as stored


def load_test_split(root: str | Path, height: int, width: int, channel_order: str = "BGR") -> TestSplit:
    """Every test image of ``root`` resized to the graph's input; BenchError if either class is empty.

    Only the test split is read: a problem elsewhere in the dataset (no train split, a stray
    file) is for ``gainctl data check``, not a reason to refuse a benchmark.
    """
    import cv2

    root = Path(root)
    samples = [s for s in scan_layout(root)[0] if s.split == "test"]
    for label, class_name in enumerate(CLASS_NAMES):
        if not any(s.label == label for s in samples):
            raise BenchError(f"{root / 'images' / 'test' / class_name}: no images; --data needs the design's "
                             "layout images/test/{normal,defective} (see `gainctl data`)")
    images, masks = [], []
    for sample in samples:
        frame = cv2.imread(str(sample.image), cv2.IMREAD_COLOR)
        if frame is None:
            raise BenchError(f"{sample.image}: OpenCV cannot read this image; remove or replace it")
        images.append(prepare_frame(frame, width, height, channel_order))
        masks.append(None if sample.mask is None else _mask(sample.mask))
    return TestSplit(np.stack(images), np.asarray([s.label for s in samples], dtype=np.int64), masks,
                     [f"{CLASS_NAMES[s.label]}/{s.image.name}" for s in samples], [s.image for s in samples])


def prepare_frame(frame: np.ndarray, width: int, height: int, channel_order: str = "BGR") -> np.ndarray:
    """An OpenCV BGR frame as the graph takes it: the edge's resize, then the graph's channel order."""
    import cv2

    if channel_order == "RGB":
        frame = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
    return resize_frame(frame, width, height)


def _mask(path: Path) -> np.ndarray:
    import cv2

    mask = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if mask is None:
        raise BenchError(f"{path}: OpenCV cannot read this mask")
    return (mask > MASK_LEVEL).astype(np.uint8)


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


def localization_iou(maps: np.ndarray, masks: list[np.ndarray | None], threshold: float) -> float | None:
    """Mean IoU over defective images with a mask, at the map's resolution (as the export measures).

    Each mask is resized to the map with nearest neighbour and the map binarised at ``threshold``
    (the bundle's localization threshold): the cells the line draws its regions from.
    """
    import cv2

    chosen = [i for i, mask in enumerate(masks) if mask is not None]
    if not chosen:
        return None
    h, w = maps.shape[-2:]
    resized = np.zeros((len(masks), h, w), np.uint8)
    for i in chosen:
        resized[i] = cv2.resize(masks[i], (w, h), interpolation=cv2.INTER_NEAREST)
    select = np.zeros(len(masks), bool)
    select[chosen] = True
    return localization_metrics(maps, resized, select, threshold)["loc_iou"]


def scores(prob: np.ndarray, maps: np.ndarray, split: TestSplit, threshold: float, loc_threshold: float,
           reference: np.ndarray | None, reference_name: str | None) -> dict[str, Any]:
    """Recall, precision, F1 at ``threshold``, decision agreement with ``reference``, localization IoU.

    A decision is "not accepted" (``flagged``) by the line's own rule (``edge.decision``): an
    invalid score (NaN, inf, out of range) is a fault, which stops the part like a reject, and is
    counted in ``faults`` so a model that emits them is seen, not hidden in the recall.
    ``reference`` is the reference row's flagged array.
    """
    decisions = flagged(prob, threshold)
    metrics = decision_metrics(decisions, split.labels)
    return {
        "images": len(prob), "threshold": threshold, "recall": metrics["recall"], "precision": metrics["precision"],
        "f1": metrics["f1"],
        "agreement": None if reference is None else float(np.mean(decisions == reference)),
        "agreement_with": reference_name, "iou": localization_iou(maps, split.masks, loc_threshold),
        "masks": sum(m is not None for m in split.masks),
        "faults": int(np.sum(~valid_scores(prob))),
    }
