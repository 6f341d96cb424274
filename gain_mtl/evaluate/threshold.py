"""The decision threshold: one that catches ``target_recall`` of the defects, placed mid-gap.

A missed defect is the costliest error on a line (design section 6), so the threshold is chosen
for recall on the validation split and the precision it costs is reported beside it.

Any threshold between the last defect that must be caught and the next lower score gives the same
validation decisions; the highest of them (the defect's own score) leaves no margin, so a part
scoring a hair lower in the field, or the same part through an INT8 model, flips to *accept*. The
threshold sits in the middle of that gap instead, measured in logits because the probabilities
are sigmoid outputs and a gap between 0.98 and 0.999 is as wide as one between 0.3 and 0.7.
"""

from __future__ import annotations

import math

import numpy as np

from gain_mtl.evaluate.metrics import classification_metrics

# Used when the validation split holds no defect, so no recall can be targeted.
FALLBACK_THRESHOLD = 0.5
_EPS = 1e-7


def _logit(p: float) -> float:
    p = min(max(p, _EPS), 1.0 - _EPS)
    return math.log(p / (1.0 - p))


def choose_threshold(prob: np.ndarray, label: np.ndarray, target_recall: float) -> tuple[float, float]:
    """Return ``(threshold, precision)`` for the rule ``prob >= threshold`` -> defective.

    With k = ceil(target_recall * defects), the k-th highest defect probability is the lowest
    score that must be rejected; the threshold is the logit midpoint between it and the highest
    score below it (of any class), or that defect's score when nothing scores lower.
    """
    if not 0.0 < target_recall <= 1.0:
        raise ValueError(f"target_recall must be in (0, 1], got {target_recall}")
    prob = np.asarray(prob, dtype=np.float64)
    label = np.asarray(label).astype(bool)
    positives = np.sort(prob[label])[::-1]
    if positives.size == 0:
        threshold = FALLBACK_THRESHOLD
    else:
        k = max(1, math.ceil(target_recall * positives.size - 1e-9))
        lowest_caught = float(positives[k - 1])
        below = prob[prob < lowest_caught]
        threshold = lowest_caught
        if below.size:
            mid = 0.5 * (_logit(lowest_caught) + _logit(float(below.max())))
            # Never above the defect's own score, which rounding at the clip could otherwise do.
            threshold = min(lowest_caught, 1.0 / (1.0 + math.exp(-mid)))
    return threshold, classification_metrics(prob, label, threshold)["precision"]
