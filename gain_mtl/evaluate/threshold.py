"""The decision threshold: the highest one that still catches ``target_recall`` of the defects.

A missed defect is the costliest error on a line (design section 6), so the threshold is chosen
for recall on the validation split and the precision it costs is reported beside it.
"""

from __future__ import annotations

import math

import numpy as np

from gain_mtl.evaluate.metrics import classification_metrics

# Used when the validation split holds no defect, so no recall can be targeted.
FALLBACK_THRESHOLD = 0.5


def choose_threshold(prob: np.ndarray, label: np.ndarray, target_recall: float) -> tuple[float, float]:
    """Return ``(threshold, precision)`` for the rule ``prob >= threshold`` -> defective.

    The threshold is the k-th highest defect probability among the defects, with
    k = ceil(target_recall * defects): the highest threshold whose recall reaches the target.
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
        threshold = float(positives[k - 1])
    return threshold, classification_metrics(prob, label, threshold)["precision"]
