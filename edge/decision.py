"""From one frame's model outputs to a verdict: threshold, defect regions, attention peak.

Fail-safe by construction: anything that is not a valid score above or below the threshold
(an error, a timeout, NaN) is a ``fault``, and a fault is never an accept.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple, Union

import numpy as np

from edge.events import ACCEPT, FAULT, REASON_INVALID_OUTPUT, REJECT, Region

ArrayLike = Union[float, np.ndarray]

# Where no bundle's localization threshold (chosen on validation) is passed in: the sigmoid's
# midpoint, which the localization head's loss pulls defect pixels above.
DEFAULT_LOCALIZATION_THRESHOLD = 0.5
# The localization map is stride-8 features upsampled x4 (bilinear), so one feature cell that is
# clearly above the threshold covers about 4x4 map cells. A component of fewer than 4 cells is the
# fringe of a logit that barely crosses it, not a shape the model resolved: a speck, dropped.
MIN_REGION_CELLS = 4
# A part with more separate defects than this is rejected anyway, and the line acts on the largest;
# the cap keeps an event small when a map is speckled (each region is ~80 bytes of JSON, sent on
# every sink and spooled while a broker is away).
MAX_REGIONS = 8


@dataclass
class Verdict:
    decision: str
    score: Optional[float] = None
    regions: Optional[List[Region]] = None
    attention_peak: Optional[Dict[str, float]] = None
    reason: Optional[str] = None


def fault(reason: str) -> Verdict:
    return Verdict(decision=FAULT, reason=reason)


def decide(outputs: Dict[str, np.ndarray], threshold: float, frame_size: Tuple[int, int],
           localization_threshold: Optional[float] = DEFAULT_LOCALIZATION_THRESHOLD) -> Verdict:
    """Verdict for one frame (outputs of batch size 1); ``frame_size`` is (width, height).

    A score at or above ``threshold`` is a reject, matching how the threshold was chosen for recall.
    Only a reject carries ``regions`` (possibly empty: the score says defect, the map found no
    place for it): the line acts on where a rejected part is bad, and a box on an accepted part
    would be a defect the verdict itself denies, which a consumer could mistake for one to act on.
    ``localization_threshold=None`` (a model whose localization head was never trained) gives no
    ``regions`` at all: its map would box noise.
    """
    score = float(np.asarray(outputs["defect_prob"]).reshape(-1)[0])
    decision = decision_of(score, threshold)
    if decision == FAULT:
        return fault(REASON_INVALID_OUTPUT)
    peak = attention_peak(np.asarray(outputs["attention_map"]), frame_size)
    if decision == ACCEPT:
        return Verdict(decision=ACCEPT, score=score, attention_peak=peak)
    regions = (None if localization_threshold is None else
               defect_regions(np.asarray(outputs["localization_map"]), frame_size, localization_threshold))
    return Verdict(decision=REJECT, score=score, regions=regions, attention_peak=peak)


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


def flagged(scores: ArrayLike, threshold: float) -> np.ndarray:
    """Where the line does not accept the part: a reject or a fault (what recall and agreement count).

    Every place that turns scores into decisions (the INT8 gate and guard, the export, evaluation,
    the bench) calls this, so a NaN counts as stopped everywhere, as it is on the line.
    """
    return ~accepts(scores, threshold)


def decision_of(score: float, threshold: float) -> str:
    """``accept``, ``reject`` or ``fault`` for one score: the verdict ``decide`` gives it."""
    if not valid_scores(score):
        return FAULT
    return ACCEPT if accepts(score, threshold) else REJECT


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


def defect_regions(localization: np.ndarray, frame_size: Tuple[int, int], threshold: float,
                   max_regions: int = MAX_REGIONS, min_cells: int = MIN_REGION_CELLS) -> List[Region]:
    """One box per 8-connected component of the map at or above ``threshold``, largest first.

    Boxes and areas are in frame pixels (``frame_size`` is (width, height)); each carries the
    highest probability inside its component. Components under ``min_cells`` map cells are
    dropped and at most ``max_regions`` are kept (see the constants above).
    """
    import cv2

    m = map2d(localization)
    count, labels, stats, _ = cv2.connectedComponentsWithStats((m >= threshold).astype(np.uint8), connectivity=8)
    kept = [i for i in range(1, count) if stats[i, cv2.CC_STAT_AREA] >= min_cells]
    kept.sort(key=lambda i: -int(stats[i, cv2.CC_STAT_AREA]))  # stable: equal areas stay in raster order
    w, h = frame_size
    sx, sy = w / m.shape[1], h / m.shape[0]
    regions = []
    for i in kept[:max_regions]:
        x, y, bw, bh, area = (int(v) for v in stats[i, :5])
        regions.append(Region(x=int(round(x * sx)), y=int(round(y * sy)), w=int(round(bw * sx)), h=int(round(bh * sy)),
                              area=int(round(area * sx * sy)), peak=round(float(m[labels == i].max()), 6)))
    return regions
