"""From one frame's model outputs to a verdict: threshold, defect region, attention peak.

Fail-safe by construction: anything that is not a valid score above or below the threshold
(an error, a timeout, NaN) is a ``fault``, and a fault is never an accept.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Optional, Tuple, Union

import numpy as np

from edge.events import ACCEPT, FAULT, REASON_INVALID_OUTPUT, REJECT, Region

ArrayLike = Union[float, np.ndarray]


@dataclass
class Verdict:
    decision: str
    score: Optional[float] = None
    region: Optional[Region] = None
    attention_peak: Optional[Dict[str, float]] = None
    reason: Optional[str] = None


def fault(reason: str) -> Verdict:
    return Verdict(decision=FAULT, reason=reason)


def decide(outputs: Dict[str, np.ndarray], threshold: float, frame_size: Tuple[int, int],
           region_threshold: float = 0.5) -> Verdict:
    """Verdict for one frame (outputs of batch size 1); ``frame_size`` is (width, height).

    A score at or above ``threshold`` is a reject, matching how the threshold was chosen for recall.
    """
    score = float(np.asarray(outputs["defect_prob"]).reshape(-1)[0])
    if not valid_scores(score):
        return fault(REASON_INVALID_OUTPUT)
    peak = attention_peak(np.asarray(outputs["attention_map"]), frame_size)
    if accepts(score, threshold):
        return Verdict(decision=ACCEPT, score=score, attention_peak=peak)
    region = largest_region(np.asarray(outputs["localization_map"]), frame_size, region_threshold)
    return Verdict(decision=REJECT, score=score, region=region, attention_peak=peak)


def valid_scores(scores: ArrayLike) -> np.ndarray:
    """Where a score is a probability at all; NaN, inf or out of [0, 1] means the model misbehaved."""
    s = np.asarray(scores, dtype=np.float64)
    return np.isfinite(s) & (s >= 0.0) & (s <= 1.0)


def accepts(scores: ArrayLike, threshold: float) -> np.ndarray:
    """Where ``decide`` accepts: a valid score below ``threshold``.

    Element-wise, so the benchmarks score a whole test split with the very rule the line runs:
    an invalid score is a fault there, never an accept here.
    """
    s = np.asarray(scores, dtype=np.float64)
    return valid_scores(s) & (s < threshold)


def map2d(m: np.ndarray) -> np.ndarray:
    """A single-image map of any leading shape ((1, 1, h, w), (1, h, w), ...) as float32 (h, w)."""
    return np.asarray(m, dtype=np.float32).reshape(m.shape[-2], m.shape[-1])


def attention_peak(attention: np.ndarray, frame_size: Tuple[int, int]) -> Dict[str, float]:
    """Where the attention map is highest, as the centre of that cell in frame pixels."""
    a = map2d(attention)
    iy, ix = np.unravel_index(int(np.argmax(a)), a.shape)
    w, h = frame_size
    return {"x": round((ix + 0.5) * w / a.shape[1], 1), "y": round((iy + 0.5) * h / a.shape[0], 1),
            "value": round(float(a[iy, ix]), 6)}


def largest_region(localization: np.ndarray, frame_size: Tuple[int, int], threshold: float = 0.5) -> Optional[Region]:
    """Bounding box (frame pixels) and area of the largest 8-connected component above ``threshold``."""
    import cv2

    m = map2d(localization)
    binary = (m >= threshold).astype(np.uint8)
    count, _, stats, _ = cv2.connectedComponentsWithStats(binary, connectivity=8)
    if count <= 1:
        return None
    best = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    x, y, bw, bh, area = (int(v) for v in stats[best, :5])
    w, h = frame_size
    sx, sy = w / m.shape[1], h / m.shape[0]
    return Region(x=int(round(x * sx)), y=int(round(y * sy)), w=int(round(bw * sx)), h=int(round(bh * sy)),
                  area=int(round(area * sx * sy)))
