"""The decision threshold: one that catches ``target_recall`` of new defects with a stated confidence.

A missed defect is the costliest error on a line (design section 6), so the threshold is chosen
for recall on the validation split and the precision it costs is reported beside it.

Why not "catch ``target_recall`` of the validation defects": with 30 validation defects, a
threshold that catches 29 of them (recall 0.967 on validation) catches, on new parts, a recall
that is itself a random number, below the target about half the time. The rule here says how
often.

The rule (distribution-free, the split-conformal argument): let the n validation defects score
s_(1) <= ... <= s_(n). Rejecting everything at or above s_(j) has, on new defects from the same
distribution, the true recall R_j = 1 - F(s_(j)), where F is the (continuous) distribution of a
defect's score. F(s_(j)) is the j-th order statistic of n uniforms, so R_j ~ Beta(n - j + 1, j),
whatever the model and the data. The threshold uses the largest j (the highest threshold, so the
best precision) with P(R_j >= target_recall) >= ``recall_confidence``. When even j = 1 (catch every
validation defect) falls short, i.e. n < log(1 - confidence) / log(target_recall), j = 1 is used and
a warning names the number of defects the target needs. The central ``RECALL_INTERVAL_LEVEL``
interval and the mean of Beta(n - j + 1, j) are reported with the threshold as its expected
recall; ``split_recall_interval`` widens that interval for the finite number of defects an
evaluation split holds (the count caught is then Beta-binomial), which is what a measured recall
can be checked against. Ties between defect scores make the statement conservative (rejecting at
s_(j) then catches the tied scores too).

Parts: where a dataset holds several images of one physical part (``parts.csv``: exposures, views),
those images are not independent draws: six exposures of one tile rise and fall together, and
counting them as six defects makes the interval as narrow as six tiles would. With parts, the unit
is the defective part and its score is the lowest of its defect images: rejecting at or above
s_(j) of those n part scores catches every image of a new defective part with a probability R_j ~
Beta(n - j + 1, j). A line sees one of a part's images, whichever it happens to be, and catches it
at least that often: the stated recall is a lower bound on the recall per new part (the mean over
parts of the share of each part's images caught; pooled over images it is the same where every
part has as many images). An image without a part is a part of its own, so a dataset without parts
is ranked image by image, as before. ``part_recall`` measures the same quantity on another split,
which is what ``recall_check`` holds against the promise.

Placement: any threshold between s_(j) and the next lower score gives the same validation
decisions; the highest of them (s_(j) itself) leaves no margin, so a part scoring a hair lower in
the field, or the same part through an INT8 model, flips to *accept*. The threshold sits in the
middle of that gap instead, measured in logits because the probabilities are sigmoid outputs and a
gap between 0.98 and 0.999 is as wide as one between 0.3 and 0.7. Rejecting a little more than
s_(j) only raises recall, so the confidence statement still holds.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from dataclasses import dataclass
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from edge.decision import flagged
from edge.metrics import classification_metrics
from gain_mtl.data.split import by_part

# Used when the validation split holds no defect, so no recall can be targeted.
FALLBACK_THRESHOLD = 0.5
# The reported expected-recall interval: central 90 % of the recall's distribution.
RECALL_INTERVAL_LEVEL = 0.9
_EPS = 1e-7
# Confidence comparisons tolerate float rounding in the Beta tail (e.g. 1 - 0.9**22 vs 0.9).
_TOLERANCE = 1e-12


class RecallWarning(UserWarning):
    """The validation split holds too few defects to support the target recall at the confidence."""


@dataclass(frozen=True)
class ThresholdChoice:
    """A decision threshold and what validation says about the recall it gives on new parts.

    Field names are those of metrics.json, the checkpoint meta and bundle.json (``to_dict``).
    ``threshold_rank`` is j: the j-th lowest validation defect score is the lowest one rejected.
    ``n_val_defects`` counts defective images; ``n_val_defect_parts`` the defective parts when
    validation names parts (None otherwise), and then the rank and the recall fields count parts.
    The recall fields are None when validation holds no defect.
    """

    threshold: float
    threshold_precision: float
    target_recall: float
    recall_confidence: float
    n_val_defects: int
    n_val_defect_parts: int | None
    threshold_rank: int | None
    expected_recall: float | None
    expected_recall_interval: tuple[float, float] | None
    recall_interval_level: float
    recall_confidence_achieved: float | None
    threshold_supported: bool
    threshold_warning: str | None

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        if self.expected_recall_interval is not None:
            data["expected_recall_interval"] = list(self.expected_recall_interval)
        return data


# Keys of ThresholdChoice.to_dict(), for the records that carry a choice (checkpoint meta, metrics.json).
CHOICE_KEYS = tuple(f.name for f in dataclasses.fields(ThresholdChoice))


def _logit(p: float) -> float:
    p = min(max(p, _EPS), 1.0 - _EPS)
    return math.log(p / (1.0 - p))


def _check_unit(name: str, value: float, one_allowed: bool) -> None:
    if not (0.0 < value <= 1.0 if one_allowed else 0.0 < value < 1.0):
        raise ValueError(f"{name} must be in (0, 1{']' if one_allowed else ')'}, got {value}")


def ranked_defects(meta: Mapping[str, Any]) -> tuple[int | None, str]:
    """How many validation defects a choice ranked, and what they are ("parts" or "images")."""
    parts = meta.get("n_val_defect_parts")
    return (parts, "parts") if parts is not None else (meta.get("n_val_defects"), "images")


def _part_scores(prob: np.ndarray, parts: list[str | None]) -> np.ndarray:
    """Each part's lowest score among ``prob`` (aligned with ``parts``; None: a part of its own)."""
    groups = by_part(range(len(prob)), lambda i: parts[i])
    return np.array([prob[g].min() for g in groups], dtype=np.float64)


def _defect_parts(parts: Sequence[str | None] | None, label: np.ndarray) -> list[str | None] | None:
    """The part of each defect image (``parts`` aligned with ``label``); None when no defect image
    names one, so the defects are ranked image by image."""
    if parts is None:
        return None
    parts = list(parts)
    if len(parts) != len(label):
        raise ValueError(f"parts names {len(parts)} images but there are {len(label)} scores")
    named = [p for p, defect in zip(parts, label) if defect]
    return named if any(p is not None for p in named) else None


def _ranked_scores(prob: np.ndarray, label: np.ndarray,
                   parts: Sequence[str | None] | None) -> tuple[np.ndarray, int | None]:
    """The scores the rule ranks: each defective part's lowest, or each defect image's where no
    defect names a part; with the number of parts (None when images are ranked)."""
    named = _defect_parts(parts, label)
    if named is None:
        return prob[label], None
    lowest = _part_scores(prob[label], named)
    return lowest, int(lowest.size)


def part_recall(prob: np.ndarray, label: np.ndarray, threshold: float,
                parts: Sequence[str | None] | None) -> tuple[int, int]:
    """(defective parts with every defect image rejected at ``threshold``, defective parts): the
    quantity the threshold's promise is about when validation named parts."""
    prob, label = np.asarray(prob, dtype=np.float64), np.asarray(label).astype(bool)
    lowest, _ = _ranked_scores(prob, label, parts)
    return int(flagged(lowest, threshold).sum()), int(lowest.size)


def defects_needed(target_recall: float, confidence: float) -> float:
    """The fewest validation defects for which catching all of them supports the target: the
    smallest n with 1 - target_recall**n >= confidence (inf for a target recall of 1)."""
    if target_recall >= 1.0:
        return math.inf
    return float(math.ceil(math.log(1.0 - confidence) / math.log(target_recall) - 1e-9))


def recall_interval(n_defects: int, rank: int, level: float = RECALL_INTERVAL_LEVEL) -> tuple[float, float]:
    """Central ``level`` interval of Beta(n - j + 1, j): the true recall of rejecting from the
    ``rank``-th lowest of ``n_defects`` validation defect scores up."""
    from scipy.stats import beta

    low, high = beta.ppf([(1.0 - level) / 2.0, (1.0 + level) / 2.0], n_defects - rank + 1, rank)
    return float(low), float(high)


def split_recall_interval(
    n_defects: int, rank: int, split_defects: int, level: float = RECALL_INTERVAL_LEVEL
) -> tuple[float, float]:
    """Central ``level`` interval of the recall *measured* on ``split_defects`` new defects.

    The true recall is Beta(n - j + 1, j); the number of the split's defects caught is then
    Beta-binomial(split_defects, n - j + 1, j), so this interval is wider than ``recall_interval``
    by the split's own sampling noise. A measured recall outside it says the split is not
    distributed like validation (or the model changed), not bad luck at the stated level.
    """
    from scipy.stats import betabinom

    if split_defects < 1:
        raise ValueError(f"split_defects must be at least 1, got {split_defects}")
    low, high = betabinom.ppf([(1.0 - level) / 2.0, (1.0 + level) / 2.0], split_defects, n_defects - rank + 1, rank)
    return float(low) / split_defects, float(high) / split_defects


def recall_check(meta: Mapping[str, Any], recall: float, split_defects: int,
                 parts_caught: tuple[int, int] | None = None) -> dict[str, Any]:
    """What validation promised about the recall of a checkpoint's threshold, and whether the recall
    measured on ``split_defects`` defects of another split keeps it.

    ``meta`` is a checkpoint's meta (the ``ThresholdChoice`` fields). When its rank counts parts,
    the check is on ``parts_caught`` (``part_recall`` of the split: parts with every defect image
    caught, defective parts), the quantity the rank promised, and ``recall`` and ``split_defects``
    (of images) are not used. ``split_recall_interval`` is the interval for this split's number
    of defects (or parts) and ``recall_inside_interval`` the check against it; both are None
    without a rank (no validation defects, or a checkpoint written before the rule) or without
    defects in the split.
    """
    promised = {key: meta.get(key) for key in CHOICE_KEYS if key not in ("threshold", "threshold_precision")}
    rank = meta.get("threshold_rank")
    n_val, unit = ranked_defects(meta)
    measured, count = recall, split_defects
    if unit == "parts":
        if parts_caught is None:
            raise ValueError("the threshold's rank counts parts: pass the split's parts_caught (part_recall)")
        caught, count = parts_caught
        measured = caught / count if count else None
    checked = {"recall_unit": unit, "split_checked_defects": count, "split_checked_recall": measured}
    if rank is None or not n_val or not count:
        return {**promised, **checked, "split_recall_interval": None, "recall_inside_interval": None}
    level = meta.get("recall_interval_level") or RECALL_INTERVAL_LEVEL
    low, high = split_recall_interval(n_val, rank, count, level)
    return {**promised, **checked, "split_recall_interval": [low, high],
            "recall_inside_interval": bool(low - _TOLERANCE <= measured <= high + _TOLERANCE)}


def _mid_gap(prob: np.ndarray, lowest_caught: float) -> float:
    """The logit midpoint between ``lowest_caught`` and the highest score below it (any class)."""
    below = prob[prob < lowest_caught]
    if not below.size:
        return lowest_caught
    mid = 0.5 * (_logit(lowest_caught) + _logit(float(below.max())))
    # Never above the defect's own score, which rounding at the clip could otherwise do.
    return min(lowest_caught, 1.0 / (1.0 + math.exp(-mid)))


def choose_threshold(
    prob: np.ndarray,
    label: np.ndarray,
    target_recall: float,
    confidence: float,
    level: float = RECALL_INTERVAL_LEVEL,
    parts: Sequence[str | None] | None = None,
) -> ThresholdChoice:
    """The threshold for the rule ``prob >= threshold`` -> defective; see the module docstring.

    ``parts`` (aligned with ``prob``) names each image's physical part; with it the defective parts
    are ranked, not the images. Warns (RecallWarning, shown once per calling line) when validation
    holds too few defects for ``target_recall`` at ``confidence``; the choice carries the same text
    in ``threshold_warning``.
    """
    from scipy.stats import beta

    _check_unit("target_recall", target_recall, one_allowed=True)
    _check_unit("confidence", confidence, one_allowed=False)
    _check_unit("level", level, one_allowed=False)
    prob = np.asarray(prob, dtype=np.float64)
    label = np.asarray(label).astype(bool)
    scores, n_parts = _ranked_scores(prob, label, parts)
    positives = np.sort(scores)
    n = int(positives.size)
    common = {"target_recall": target_recall, "recall_confidence": confidence, "n_val_defects": int(label.sum()),
              "n_val_defect_parts": n_parts, "recall_interval_level": level}
    if n == 0:
        text = "validation holds no defects; no recall can be targeted: add defective images to validation"
        warnings.warn(text, RecallWarning, stacklevel=2)
        return ThresholdChoice(
            FALLBACK_THRESHOLD, classification_metrics(prob, label, FALLBACK_THRESHOLD)["precision"], **common,
            threshold_rank=None, expected_recall=None, expected_recall_interval=None,
            recall_confidence_achieved=None, threshold_supported=False, threshold_warning=text,
        )
    ranks = np.arange(1, n + 1)
    # P(R_j >= target) for every j; it falls as j rises (a higher threshold catches less).
    achieved = beta.sf(target_recall, n - ranks + 1, ranks)
    enough = np.flatnonzero(achieved >= confidence - _TOLERANCE)
    supported = enough.size > 0
    rank = int(enough[-1]) + 1 if supported else 1
    text = None
    if not supported:
        needed = defects_needed(target_recall, confidence)
        unit = "defects" if n_parts is None else "defective parts"
        need = (f"cannot be supported by any number of {unit}" if math.isinf(needed)
                else f"needs at least {int(needed)} {unit}")
        what = ("defect" if n == 1 else "defects") if n_parts is None else \
            f"defective part{'' if n == 1 else 's'} ({int(label.sum())} images)"
        text = (f"validation holds {n} {what}; target recall {target_recall:g} with confidence {confidence:g} "
                f"{need}; add {unit} to validation or lower train.target_recall / train.recall_confidence")
        warnings.warn(text, RecallWarning, stacklevel=2)
    threshold = _mid_gap(prob, float(positives[rank - 1]))
    return ThresholdChoice(
        threshold, classification_metrics(prob, label, threshold)["precision"], **common,
        threshold_rank=rank, expected_recall=(n - rank + 1) / (n + 1),
        expected_recall_interval=recall_interval(n, rank, level),
        recall_confidence_achieved=float(achieved[rank - 1]), threshold_supported=supported, threshold_warning=text,
    )
