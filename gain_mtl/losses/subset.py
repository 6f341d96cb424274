"""Averaging a per-sample loss over the samples a loss applies to.

An empty subset gives exactly 0 (a sum over nothing divided by 1), never 0/0 = NaN, and the
result keeps its graph so that an empty subset simply contributes no gradient.
"""

from __future__ import annotations

import torch


def subset_mean(per_sample: torch.Tensor, selected: torch.Tensor) -> torch.Tensor:
    """Mean of ``per_sample`` (N,) over ``selected`` (N,) bool; 0 when nothing is selected."""
    weight = selected.to(per_sample.dtype)
    return (per_sample * weight).sum() / weight.sum().clamp_min(1.0)
