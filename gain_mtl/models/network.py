"""GainMTL: one backbone, four paths (design section 1), assembled from the parts in this package.

``forward`` returns a dict of named tensors; the names carry through training, evaluation and
export. All maps are logits unless the name says ``map``:

- ``cls_logits`` (N, 2): classification head on the conv_head features (final output in S1-S2);
- ``cam`` (N, 1, h, w): weight-based CAM at conv_head resolution (stride 32);
- ``attention_logits`` (N, 1, h, w): GAIN attention conv net, already divided by the temperature;
- ``mined_attention_logits`` (N, 1, h, w): attention mining head S_am;
- ``attention_map`` (N, 1, h, w): sigmoid of the mean of the two logits above (the network's own
  attention; in S6 the features are weighted by the fused attention instead, see gt_attention);
- ``attended_cls_logits`` (N, 2): attended classification head (final output in S3-S6);
- ``localization_logits`` (N, 1, H/2, W/2): FPN (stride 8) -> localization head -> x4;
- ``cf_logits`` (N, 2): counterfactual module, only in training mode when a mask is given.

Python branches in ``forward`` depend only on which arguments are given and on ``self.training``,
never on tensor values, so the inference graph traces to ONNX.
"""

from __future__ import annotations

import torch
from torch import nn

from gain_mtl.config import ModelConfig
from gain_mtl.models.adapter import FeatureAdapter
from gain_mtl.models.attention import AttentionMiningHead, GainAttention, combine_attention_logits
from gain_mtl.models.backbone import Backbone
from gain_mtl.models.cam import cam_weight, weight_cam
from gain_mtl.models.counterfactual import CounterfactualModule
from gain_mtl.models.fpn import FPN
from gain_mtl.models.gt_attention import external_mask_attention, s6_training_attention
from gain_mtl.models.heads import ClassificationHead, LocalizationHead

OUTPUT_NAMES = (
    "cls_logits",
    "cam",
    "attention_logits",
    "mined_attention_logits",
    "attention_map",
    "attended_cls_logits",
    "localization_logits",
    "cf_logits",
)


class GainMTL(nn.Module):
    """The GAIN-MTL network.

    ``load_weights=False`` builds the bare architecture (no hub download, no weights file): what
    loading a trained checkpoint needs. The widths of the attention conv nets are not given by the
    design; they use ``cfg.fpn_channels`` (256), the model's working width for dense heads.
    """

    def __init__(self, cfg: ModelConfig, *, load_weights: bool = True) -> None:
        super().__init__()
        self.cfg = cfg
        # A weights file or package wins over the hub: with it, pretrained: true makes no request.
        use_hub = load_weights and cfg.pretrained and not cfg.weights
        self.backbone = Backbone(cfg.backbone, pretrained=use_hub, freeze_stages=cfg.freeze_stages)
        if load_weights and cfg.weights:
            from gain_mtl.models.weights import load_backbone_weights

            load_backbone_weights(self.backbone, cfg.weights)
        channels = self.backbone.head_info.num_chs
        width = cfg.fpn_channels
        # path 1: classification + CAM
        self.cls_head = ClassificationHead(channels, cfg.cls_hidden, cfg.dropout)
        # path 2: GAIN attention -> adapter -> attended classification
        self.attention = GainAttention(channels, width)
        self.mining = AttentionMiningHead(channels, width)
        self.adapter = FeatureAdapter(channels)
        self.attended_head = ClassificationHead(channels, cfg.cls_hidden, cfg.dropout)
        # path 3: counterfactual (training only)
        self.counterfactual = CounterfactualModule(channels, cfg.cls_hidden)
        # path 4: FPN -> localization
        self.fpn = FPN([s.num_chs for s in self.backbone.pyramid_info], width)
        self.loc_head = LocalizationHead(width)

    def forward(
        self,
        images: torch.Tensor,
        mask: torch.Tensor | None = None,
        *,
        labels: torch.Tensor | None = None,
        has_mask: torch.Tensor | None = None,
        s6_alpha: float | None = None,
        external_mask: torch.Tensor | None = None,
    ) -> dict[str, torch.Tensor]:
        """images (N, 3, H, W) normalised RGB; mask (N, 1, H, W) in {0, 1}.

        ``s6_alpha`` switches on S6's training fusion (needs ``mask``; the GT is used for samples
        with ``has_mask`` and, when ``labels`` are given, label 1). ``external_mask`` (N, 1, H, W)
        switches on S6's inference fusion.
        """
        pyramid, features = self.backbone(images)
        attention_logits = self.attention(features)
        mined_logits = self.mining(features)
        attention_map = torch.sigmoid(combine_attention_logits(attention_logits, mined_logits))
        effective = self._effective_attention(attention_map, mask, labels, has_mask, s6_alpha, external_mask)
        out = {
            "cls_logits": self.cls_head(features),
            "cam": weight_cam(features, cam_weight(self.cls_head)),
            "attention_logits": attention_logits,
            "mined_attention_logits": mined_logits,
            "attention_map": attention_map,
            "attended_cls_logits": self.attended_head(self.adapter(features * effective)),
            "localization_logits": self.loc_head(self.fpn(pyramid)),
        }
        if self.training and mask is not None:
            out["cf_logits"] = self.counterfactual(features, mask)
        return out

    @staticmethod
    def _effective_attention(
        attention_map: torch.Tensor,
        mask: torch.Tensor | None,
        labels: torch.Tensor | None,
        has_mask: torch.Tensor | None,
        s6_alpha: float | None,
        external_mask: torch.Tensor | None,
    ) -> torch.Tensor:
        """The attention that weights the features: the network's own, or S6's fusion."""
        if s6_alpha is not None and external_mask is not None:
            raise ValueError("give s6_alpha (S6 training fusion) or external_mask (inference), not both")
        if external_mask is not None:
            return external_mask_attention(attention_map, external_mask)
        if s6_alpha is None:
            return attention_map
        if mask is None:
            raise ValueError("S6 training fusion (s6_alpha) needs the batch's masks")
        if has_mask is None:
            raise ValueError("S6 training fusion (s6_alpha) needs has_mask to tell real masks from empty ones")
        selected = has_mask.bool()
        if labels is not None:
            selected = selected & (labels == 1)
        return s6_training_attention(attention_map, mask, selected, s6_alpha)
