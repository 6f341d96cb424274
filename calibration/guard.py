"""What the accuracy guard measures while quantizing, shared by the OpenVINO and ONNX routes.

Both accuracy-controlled routes judge a candidate INT8 model by the same number on the validation
split, so a guard of 0.05 means the same thing whichever runtime the line uses.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from edge.decision import flagged


# Picks a model's threshold from its validation scores, labels and parts (the physical part each
# image shows, None: its own): the export's target-recall rule.
ThresholdRule = Callable[[np.ndarray, np.ndarray, "list[str | None]"], float]


@dataclass(frozen=True)
class GuardSample:
    """One validation batch: frames, true labels, the FP32 model's decisions on them, and the part
    each frame shows (None where unnamed; the threshold rule ranks parts)."""

    images: np.ndarray
    labels: np.ndarray
    fp32_decisions: np.ndarray
    parts: tuple[str | None, ...] | None = None

    def part_list(self) -> list[str | None]:
        return list(self.parts) if self.parts is not None else [None] * len(self.labels)


def guard_samples(frames: np.ndarray, labels: np.ndarray, fp32_decisions: np.ndarray, batch: int = 8,
                  parts: Sequence[str | None] | None = None) -> list[GuardSample]:
    """The validation split cut into GuardSample batches."""
    return [GuardSample(frames[i : i + batch], labels[i : i + batch], fp32_decisions[i : i + batch],
                        None if parts is None else tuple(parts[i : i + batch]))
            for i in range(0, len(frames), batch)]


def guard_metric(prob: np.ndarray, samples: Sequence[GuardSample], rule: ThresholdRule) -> float:
    """The worse of recall and decision agreement with FP32: what the guard must not lose.

    A quantized model goes to the line with a threshold re-chosen on its own validation scores, so
    it is judged at that threshold (``rule``), not at FP32's: a uniform shift of every score is
    no loss, a reordering of the parts is.
    """
    labels = np.concatenate([s.labels for s in samples])
    reference = np.concatenate([s.fp32_decisions for s in samples])
    parts = [part for s in samples for part in s.part_list()]
    decisions = flagged(prob, rule(prob, labels, parts))
    positives = labels == 1
    recall = float(decisions[positives].mean()) if positives.any() else 1.0
    agreement = float((decisions == reference).mean())
    return min(recall, agreement)
