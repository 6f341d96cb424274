"""GainMTLLoss: the design's weighted sum of seven losses, each over its own subset (section 3).

| loss      | on                         | applied to                         |
|-----------|----------------------------|------------------------------------|
| cls       | cls_logits                 | all samples (focal)                |
| am        | attended_cls_logits        | all samples (focal)                |
| cam_guide | cam                        | defective with mask (BCE + Dice)   |
| loc       | localization_logits        | defective with mask (BCE + Dice);  |
|           |                            | normal: BCE to an empty map        |
| guide     | attention logits / map     | defective with mask: BCE+Dice+IoU; |
|           |                            | normal: entropy maximisation       |
| cf        | cf_logits                  | defective with mask (CE to class 0)|
| consist   | attention_map vs loc map   | defective with mask (MSE)          |

Choices where the design is open (also in docs/design-choices.md):
- "Defective only" losses that need a mask, and the two that compare maps (cf, consist), use the
  defective samples that have a mask: a defective image without one gets only the image-level
  losses (design section 7), and without a mask the counterfactual has nothing to remove.
- L_loc also teaches the localization head what a good part looks like: BCE against an all-zero
  map, averaged over the normals and added to the defects' BCE + Dice. The design applies L_loc to
  defects only, which leaves the head free to paint anything on a good part (measured: median
  per-image maximum 0.97 on good parts of the demo); the line draws that map on an absolute scale
  and boxes what crosses its threshold, so it must be calm where there is nothing to find.
- Each loss is averaged over its own subset, so a batch's mix of normals and defects does not
  rescale it; an empty subset gives exactly 0.
- CAM guidance treats the CAM, centred on its own mean per image, as per-cell defect logits: BCE
  with logits plus Dice on its sigmoid, like L_loc. Centred, because the CAM's mean is the defect
  logit's linear path (average pooling, then the head's linear layers): BCE on the raw CAM asks
  every defect-free cell of a defect image to be negative, which drags that mean, and with it the
  verdict, below the good parts' (measured on Magnetic Tile: validation AUROC of the raw CAM's
  mean 0.30 in S5 against 0.997 in S1). Centred, the guidance shapes where the CAM peaks and leaves
  its level to L_cls. A min-max normalised CAM (section 6's scoring) was rejected: its minimum is
  always exactly 0 and its maximum exactly 1, where BCE saturates and gives no gradient.
- L_guide = (BCE on the combined attention logits + Dice + IoU on attention_map) averaged over
  masked defects, plus the normalised entropy loss averaged over normals, each with weight 1.
- Masks are brought to the localization map's size with ``resize_mask`` (area when shrinking),
  and to the stride-32 maps (attention, CAM) with ``cell_mask``: a cell is a defect cell when any
  pixel it covers is, so a small defect is a full cell there, not a few percent of one
  (gain_mtl/models/masks.py says what area averaging did to small defects).
- A loss whose weight is 0 is still computed for logging but left out of the total, so modules it
  alone trains (e.g. the counterfactual module in S1-S4) get no gradient at all.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

from gain_mtl.config import LossConfig
from gain_mtl.losses.consistency import consistency_loss
from gain_mtl.losses.counterfactual import counterfactual_loss
from gain_mtl.losses.dice_bce import bce_loss, dice_bce_loss, dice_loss
from gain_mtl.losses.entropy import entropy_loss
from gain_mtl.losses.focal import focal_loss
from gain_mtl.losses.iou import iou_loss
from gain_mtl.losses.subset import subset_mean
from gain_mtl.models.attention import combine_attention_logits
from gain_mtl.models.masks import cell_mask, resize_mask
from gain_mtl.schedule import LOSS_NAMES


def centred(maps: torch.Tensor) -> torch.Tensor:
    """Each map minus its own mean: where a map peaks, without its level."""
    return maps - maps.mean(dim=(-2, -1), keepdim=True)


class GainMTLLoss(nn.Module):
    def __init__(self, cfg: LossConfig) -> None:
        super().__init__()
        self.alpha = cfg.focal_alpha
        self.gamma = cfg.focal_gamma

    def forward(
        self,
        outputs: Mapping[str, torch.Tensor],
        batch: Mapping[str, torch.Tensor],
        weights: Mapping[str, float],
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """Total loss and, for logging, ``loss_<name>`` (raw), ``weighted_<name>`` and ``loss_total``."""
        unknown = set(weights) - set(LOSS_NAMES)
        if unknown:
            raise ValueError(f"unknown loss weight(s) {sorted(unknown)}; valid: {', '.join(LOSS_NAMES)}")
        raw = self.raw_losses(outputs, batch)
        total = raw["cls"].new_zeros(())
        for name in LOSS_NAMES:
            weight = float(weights.get(name, 0.0))
            if weight != 0.0:
                total = total + weight * raw[name]
        names = [f"loss_{n}" for n in LOSS_NAMES] + [f"weighted_{n}" for n in LOSS_NAMES] + ["loss_total"]
        values = torch.stack(
            [raw[n].detach() for n in LOSS_NAMES]
            + [raw[n].detach() * float(weights.get(n, 0.0)) for n in LOSS_NAMES]
            + [total.detach()]
        ).tolist()  # one device sync for all the numbers
        return total, dict(zip(names, values))

    def raw_losses(
        self, outputs: Mapping[str, torch.Tensor], batch: Mapping[str, torch.Tensor]
    ) -> dict[str, torch.Tensor]:
        """Each loss, unweighted, averaged over its subset (a scalar tensor with graph)."""
        labels = batch["label"].long()
        defect = (labels == 1) & batch["has_mask"].bool()
        normal = labels == 0
        everyone = torch.ones_like(defect)
        mask = batch["mask"]

        def cells(like: torch.Tensor) -> torch.Tensor:
            return cell_mask(mask, like.shape[-2:])

        attn_logits = combine_attention_logits(
            outputs["attention_logits"].float(), outputs["mined_attention_logits"].float()
        )
        attn_map = outputs["attention_map"].float()
        attn_target = cells(attn_map)
        cam = outputs["cam"].float()
        loc_logits = outputs["localization_logits"].float()

        guide_defect = (bce_loss(attn_logits, attn_target) + dice_loss(attn_map, attn_target)
                        + iou_loss(attn_map, attn_target))
        losses = {
            "cls": subset_mean(focal_loss(outputs["cls_logits"], labels, self.alpha, self.gamma), everyone),
            "am": subset_mean(
                focal_loss(outputs["attended_cls_logits"], labels, self.alpha, self.gamma), everyone
            ),
            "cam_guide": subset_mean(dice_bce_loss(centred(cam), cells(cam)), defect),
            "loc": (subset_mean(dice_bce_loss(loc_logits, resize_mask(mask, loc_logits.shape[-2:])), defect)
                    + subset_mean(bce_loss(loc_logits, torch.zeros_like(loc_logits)), normal)),
            "guide": subset_mean(guide_defect, defect) + subset_mean(entropy_loss(attn_logits), normal),
            "consist": subset_mean(consistency_loss(attn_map, loc_logits), defect),
        }
        if "cf_logits" in outputs:
            losses["cf"] = subset_mean(counterfactual_loss(outputs["cf_logits"]), defect)
        else:  # no counterfactual branch this step (evaluation, or no masks given)
            losses["cf"] = losses["cls"].new_zeros(())
        return losses
