"""All metrics of a set of predictions, as the flat dict that metrics.json and history.csv hold.

Classification at the decision threshold and at 0.5; AUROC; CAM and attention quality
(``cam_*`` / ``attention_*``) and localization, at the localization threshold chosen on
validation, over the defective images with a mask.
"""

from __future__ import annotations

from typing import Any

from edge import metrics
from gain_mtl.evaluate.loc_threshold import choose_loc_threshold
from gain_mtl.evaluate.predict import Predictions
from gain_mtl.evaluate.threshold import ThresholdChoice

# Columns of history.csv (prefixed val_); the best checkpoint is picked by one of them.
HISTORY_KEYS = (
    "accuracy", "precision", "recall", "f1", "auroc", "cam_iou", "attention_iou", "loc_iou",
    "threshold", "threshold_precision", "loc_threshold",
)


def score(pred: Predictions, threshold: float, loc_threshold: float = metrics.LOC_THRESHOLD) -> dict[str, Any]:
    """Every metric of the issue; ``*_at_0.5`` repeats classification at the plain 0.5 cut.

    ``loc_threshold`` binarises the localization maps (the checkpoint's ``loc_threshold``).
    """
    at_threshold = metrics.classification_metrics(pred.prob, pred.label, threshold)
    at_half = metrics.classification_metrics(pred.prob, pred.label, 0.5)
    with_mask = (pred.label == 1) & pred.has_mask
    cam = metrics.explanation_metrics(pred.cam, pred.mask, with_mask)
    attention = metrics.explanation_metrics(pred.attention, pred.mask, with_mask)
    return {
        "n_images": int(len(pred.label)),
        "n_defective": int((pred.label == 1).sum()),
        "n_with_mask": int(with_mask.sum()),
        "threshold": float(threshold),
        **at_threshold,
        "auroc": metrics.auroc(pred.prob, pred.label),
        "at_0.5": at_half,
        "cam_iou": cam["iou"],
        "point_game": cam["point_game"],
        "energy_inside": cam["energy_inside"],
        "attention_iou": attention["iou"],
        "attention_point_game": attention["point_game"],
        "attention_energy_inside": attention["energy_inside"],
        **metrics.localization_metrics(pred.localization, pred.mask, with_mask, loc_threshold),
        # The same at the plain 0.5 cut, for comparison with a threshold chosen on validation.
        "loc_at_0.5": metrics.localization_metrics(pred.localization, pred.mask, with_mask),
        "map_threshold": metrics.MAP_THRESHOLD,
        "loc_threshold": float(loc_threshold),
    }


def history_metrics(pred: Predictions, choice: ThresholdChoice) -> dict[str, Any]:
    """The validation record of one epoch: the HISTORY_KEYS (classification at 0.5, maps, the
    chosen thresholds), plus the rest of the decision threshold's choice (its expected recall).

    The localization threshold is chosen here on the same predictions, and ``loc_iou`` is measured
    at it: that is the map the checkpoint will be used with.
    """
    with_mask = (pred.label == 1) & pred.has_mask
    loc_threshold = choose_loc_threshold(pred.localization, pred.mask, with_mask)
    full = score(pred, choice.threshold, loc_threshold)
    row = {k: full["at_0.5"][k] for k in ("accuracy", "precision", "recall", "f1")}
    row.update({k: full[k] for k in ("auroc", "cam_iou", "attention_iou", "loc_iou", "loc_threshold")})
    row.update(choice.to_dict())
    return row
