"""Run a model over a loader and keep what the metrics need, as numpy at mask resolution."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader


@dataclass
class Predictions:
    """Per image: defect probability, label, and the three maps resized to the mask's (H, W).

    ``cam`` is the raw weight-based CAM (the metrics normalise it per image), ``attention`` and
    ``localization`` are probabilities.
    """

    prob: np.ndarray
    label: np.ndarray
    cam: np.ndarray
    attention: np.ndarray
    localization: np.ndarray
    mask: np.ndarray
    has_mask: np.ndarray


def _to_mask_size(maps: torch.Tensor, size: tuple[int, int]) -> np.ndarray:
    maps = maps.float()
    if maps.shape[-2:] != size:
        maps = F.interpolate(maps, size=size, mode="bilinear", align_corners=False)
    return maps[:, 0].cpu().numpy().astype(np.float32)


@torch.no_grad()
def predict(model: torch.nn.Module, loader: DataLoader, strategy: str, device: torch.device | str) -> Predictions:
    """The strategy's final head gives the probability (S1-S2: cls head, S3-S6: attended head)."""
    from gain_mtl.schedule import final_logits_key

    key = final_logits_key(strategy)
    was_training = model.training
    model.eval()
    parts: dict[str, list[np.ndarray]] = {k: [] for k in Predictions.__dataclass_fields__}
    for batch in loader:
        images = batch["image"].to(device, non_blocking=True)
        out = model(images)
        size = tuple(batch["mask"].shape[-2:])
        parts["prob"].append(torch.softmax(out[key].float(), dim=1)[:, 1].cpu().numpy())
        parts["cam"].append(_to_mask_size(out["cam"], size))
        parts["attention"].append(_to_mask_size(out["attention_map"], size))
        parts["localization"].append(_to_mask_size(torch.sigmoid(out["localization_logits"].float()), size))
        parts["label"].append(batch["label"].numpy())
        parts["mask"].append(batch["mask"][:, 0].numpy() > 0.5)
        parts["has_mask"].append(batch["has_mask"].numpy().astype(bool))
    model.train(was_training)
    return Predictions(**{k: np.concatenate(v) for k, v in parts.items()})
