"""The shared backbone: any timm EfficientNet-family model, giving the design's block outputs for
the FPN and the conv_head output for the three classification-side paths.

Which timm stages are the design's blocks 3-6
---------------------------------------------
The design (section 2.1) takes mmpretrain's ``out_indices = (3, 4, 5, 6, 7)`` of EfficientNetV2-S,
whose layers are ``[stem, stage1, ..., stage6, conv_head]``: indices 3-6 are the last four stages
(64 ch /8, 128 ch /16, 160 ch /16, 256 ch /32) and 7 is the 1280-channel conv_head. In timm's
``tf_efficientnetv2_s`` (the default: the TensorFlow original with its ImageNet weights) these are
``blocks.2``, ``blocks.3``, ``blocks.4``, ``blocks.5`` and ``conv_head`` + ``bn2`` (conv, BN,
activation, as mmpretrain's ConvModule); timm's ``efficientnetv2_s`` has the same stages but no
pretrained weights.

timm's ``features_only`` / ``forward_intermediates`` only expose the stage that ends each stride
level, which drops ``blocks.3`` (it shares stride 16 with ``blocks.4``), so this module walks the
stages itself. For other timm EfficientNet-family models the same rule is stated by stride: the
pyramid is every stage from the first one at stride 8 to the last, so the FPN always fuses at
stride 8 and the localization map (x4 upsampling) always comes out at half the input size.

Channels and strides are read from timm (``feature_info`` and each stage's last block), never
hard-coded: ``Backbone.pyramid_info`` and ``Backbone.head_info`` size the parts downstream.
"""

from __future__ import annotations

import contextlib
import difflib
from dataclasses import dataclass

import torch
from torch import nn

from gain_mtl.models.errors import ModelError, UnknownBackboneError

# The design's FPN starts at the first stage of this stride (its "block 3").
PYRAMID_FIRST_STRIDE = 8


@dataclass(frozen=True)
class StageInfo:
    """One feature map the backbone gives: where it comes from, its channels and stride."""

    module: str
    num_chs: int
    reduction: int


def _check_name(name: str) -> None:
    import timm

    if timm.is_model(name):
        return
    close = difflib.get_close_matches(name, timm.list_models(), n=8, cutoff=0.5)
    hint = f"close timm names: {', '.join(close)}" if close else "see timm.list_models('*efficientnet*')"
    raise UnknownBackboneError(f"unknown backbone {name!r} (model.backbone); {hint}")


def create_timm_model(name: str, pretrained: bool = False) -> nn.Module:
    """A timm EfficientNet-family classifier without its classifier layer."""
    import timm

    from gain_mtl.models.weights import hub_weights_file

    _check_name(name)
    # timm loads the file found (or fetched) by hub_weights_file, so it never touches the hub itself.
    overlay = {"file": hub_weights_file(name)} if pretrained else None
    model = timm.create_model(name, pretrained=pretrained, num_classes=0, pretrained_cfg_overlay=overlay)
    missing = [a for a in ("conv_stem", "bn1", "blocks", "conv_head", "bn2") if not hasattr(model, a)]
    if missing or not isinstance(model.conv_head, nn.Conv2d):
        raise ModelError(
            f"backbone {name!r} is a timm {type(model).__name__}, which has no spatial conv_head "
            "(needs conv_stem, blocks and a Conv2d conv_head); use an EfficientNet-family name "
            "such as tf_efficientnetv2_s, efficientnet_b0, tf_efficientnet_lite0 or test_efficientnet"
        )
    return model


def _stage_infos(model: nn.Module) -> list[StageInfo]:
    """Channels and stride of every stage of ``model.blocks``.

    timm's ``feature_info`` lists only the last stage of each stride level; a stage between two
    listed ones has the stride of the next listed stage, and its channels are its last block's.
    """
    listed = sorted((int(f["module"].split(".")[1]), int(f["reduction"])) for f in model.feature_info
                    if f["module"].startswith("blocks."))
    infos = []
    for index, stage in enumerate(model.blocks):
        reduction = next(r for i, r in listed if i >= index)
        infos.append(StageInfo(f"blocks.{index}", int(stage[-1].feature_info("")["num_chs"]), reduction))
    return infos


class Backbone(nn.Module):
    """timm backbone returning ``(pyramid, head)``: the design's block outputs and conv_head."""

    def __init__(self, name: str, *, pretrained: bool = False, freeze_stages: int = 0) -> None:
        super().__init__()
        self.name = name
        self.model = create_timm_model(name, pretrained=pretrained)
        stages = _stage_infos(self.model)
        first = next((i for i, s in enumerate(stages) if s.reduction >= PYRAMID_FIRST_STRIDE), None)
        if first is None:
            raise ModelError(f"backbone {name!r} never reaches stride {PYRAMID_FIRST_STRIDE}")
        self.pyramid_indices = tuple(range(first, len(stages)))
        self.pyramid_info = [stages[i] for i in self.pyramid_indices]
        self.head_info = StageInfo("conv_head", int(self.model.conv_head.out_channels), stages[-1].reduction)
        self.freeze_stages = self._check_freeze(freeze_stages, len(stages))
        self._apply_freeze()

    def _check_freeze(self, freeze_stages: int, num_stages: int) -> int:
        if not 0 <= freeze_stages <= num_stages:
            raise ModelError(
                f"model.freeze_stages={freeze_stages} is out of range for {self.name!r}: "
                f"give 0 (train everything) to {num_stages} (stem and all {num_stages} stages frozen)"
            )
        return freeze_stages

    def frozen_modules(self) -> list[nn.Module]:
        """Stem plus the first ``freeze_stages`` stages; nothing when freeze_stages is 0."""
        if self.freeze_stages == 0:
            return []
        return [self.model.conv_stem, self.model.bn1, *self.model.blocks[: self.freeze_stages]]

    def _apply_freeze(self) -> None:
        for module in self.frozen_modules():
            for p in module.parameters():
                p.requires_grad_(False)
            module.eval()

    def train(self, mode: bool = True) -> Backbone:
        """Frozen stages keep their BatchNorm statistics: they stay in eval mode while training."""
        super().train(mode)
        for module in self.frozen_modules():
            module.eval()
        return self

    def forward(self, images: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
        """Stem and frozen stages run under ``torch.no_grad()``: nothing upstream of them needs a
        gradient, so keeping their activations for backward would only cost memory and time.
        An input that asks for a gradient itself (saliency, attacks) keeps the full graph."""
        m = self.model
        pyramid: list[torch.Tensor] = []
        frozen = self.freeze_stages > 0 and not images.requires_grad
        with torch.no_grad() if frozen else contextlib.nullcontext():
            x = self._stages(m.bn1(m.conv_stem(images)), range(self.freeze_stages), pyramid)
        x = self._stages(x, range(self.freeze_stages, len(m.blocks)), pyramid)
        return pyramid, m.bn2(m.conv_head(x))

    def _stages(self, x: torch.Tensor, indices: range, pyramid: list[torch.Tensor]) -> torch.Tensor:
        """Run the stages ``indices``, appending the pyramid's outputs to ``pyramid``."""
        for index in indices:
            x = self.model.blocks[index](x)
            if index in self.pyramid_indices:
                pyramid.append(x)
        return x
