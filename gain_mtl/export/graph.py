"""The pruned inference graph: what a camera runs, and nothing else.

Training needs four paths; a decision needs the backbone, the GAIN attention (both streams: the
final attention is their mean), the adapter and the final head the strategy predicts with (the
attended head in S3-S6, the classification head in S1-S2), and the FPN + localization head for
the defect region. The counterfactual module, the unused head and the CAM are left out.

Preprocessing is folded in: the graph takes the resized frame as the camera gives it, uint8
(N, H, W, 3) in BGR (OpenCV's order), and converts and normalises inside, so the edge does no
float work and cannot get the mean, std or channel order wrong. Outputs are probabilities:
``defect_prob`` (N,), ``attention_map`` (N, 1, h, w), ``localization_map`` (N, 1, H', W').

In S6 the network's own attention is used: at inference there is no ground-truth mask to fuse.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from gain_mtl.data.transforms import input_normalization
from gain_mtl.models.attention import combine_attention_logits

INPUT_NAME = "image"
OUTPUT_NAMES = ("defect_prob", "attention_map", "localization_map")
CHANNEL_ORDERS = ("BGR", "RGB")


class InferenceGraph(nn.Module):
    """uint8 NHWC frames -> (defect_prob, attention_map, localization_map), sharing the model's weights."""

    def __init__(self, model: nn.Module, strategy: str, channel_order: str = "BGR") -> None:
        from gain_mtl.schedule import final_logits_key

        super().__init__()
        if channel_order not in CHANNEL_ORDERS:
            raise ValueError(f"channel order {channel_order!r} is not one of {CHANNEL_ORDERS}")
        self.strategy = strategy
        self.channel_order = channel_order
        self.attended = final_logits_key(strategy) == "attended_cls_logits"
        self.backbone = model.backbone
        self.attention = model.attention
        self.mining = model.mining
        self.fpn = model.fpn
        self.loc_head = model.loc_head
        if self.attended:
            self.adapter = model.adapter
            self.head = model.attended_head
        else:
            self.head = model.cls_head
        # (x / 255 - mean) / std == x * scale - shift, per RGB channel, with the training's statistics.
        mean, std = (torch.tensor(v).view(1, 3, 1, 1) for v in input_normalization(model.cfg))
        self.register_buffer("scale", 1.0 / (255.0 * std), persistent=False)
        self.register_buffer("shift", mean / std, persistent=False)
        self.eval()

    def normalise(self, image: torch.Tensor) -> torch.Tensor:
        """uint8 (N, H, W, 3) in the camera's order -> normalised float (N, 3, H, W) RGB."""
        x = image.permute(0, 3, 1, 2).to(torch.float32)
        if self.channel_order == "BGR":
            x = x.flip(1)
        return x * self.scale - self.shift

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        pyramid, features = self.backbone(self.normalise(image))
        attention_map = torch.sigmoid(combine_attention_logits(self.attention(features), self.mining(features)))
        if self.attended:
            logits = self.head(self.adapter(features * attention_map))
        else:
            logits = self.head(features)
        defect_prob = torch.softmax(logits, dim=1)[:, 1]
        localization_map = torch.sigmoid(self.loc_head(self.fpn(pyramid)))
        return defect_prob, attention_map, localization_map


@dataclass(frozen=True)
class GraphCost:
    """Parameters and forward FLOPs of the full model and of the pruned graph, at one input size."""

    image_size: int
    params_full: int
    params_pruned: int
    flops_full: int
    flops_pruned: int

    def to_dict(self) -> dict[str, int | float]:
        return {
            "image_size": self.image_size,
            "params_full": self.params_full,
            "params_pruned": self.params_pruned,
            "gflops_full": round(self.flops_full / 1e9, 4),
            "gflops_pruned": round(self.flops_pruned / 1e9, 4),
        }


def count_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def _flops(fn, *args) -> int:
    from torch.utils.flop_counter import FlopCounterMode

    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        fn(*args)
    return int(counter.get_total_flops())


def graph_cost(model: nn.Module, graph: InferenceGraph, image_size: int) -> GraphCost:
    """Count both on one image; the full model runs as it trains (mask given, counterfactual on).

    The training-mode forward runs on a copy: it would otherwise update the batch-norm running
    statistics of the very weights being exported.
    """
    import copy

    frame = torch.zeros(1, image_size, image_size, 3, dtype=torch.uint8)
    images = graph.normalise(frame)
    mask = torch.zeros(1, 1, image_size, image_size)
    training_copy = copy.deepcopy(model).train()
    return GraphCost(
        image_size=image_size,
        params_full=count_params(model),
        params_pruned=count_params(graph),
        flops_full=_flops(lambda: training_copy(images, mask)),
        flops_pruned=_flops(graph, frame),
    )
