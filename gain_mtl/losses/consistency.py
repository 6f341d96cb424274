"""L_consist: the attention map and the localization map should agree (MSE, per sample).

The localization probabilities are at H/2, the attention map at H/32: the localization map is
area-averaged down to the attention map's size (each attention cell is compared with the mean
defect probability of the pixels it covers). Both sides receive gradient.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def consistency_loss(attention_map: torch.Tensor, localization_logits: torch.Tensor) -> torch.Tensor:
    """attention_map (N, 1, h, w) probs, localization_logits (N, 1, H', W') -> (N,)."""
    loc = torch.sigmoid(localization_logits.float())
    loc = F.interpolate(loc, size=attention_map.shape[-2:], mode="area")
    return (attention_map.float() - loc).pow(2).flatten(1).mean(1)
