"""L_consist: the attention map and the localization map should agree (MSE, per sample).

The localization probabilities are at H/2, the attention map at H/32: the localization map is
max-pooled down to the attention map's size, so each attention cell is compared with the highest
defect probability among the pixels it covers: the same "does this cell hold a defect" that
L_guide teaches the attention (:func:`gain_mtl.models.masks.cell_mask`). Both sides receive
gradient.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def consistency_loss(attention_map: torch.Tensor, localization_logits: torch.Tensor) -> torch.Tensor:
    """attention_map (N, 1, h, w) probs, localization_logits (N, 1, H', W') -> (N,)."""
    loc = torch.sigmoid(localization_logits.float())
    loc = F.adaptive_max_pool2d(loc, attention_map.shape[-2:])
    return (attention_map.float() - loc).pow(2).flatten(1).mean(1)
