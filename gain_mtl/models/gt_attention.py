"""Strategy 6: the ground-truth mask as attention (design section 5).

Training fusion, per sample (``selected`` marks defective samples that have a mask):
    fused = GT * internal;  fused_norm = fused / max(fused)   (max over the sample's map)
    effective = alpha * GT + (1 - alpha) * fused_norm          selected samples
    effective = internal                                       normals and maskless defects
Inference fusion, every sample: ``fused_norm(external_mask * internal)``.

``internal`` is the network's attention map (sigmoid of the combined attention logits), and
masks are brought to its resolution with ``cell_mask`` (a cell is defective when any pixel it
covers is). The per-sample selection is arithmetic (a 0/1 weight), not Python branching, so one graph serves
every batch. ``max`` is clamped at ``EPS`` so an all-zero map stays zero instead of NaN.
"""

from __future__ import annotations

import torch

from gain_mtl.models.masks import cell_mask

EPS = 1e-6


def max_normalise(x: torch.Tensor) -> torch.Tensor:
    """Divide each sample's (1, h, w) map by its own maximum."""
    return x / x.amax(dim=(1, 2, 3), keepdim=True).clamp_min(EPS)


def s6_training_attention(
    internal: torch.Tensor, mask: torch.Tensor, selected: torch.Tensor, alpha: float
) -> torch.Tensor:
    """internal (N, 1, h, w) in [0, 1]; mask (N, 1, H, W); selected (N,) bool; alpha in [0, 1]."""
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"S6 blend alpha must be in [0, 1], got {alpha}")
    gt = cell_mask(mask, internal.shape[-2:]).to(internal.dtype)
    blended = alpha * gt + (1 - alpha) * max_normalise(gt * internal)
    weight = selected.to(internal.dtype).view(-1, 1, 1, 1)
    return weight * blended + (1 - weight) * internal


def external_mask_attention(internal: torch.Tensor, external_mask: torch.Tensor) -> torch.Tensor:
    """Inference fusion: the external mask gates the internal attention, then max-normalised."""
    gt = cell_mask(external_mask, internal.shape[-2:]).to(internal.dtype)
    return max_normalise(gt * internal)
