"""The localization map's threshold: the probability above which a pixel is drawn as defect.

The localization head is a sigmoid, but nothing in training makes 0.5 the cut at which the map
best matches the defects (the imbalance of defect and background pixels and the Dice term both
move it). The threshold is therefore chosen on validation, like the decision threshold: the value
of a fixed grid (``LOC_THRESHOLD_GRID``) with the highest mean per-image IoU over the validation
defects that have a mask (the IoU of ``metrics.localization_metrics``). A coarse grid keeps the
choice from fitting validation noise; among equal IoUs the value nearest 0.5 wins. Without a
masked validation defect there is nothing to choose on and ``metrics.LOC_THRESHOLD`` (0.5) stays.

The checkpoint carries the choice as ``loc_threshold``; ``gainctl eval`` measures at it and the
bundle carries it as ``localization_threshold`` for the defect boxes at the edge.
"""

from __future__ import annotations

import numpy as np

from edge.metrics import LOC_THRESHOLD, localization_metrics

LOC_THRESHOLD_GRID = tuple(round(0.05 * i, 2) for i in range(1, 20))


def choose_loc_threshold(loc: np.ndarray, masks: np.ndarray, select: np.ndarray) -> float:
    """The grid value with the highest mean IoU of ``loc >= t`` with the masks of the ``select``ed images.

    ``loc`` and ``masks`` are (N, H, W); ``select`` marks the defective images with a mask.
    """
    if not np.any(select):
        return LOC_THRESHOLD
    ious = np.array([localization_metrics(loc, masks, select, t)["loc_iou"] for t in LOC_THRESHOLD_GRID])
    best = np.flatnonzero(ious >= ious.max() - 1e-12)
    return min((LOC_THRESHOLD_GRID[i] for i in best), key=lambda t: abs(t - LOC_THRESHOLD))
