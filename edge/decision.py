"""From one frame's model outputs to a verdict: threshold, defect region, attention peak.

Fail-safe by construction: anything that is not a valid score above or below the threshold
(an error, a timeout, NaN) is a ``fault``, and a fault is never an accept.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Dict, Optional, Tuple

import numpy as np

from edge.events import ACCEPT, FAULT, REASON_INVALID_OUTPUT, REJECT, Region


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
    if not math.isfinite(score) or not 0.0 <= score <= 1.0:
        return fault(REASON_INVALID_OUTPUT)
    peak = attention_peak(np.asarray(outputs["attention_map"]), frame_size)
    if score < threshold:
        return Verdict(decision=ACCEPT, score=score, attention_peak=peak)
    region = largest_region(np.asarray(outputs["localization_map"]), frame_size, region_threshold)
    return Verdict(decision=REJECT, score=score, region=region, attention_peak=peak)


def _map2d(m: np.ndarray) -> np.ndarray:
    return np.asarray(m, dtype=np.float32).reshape(m.shape[-2], m.shape[-1])


def attention_peak(attention: np.ndarray, frame_size: Tuple[int, int]) -> Dict[str, float]:
    """Where the attention map is highest, as the centre of that cell in frame pixels."""
    a = _map2d(attention)
    iy, ix = np.unravel_index(int(np.argmax(a)), a.shape)
    w, h = frame_size
    return {"x": round((ix + 0.5) * w / a.shape[1], 1), "y": round((iy + 0.5) * h / a.shape[0], 1),
            "value": round(float(a[iy, ix]), 6)}


def largest_region(localization: np.ndarray, frame_size: Tuple[int, int], threshold: float = 0.5) -> Optional[Region]:
    """Bounding box (frame pixels) and area of the largest 8-connected component above ``threshold``."""
    import cv2

    m = _map2d(localization)
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
