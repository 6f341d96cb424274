"""Strategies S1-S6 and the four training stages, as data (design sections 3.3, 4 and 5).

``STRATEGIES`` holds each strategy's target loss weights; ``STAGES`` says when each loss is
added (as a fraction of training) and which losses warm up. One function, ``loss_weights``,
reads both: a loss is active once its stage has begun and its strategy weight is non-zero.

Choices where the design is open:
- ``progress = epoch / total_epochs``; stage k covers ``[start, end)``; progress 1.0 is stage 4.
- Only L_loc warms up (design 4.2), linearly from 0 at the start of stage 3 to its target after
  ``loc_warmup_ratio`` of stage 3 (half, by default); ``loc_warmup_ratio = 0`` disables it.
- S6's blend weight alpha goes linearly from ``start`` (0.5) at progress 0 to ``end`` (0.0) at
  progress 1 ("decreasing as training proceeds").
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Mapping

LOSS_NAMES = ("cls", "am", "cam_guide", "loc", "guide", "cf", "consist")
FOCAL_LOSSES = ("cls", "am")  # the image-level classification terms


@dataclass(frozen=True)
class Strategy:
    name: str
    weights: Mapping[str, float]
    final_logits: str  # which output is the prediction: "cls_logits" or "attended_cls_logits"
    gt_mask_attention: bool = False  # S6: GT mask fused into the attention while training
    description: str = ""  # what it adds to the one before; listed by `gainctl train --help`


@dataclass(frozen=True)
class Stage:
    index: int
    start: float  # fraction of training where the stage begins
    end: float
    adds: tuple[str, ...]  # losses that become active here
    warmup: tuple[str, ...] = ()  # of those, the ones whose weight ramps up linearly
    purpose: str = ""  # listed by `gainctl train --help`


def _weights(cls: float, am: float, cam_guide: float, loc: float, guide: float, cf: float,
             consist: float) -> Mapping[str, float]:
    values = dict(cls=cls, am=am, cam_guide=cam_guide, loc=loc, guide=guide, cf=cf, consist=consist)
    return MappingProxyType(values)


_S5 = _weights(cls=0.3, am=1.0, cam_guide=1.0, loc=0.2, guide=0.5, cf=0.3, consist=0.2)

STRATEGIES: Mapping[str, Strategy] = MappingProxyType({s.name: s for s in (
    Strategy("S1", _weights(1.0, 0, 0, 0, 0, 0, 0), "cls_logits", description="classification only"),
    Strategy("S2", _weights(1.0, 0, 0.3, 0, 0, 0, 0), "cls_logits", description="+ CAM guidance"),
    Strategy("S3", _weights(0.3, 1.0, 1.0, 0, 0.5, 0, 0), "attended_cls_logits",
             description="+ attention mining"),
    Strategy("S4", _weights(0.3, 1.0, 1.0, 0.2, 0.5, 0, 0.2), "attended_cls_logits",
             description="+ localization"),
    Strategy("S5", _S5, "attended_cls_logits", description="+ counterfactual"),
    Strategy("S6", _S5, "attended_cls_logits", gt_mask_attention=True,
             description="+ GT mask attention"),
)})

STAGES: tuple[Stage, ...] = (
    Stage(1, 0.00, 0.25, ("cls",), purpose="feature warm-up"),
    Stage(2, 0.25, 0.50, ("am", "guide", "cam_guide"), purpose="attention learning"),
    Stage(3, 0.50, 0.75, ("loc", "consist"), warmup=("loc",), purpose="spatial integration"),
    Stage(4, 0.75, 1.00, ("cf",), purpose="robust reasoning"),
)


def check_strategy(name: str) -> Strategy:
    """The strategy record for ``name``; ValueError listing the valid names otherwise."""
    try:
        return STRATEGIES[name]
    except KeyError:
        raise ValueError(
            f"unknown strategy {name!r} (train.strategy); valid: {', '.join(STRATEGIES)}"
        ) from None


def _check_progress(progress: float) -> float:
    if not 0.0 <= progress <= 1.0:
        raise ValueError(f"training progress must be epoch / total_epochs in [0, 1], got {progress}")
    return float(progress)


def stage_at(progress: float) -> int:
    """The stage (1..4) that ``progress`` falls in."""
    progress = _check_progress(progress)
    return next((s.index for s in STAGES if progress < s.end), STAGES[-1].index)


def _ramp(stage: Stage, progress: float, warmup_ratio: float) -> float:
    """0 before the stage, then 1, or a linear 0 -> 1 over the warm-up part of the stage."""
    if progress < stage.start:
        return 0.0
    if warmup_ratio <= 0:
        return 1.0
    length = warmup_ratio * (stage.end - stage.start)
    return min(1.0, (progress - stage.start) / length)


def loss_weights(strategy: str, progress: float, loc_warmup_ratio: float = 0.5,
                 focal_scale: float = 1.0) -> dict[str, float]:
    """Every loss's weight at ``progress`` (epoch / total_epochs) for ``strategy``; ``focal_scale``
    (``loss.focal_scale``) multiplies the two focal terms, L_cls and L_am, over the table."""
    record = check_strategy(strategy)
    progress = _check_progress(progress)
    if not 0.0 <= loc_warmup_ratio <= 1.0:
        raise ValueError(f"train.loc_warmup_ratio must be in [0, 1], got {loc_warmup_ratio}")
    weights = {}
    for stage in STAGES:
        for name in stage.adds:
            ratio = loc_warmup_ratio if name in stage.warmup else 0.0
            scale = focal_scale if name in FOCAL_LOSSES else 1.0
            weights[name] = scale * record.weights[name] * _ramp(stage, progress, ratio)
    return {name: weights[name] for name in LOSS_NAMES}


def trains_localization(strategy: str) -> bool:
    """Whether ``strategy`` ever trains the localization head (L_loc weight above 0: S4-S6). In
    the others the head keeps its initial weights, and its map says nothing about the part."""
    return check_strategy(strategy).weights["loc"] > 0


def final_logits_key(strategy: str) -> str:
    """The output that is the prediction: the classification head in S1-S2, else the attended head."""
    return check_strategy(strategy).final_logits


def s6_alpha(strategy: str, progress: float, start: float = 0.5, end: float = 0.0) -> float | None:
    """S6's curriculum blend weight at ``progress`` (linear start -> end); None for other strategies."""
    if not check_strategy(strategy).gt_mask_attention:
        return None
    progress = _check_progress(progress)
    return start + (end - start) * progress
