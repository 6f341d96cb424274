"""Running the graph and its artifacts over a split, and the numbers the bundle records about them.

Frames are read exactly as the camera path prepares them (BGR uint8, the edge's resize); artifacts
run through the edge runtime's own runners, so what the bundle reports is what the camera will do.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from edge.metrics import LOC_THRESHOLD, auroc, classification_metrics, localization_metrics

# FP32 artifacts must match the torch graph this closely (issue: parity across runtimes).
PARITY_TOLERANCE = {"defect_prob": 1e-4, "attention_map": 1e-3, "localization_map": 1e-3}
EVAL_BATCH = 8


def load_frames(samples, size: int) -> np.ndarray:
    from calibration.dataset import load_frame

    return np.stack([load_frame(s.image, size) for s in samples])


def load_masks(samples, size: int) -> tuple[np.ndarray, np.ndarray]:
    from gain_mtl.data.io import read_mask

    has = np.array([s.mask is not None for s in samples])
    masks = np.stack([read_mask(s.mask, size) if s.mask is not None else np.zeros((size, size), np.uint8) for s in samples])
    return masks, has


def run_torch(graph, frames: np.ndarray) -> dict[str, np.ndarray]:
    import torch

    from gain_mtl.export.graph import OUTPUT_NAMES

    parts: list[tuple] = []
    with torch.no_grad():
        for start in range(0, len(frames), EVAL_BATCH):
            parts.append(tuple(t.numpy() for t in graph(torch.from_numpy(frames[start : start + EVAL_BATCH]))))
    return {name: np.concatenate([p[i] for p in parts]) for i, name in enumerate(OUTPUT_NAMES)}


def run_artifact(runner_cls, path: Path, input_spec, frames: np.ndarray) -> dict[str, np.ndarray]:
    """Outputs of one artifact over ``frames``, through the edge runtime's own runner."""
    from gain_mtl.export.graph import OUTPUT_NAMES

    with runner_cls(path, input_spec, OUTPUT_NAMES) as runner:
        return infer_batches(runner, input_spec, frames)


def infer_batches(runner, input_spec, frames: np.ndarray) -> dict[str, np.ndarray]:
    """Outputs of an active runner over ``frames``, ``EVAL_BATCH`` at a time."""
    from gain_mtl.export.graph import OUTPUT_NAMES

    parts = [runner.infer({input_spec.name: frames[start : start + EVAL_BATCH]})
             for start in range(0, len(frames), EVAL_BATCH)]
    return {name: np.concatenate([p[name] for p in parts]) for name in OUTPUT_NAMES}


def split_metrics(out: dict[str, np.ndarray], label: np.ndarray, threshold: float,
                  masks: tuple[np.ndarray, np.ndarray] | None = None,
                  loc_threshold: float = LOC_THRESHOLD) -> dict[str, Any]:
    """Classification metrics at ``threshold``; with masks, the localization IoU over masked defects
    at ``loc_threshold`` (the bundle's localization threshold)."""
    metrics = {**classification_metrics(out["defect_prob"], label, threshold), "auroc": auroc(out["defect_prob"], label),
               "threshold": threshold}
    if masks is not None:
        mask, has = masks
        loc = localization_metrics(out["localization_map"][:, 0], mask, has & (label == 1), loc_threshold)
        metrics["localization_iou"] = loc["loc_iou"]
    return metrics


def max_diffs(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> dict[str, float]:
    return {k: float(np.max(np.abs(a[k].astype(np.float64) - b[k].astype(np.float64)))) for k in a}
