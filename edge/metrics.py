"""Metrics of the design (section 6) in pure numpy, so they are testable by hand and torch-free.

They live at the bottom of the stack because evaluation, export, the INT8 gate and the bench
all report them: one definition makes their numbers comparable.

Classification metrics take defect probabilities and labels (1 = defective); a part counts as
predicted defective where the line would not accept it (``edge.decision.flagged``: a reject, or
a fault for a NaN, inf or out-of-range score). Map metrics take
one map and one binary mask per image, both (H, W):

- CAM and attention maps are min-max normalised per image (the design's fair comparison between
  strategies, whose maps live on different scales) and binarised at ``MAP_THRESHOLD``.
- The localization map is already a probability (a sigmoid), so it is binarised at
  ``LOC_THRESHOLD`` without normalisation: min-max would invent a defect on every image.

Every map metric is computed per image and averaged over the defective images that have a mask
(macro average: a small defect counts as much as a large one).
"""

from __future__ import annotations

import numpy as np

from edge.decision import flagged

MAP_THRESHOLD = 0.5
LOC_THRESHOLD = 0.5


def confusion(prob: np.ndarray, label: np.ndarray, threshold: float) -> dict[str, int]:
    """Counts of the line's decisions at ``threshold`` (reject or fault -> defective)."""
    return decision_counts(flagged(prob, threshold), label)


def decision_counts(pred: np.ndarray, label: np.ndarray) -> dict[str, int]:
    """tp, fp, tn, fn of boolean decisions ``pred`` (True = stopped as defective) against ``label``."""
    pred = np.asarray(pred).astype(bool)
    label = np.asarray(label).astype(bool)
    return {
        "tp": int(np.sum(pred & label)),
        "fp": int(np.sum(pred & ~label)),
        "tn": int(np.sum(~pred & ~label)),
        "fn": int(np.sum(~pred & label)),
    }


def _ratio(num: float, den: float) -> float:
    """A ratio that is 0 when its denominator is (no predictions / no positives)."""
    return float(num / den) if den else 0.0


def classification_metrics(prob: np.ndarray, label: np.ndarray, threshold: float) -> dict:
    """accuracy, precision, recall, f1 and the confusion counts at one threshold."""
    return decision_metrics(flagged(prob, threshold), label)


def decision_metrics(pred: np.ndarray, label: np.ndarray) -> dict:
    """accuracy, precision, recall, f1 and the confusion counts of boolean decisions ``pred``."""
    c = decision_counts(pred, label)
    precision = _ratio(c["tp"], c["tp"] + c["fp"])
    recall = _ratio(c["tp"], c["tp"] + c["fn"])
    return {
        "accuracy": _ratio(c["tp"] + c["tn"], sum(c.values())),
        "precision": precision,
        "recall": recall,
        "f1": _ratio(2 * precision * recall, precision + recall),
        "confusion": c,
    }


def auroc(prob: np.ndarray, label: np.ndarray) -> float | None:
    """Area under the ROC curve (Mann-Whitney U with tied ranks averaged); None with one class."""
    prob = np.asarray(prob, dtype=np.float64)
    label = np.asarray(label).astype(bool)
    n_pos, n_neg = int(label.sum()), int((~label).sum())
    if n_pos == 0 or n_neg == 0:
        return None
    order = np.argsort(prob, kind="mergesort")
    ranks = np.empty(len(prob), dtype=np.float64)
    sorted_prob = prob[order]
    # Average ranks over ties: each run of equal values gets the mean of its 1-based ranks.
    _, first, counts = np.unique(sorted_prob, return_index=True, return_counts=True)
    for start, count in zip(first, counts):
        ranks[order[start : start + count]] = start + (count + 1) / 2.0
    u = ranks[label].sum() - n_pos * (n_pos + 1) / 2.0
    return float(u / (n_pos * n_neg))


def minmax_normalise(cam: np.ndarray) -> np.ndarray:
    """Scale one map to [0, 1]; a constant map becomes zeros (it points nowhere)."""
    cam = np.asarray(cam, dtype=np.float64)
    low, high = cam.min(), cam.max()
    if high - low <= 0:
        return np.zeros_like(cam)
    return (cam - low) / (high - low)


def iou(pred: np.ndarray, mask: np.ndarray) -> float:
    """|pred n mask| / |pred u mask| of two binary maps; 1 when both are empty."""
    pred, mask = np.asarray(pred).astype(bool), np.asarray(mask).astype(bool)
    union = np.sum(pred | mask)
    return float(np.sum(pred & mask) / union) if union else 1.0


def cam_iou(cam: np.ndarray, mask: np.ndarray, threshold: float = MAP_THRESHOLD) -> float:
    """IoU of the min-max normalised map binarised at ``threshold`` with the mask."""
    return iou(minmax_normalise(cam) >= threshold, mask)


def point_game(cam: np.ndarray, mask: np.ndarray) -> float:
    """1 when the map's maximum (first one in row-major order) falls inside the mask."""
    flat = int(np.argmax(np.asarray(cam)))
    return float(np.asarray(mask).astype(bool).flat[flat])


def energy_inside(cam: np.ndarray, mask: np.ndarray) -> float:
    """Share of the min-max normalised map's mass inside the mask: sum(CAM * GT) / sum(CAM)."""
    norm = minmax_normalise(cam)
    total = norm.sum()
    return float((norm * np.asarray(mask).astype(bool)).sum() / total) if total > 0 else 0.0


def dice_from_iou(value: float) -> float:
    """Dice = 2 IoU / (1 + IoU) (design section 6): the same number as 2|A n B| / (|A| + |B|)."""
    return 2.0 * value / (1.0 + value)


def pixel_accuracy(pred: np.ndarray, mask: np.ndarray) -> float:
    pred, mask = np.asarray(pred).astype(bool), np.asarray(mask).astype(bool)
    return float(np.mean(pred == mask))


def _mean(values: list[float]) -> float | None:
    return float(np.mean(values)) if values else None


def explanation_metrics(maps: np.ndarray, masks: np.ndarray, select: np.ndarray) -> dict:
    """cam_iou, point_game, energy_inside averaged over the selected images (N, H, W)."""
    chosen = np.flatnonzero(select)
    return {
        "iou": _mean([cam_iou(maps[i], masks[i]) for i in chosen]),
        "point_game": _mean([point_game(maps[i], masks[i]) for i in chosen]),
        "energy_inside": _mean([energy_inside(maps[i], masks[i]) for i in chosen]),
    }


def localization_metrics(
    loc: np.ndarray, masks: np.ndarray, select: np.ndarray, threshold: float = LOC_THRESHOLD
) -> dict:
    """loc_iou, loc_dice, pixel_accuracy of probability maps binarised at ``threshold``."""
    chosen = np.flatnonzero(select)
    ious = [iou(loc[i] >= threshold, masks[i]) for i in chosen]
    return {
        "loc_iou": _mean(ious),
        "loc_dice": _mean([dice_from_iou(v) for v in ious]),
        "pixel_accuracy": _mean([pixel_accuracy(loc[i] >= threshold, masks[i]) for i in chosen]),
    }
