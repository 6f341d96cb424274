"""The INT8 gate: FP32 and INT8 run on the same test images, compared on what the line cares about.

A quantized model that scores a little differently is fine; one that lets defects through, or
decides differently on many parts, is not. The gate measures decision agreement, recall, F1,
localization IoU and the largest score change, and names the outputs that moved most when it
fails, so the user knows where INT8 hurt.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from calibration.errors import CalibrationError

PROB_OUTPUT = "defect_prob"
LOC_OUTPUT = "localization_map"


class GateError(CalibrationError):
    """INT8 lost more than the accuracy guard allows."""


def classification_metrics(prob: np.ndarray, label: np.ndarray, threshold: float) -> dict[str, float]:
    """Accuracy, precision, recall, F1 at ``threshold`` (a missed defect is the costly error)."""
    pred = prob >= threshold
    pos = label == 1
    tp = float(np.sum(pred & pos))
    fp = float(np.sum(pred & ~pos))
    fn = float(np.sum(~pred & pos))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "accuracy": float(np.mean(pred == pos)),
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "threshold": float(threshold),
    }


def localization_iou(loc: np.ndarray, mask: np.ndarray, has_mask: np.ndarray) -> float | None:
    """Mean IoU of the localization map (binarised at 0.5) with the masks, over masked images."""
    if not has_mask.any():
        return None
    pred = loc[has_mask].reshape(int(has_mask.sum()), -1) >= 0.5
    truth = mask[has_mask].reshape(int(has_mask.sum()), -1) >= 0.5
    inter = np.sum(pred & truth, axis=1)
    union = np.sum(pred | truth, axis=1)
    iou = np.where(union > 0, inter / np.maximum(union, 1), 1.0)
    return float(iou.mean())


@dataclass
class GateReport:
    """FP32 vs INT8 on the test split; ``passed`` says whether INT8 stays within the guard."""

    precision: str
    agreement: float
    fp32: dict[str, Any]
    int8: dict[str, Any]
    max_score_diff: float
    output_max_diff: dict[str, float]
    guard: float
    passed: bool
    failures: list[str] = field(default_factory=list)

    @property
    def worst_outputs(self) -> list[str]:
        return sorted(self.output_max_diff, key=self.output_max_diff.get, reverse=True)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "worst_outputs": self.worst_outputs}

    def raise_if_failed(self) -> None:
        if self.passed:
            return
        worst = ", ".join(f"{name} (max diff {self.output_max_diff[name]:.4f})" for name in self.worst_outputs)
        raise GateError(
            f"{self.precision} breaks the accuracy guard of {self.guard:.3f}: {'; '.join(self.failures)}. "
            f"Outputs that moved most: {worst}. No bundle was written; try --calib-size larger, "
            "another calibration method, --accuracy-guard with a larger drop, or export without --int8"
        )


def compare(
    fp32: dict[str, np.ndarray],
    int8: dict[str, np.ndarray],
    label: np.ndarray,
    threshold_fp32: float,
    threshold_int8: float,
    guard: float,
    precision: str = "int8",
    mask: np.ndarray | None = None,
    has_mask: np.ndarray | None = None,
) -> GateReport:
    """Compare two runs' outputs (dicts by output name); masks are at the localization size."""
    missing = sorted(set(fp32) ^ set(int8))
    if missing:
        raise CalibrationError(f"FP32 and {precision} outputs differ in names: {missing}")
    metrics = {}
    for name, outputs, thr in (("fp32", fp32, threshold_fp32), (precision, int8, threshold_int8)):
        m = classification_metrics(outputs[PROB_OUTPUT], label, thr)
        if mask is not None and has_mask is not None and LOC_OUTPUT in outputs:
            m["localization_iou"] = localization_iou(outputs[LOC_OUTPUT], mask, has_mask)
        metrics[name] = m
    agreement = float(
        np.mean((fp32[PROB_OUTPUT] >= threshold_fp32) == (int8[PROB_OUTPUT] >= threshold_int8))
    )
    diffs = {
        name: float(np.max(np.abs(fp32[name].astype(np.float64) - int8[name].astype(np.float64))))
        for name in fp32
    }
    failures = []
    if agreement < 1.0 - guard:
        failures.append(f"decision agreement {agreement:.3f} < {1.0 - guard:.3f}")
    recall_drop = metrics["fp32"]["recall"] - metrics[precision]["recall"]
    if recall_drop > guard:
        failures.append(
            f"recall {metrics[precision]['recall']:.3f} vs FP32 {metrics['fp32']['recall']:.3f} "
            f"(drop {recall_drop:.3f})"
        )
    return GateReport(
        precision=precision,
        agreement=agreement,
        fp32=metrics["fp32"],
        int8=metrics[precision],
        max_score_diff=diffs[PROB_OUTPUT],
        output_max_diff=diffs,
        guard=guard,
        passed=not failures,
        failures=failures,
    )
