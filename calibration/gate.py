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
from edge.decision import flagged

PROB_OUTPUT = "defect_prob"


class GateError(CalibrationError):
    """INT8 lost more than the accuracy guard allows."""


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
    artifact: str = ""

    @property
    def worst_outputs(self) -> list[str]:
        return sorted(self.output_max_diff, key=self.output_max_diff.get, reverse=True)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "worst_outputs": self.worst_outputs}

    def raise_if_failed(self) -> None:
        if self.passed:
            return
        worst = ", ".join(f"{name} (max diff {self.output_max_diff[name]:.4f})" for name in self.worst_outputs)
        name = f"{self.precision} ({self.artifact})" if self.artifact else self.precision
        raise GateError(
            f"{name} breaks the accuracy guard of {self.guard:.3f}: {'; '.join(self.failures)}. "
            f"Outputs that moved most: {worst}. No bundle was written; try --calib-size larger, "
            "another calibration method, --accuracy-guard with a larger drop, or export without --int8"
        )


def compare(
    fp32: dict[str, np.ndarray],
    quantized: dict[str, np.ndarray],
    thresholds: tuple[float, float],
    metrics: dict[str, dict[str, Any]],
    guard: float,
    precision: str = "int8",
    artifact: str = "",
) -> GateReport:
    """Compare two runs' outputs (dicts by output name) on the same images.

    ``thresholds`` is (FP32's, the quantized model's own); ``metrics`` holds each precision's
    test metrics under "fp32" and ``precision`` (with at least "recall"), computed by the caller
    with the project's metric functions.
    """
    differ = sorted(set(fp32) ^ set(quantized))
    if differ:
        raise CalibrationError(f"FP32 and {precision} outputs differ in names: {differ}")
    decisions = [flagged(out[PROB_OUTPUT], thr) for out, thr in zip((fp32, quantized), thresholds)]
    agreement = float(np.mean(decisions[0] == decisions[1]))
    diffs = {
        name: float(np.max(np.abs(fp32[name].astype(np.float64) - quantized[name].astype(np.float64))))
        for name in fp32
    }
    failures = []
    if agreement < 1.0 - guard:
        failures.append(f"decision agreement {agreement:.3f} < {1.0 - guard:.3f}")
    recall_fp32, recall_q = metrics["fp32"]["recall"], metrics[precision]["recall"]
    if recall_fp32 - recall_q > guard:
        failures.append(f"recall {recall_q:.3f} vs FP32 {recall_fp32:.3f} (drop {recall_fp32 - recall_q:.3f})")
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
        artifact=artifact,
    )
