"""Which epoch becomes ``best.pt``: the rule that decides which model is evaluated and shipped.

Two parts, both in this module only:

- **Eligibility.** An epoch can be ``best.pt`` only once every loss of the strategy has reached its
  full weight (``schedule.loss_weights`` equals the strategy's weights). An S5 checkpoint from
  stage 1 or 2 would carry a localization head that no loss has trained yet and a counterfactual
  branch that never ran: it is an S1 model under another name. For S1 every epoch qualifies;
  for S4-S6 only the last stage does. When the run is too short for any epoch to qualify
  (fewer than four epochs), the last epoch is the best: :func:`first_eligible_epoch` says so and
  the trainer warns at the start.
- **The metric.** ``train.best_metric: auto`` is validation AUROC for strategies whose losses do
  not train the localization head (S1-S3), and ``AUROC + loc IoU`` for those that do (S4-S6):
  a checkpoint with the best verdicts but a localization map that misses the defects is not the
  method's best. Both terms lie in [0, 1] and weigh the same. Any single validation metric of
  ``history.csv`` can still be named instead.
"""

from __future__ import annotations

from typing import Any, Mapping

from gain_mtl.schedule import check_strategy, loss_weights

AUTO = "auto"
# The composite metric for strategies that train the localization head.
AUROC_LOC = "auroc+loc_iou"
_TERMS = {AUROC_LOC: ("auroc", "loc_iou")}


def allowed_metrics(history_keys: tuple[str, ...]) -> tuple[str, ...]:
    """What ``train.best_metric`` may name: auto, the composite, or one validation column."""
    return (AUTO, AUROC_LOC, *history_keys)


def resolve_metric(strategy: str, best_metric: str) -> str:
    """``auto`` -> the strategy's metric; anything else as given."""
    if best_metric != AUTO:
        return best_metric
    return AUROC_LOC if check_strategy(strategy).weights["loc"] > 0 else "auroc"


def metric_value(val: Mapping[str, Any], metric: str) -> float | None:
    """The value of ``metric`` in one epoch's validation row; None when a term is undefined
    (AUROC with one class in val, loc IoU without masked defects)."""
    terms = _TERMS.get(metric, (metric,))
    values = [val.get(term) for term in terms]
    if any(v is None for v in values):
        return None
    return float(sum(values))


def reaches_full_weight(strategy: str, epoch: int, epochs: int, loc_warmup_ratio: float) -> bool:
    """Whether 0-based ``epoch`` of ``epochs`` trains with every loss of ``strategy`` at full weight."""
    target = check_strategy(strategy).weights
    weights = loss_weights(strategy, epoch / epochs, loc_warmup_ratio)
    return all(weights[name] == target[name] for name in target)


def first_eligible_epoch(strategy: str, epochs: int, loc_warmup_ratio: float) -> int | None:
    """The first 0-based epoch that may become ``best.pt``; None when none reaches full weight."""
    return next((e for e in range(epochs) if reaches_full_weight(strategy, e, epochs, loc_warmup_ratio)), None)


def is_eligible(strategy: str, epoch: int, epochs: int, loc_warmup_ratio: float) -> bool:
    """``epoch`` (0-based) may become ``best.pt``: it trains at full weight, or no epoch of the run
    does and it is the last one."""
    first = first_eligible_epoch(strategy, epochs, loc_warmup_ratio)
    return epoch >= first if first is not None else epoch == epochs - 1
