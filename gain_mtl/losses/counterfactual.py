"""L_cf: the counterfactual logits should say "normal" (class 0) once the defect is removed."""

from __future__ import annotations

import torch
import torch.nn.functional as F

NORMAL_CLASS = 0


def counterfactual_loss(cf_logits: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of cf_logits (N, 2) against class 0 -> (N,)."""
    target = torch.full((cf_logits.shape[0],), NORMAL_CLASS, dtype=torch.long, device=cf_logits.device)
    return F.cross_entropy(cf_logits.float(), target, reduction="none")
