"""How a model's decisions hold up under what a line camera does to a frame.

A part photographed on a line arrives JPEG-compressed (MJPG or H.264), a little brighter or darker
than in training, slightly out of focus, a few pixels off. A model whose verdict flips under
those is not deployable however well it scores on clean PNGs. Each named perturbation here is one
such change, applied to the frame as the camera sends it (the stored image, at its own
resolution) before the edge's resize, so that a JPEG block or a one-pixel blur means what it
means on the line.
The export measures every shipped model under each, against its own decisions on the clean
frames, and a guard refuses a bundle that flips too many; ``gainctl bench --robustness`` measures
the same on a device.

Torch-free (OpenCV and NumPy): the camera side runs it too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence

import numpy as np

from edge.decision import flagged
from edge.metrics import decision_metrics

Perturb = Callable[[np.ndarray], np.ndarray]


def _jpeg(quality: int) -> Perturb:
    def apply(frame: np.ndarray) -> np.ndarray:
        import cv2

        ok, data = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, quality])
        if not ok:
            raise RuntimeError(f"OpenCV could not JPEG-encode a {frame.shape} frame")
        return cv2.imdecode(data, cv2.IMREAD_COLOR)

    return apply


def _brightness(factor: float) -> Perturb:
    def apply(frame: np.ndarray) -> np.ndarray:
        return np.clip(np.rint(frame.astype(np.float32) * factor), 0, 255).astype(np.uint8)

    return apply


def _gamma(gamma: float) -> Perturb:
    lut = np.clip(np.rint(255.0 * (np.arange(256) / 255.0) ** gamma), 0, 255).astype(np.uint8)

    def apply(frame: np.ndarray) -> np.ndarray:
        return lut[frame]

    return apply


def _blur(sigma: float) -> Perturb:
    def apply(frame: np.ndarray) -> np.ndarray:
        import cv2

        return cv2.GaussianBlur(frame, (0, 0), sigmaX=sigma, sigmaY=sigma, borderType=cv2.BORDER_REFLECT_101)

    return apply


def _shift(fraction: float) -> Perturb:
    """The part sits ``fraction`` of the side right and down; the uncovered edge repeats the border."""

    def apply(frame: np.ndarray) -> np.ndarray:
        import cv2

        h, w = frame.shape[:2]
        matrix = np.float32([[1, 0, round(fraction * w)], [0, 1, round(fraction * h)]])
        return cv2.warpAffine(frame, matrix, (w, h), flags=cv2.INTER_NEAREST, borderMode=cv2.BORDER_REPLICATE)

    return apply


# The named perturbations, in report order: the one table every caller reads.
PERTURBATIONS: Dict[str, Perturb] = {
    "jpeg-75": _jpeg(75),
    "jpeg-50": _jpeg(50),
    "brightness+15%": _brightness(1.15),
    "brightness-15%": _brightness(0.85),
    "gamma-0.8": _gamma(0.8),
    "gamma-1.2": _gamma(1.2),
    "blur-sigma1": _blur(1.0),
    "shift-2%": _shift(0.02),
}
# What a line camera does every day: compression and exposure drift. The export's default guard.
GUARDED = ("jpeg-75", "brightness+15%", "brightness-15%")
DEFAULT_MIN_AGREEMENT = 0.97


class RobustnessError(ValueError):
    """A model whose decisions flip under a guarded perturbation more than the guard allows."""


def check_names(names: Iterable[str]) -> List[str]:
    """``names`` as a list; ValueError naming any that is not a known perturbation."""
    names = list(names)
    unknown = [n for n in names if n not in PERTURBATIONS]
    if unknown:
        raise ValueError(f"unknown perturbation(s) {', '.join(unknown)}; known: {', '.join(PERTURBATIONS)}")
    return names


@dataclass
class Robustness:
    """One model's decisions under each perturbation, against its own decisions on clean frames."""

    threshold: float
    clean: Dict[str, float]                   # recall, precision on the clean frames
    perturbations: Dict[str, Dict[str, float]]  # name -> agreement, recall, precision, flips
    min_agreement: float
    guarded: List[str]

    @property
    def failures(self) -> List[str]:
        return [f"{name}: agreement {self.perturbations[name]['agreement']:.3f} < {self.min_agreement:.3f}"
                for name in self.guarded
                if name in self.perturbations and self.perturbations[name]["agreement"] < self.min_agreement]

    @property
    def passed(self) -> bool:
        return not self.failures

    def to_dict(self) -> Dict[str, Any]:
        return {"threshold": self.threshold, "clean": self.clean, "perturbations": self.perturbations,
                "min_agreement": self.min_agreement, "guarded": list(self.guarded), "passed": self.passed}

    def raise_if_failed(self, model: str) -> None:
        if self.passed:
            return
        raise RobustnessError(
            f"{model} breaks the robustness guard: {'; '.join(self.failures)} (decisions that stay the same as on "
            "the clean test frames). No bundle was written; train with the camera augmentations on (augment.jpeg, "
            "augment.color_jitter, augment.gamma), or relax --robustness-guard (0 turns it off)"
        )


def _rates(flag: np.ndarray, labels: np.ndarray) -> Dict[str, float]:
    metrics = decision_metrics(flag, labels)
    return {"recall": metrics["recall"], "precision": metrics["precision"]}


def measure_robustness(score: Callable[[np.ndarray], np.ndarray], originals: Sequence[np.ndarray], labels: np.ndarray,
            threshold: float, prepare: Callable[[np.ndarray], np.ndarray], names: Optional[Iterable[str]] = None,
            guarded: Iterable[str] = GUARDED, min_agreement: float = DEFAULT_MIN_AGREEMENT) -> Robustness:
    """Run ``score`` (model inputs -> defect probabilities) on the clean and perturbed ``originals``.

    ``originals`` are the frames as the camera sends them (any size, BGR uint8); ``prepare`` turns
    one into the model's input (the edge's resize, the channel order). A part counts as flagged
    (not accepted) by the line's own rule, so a fault is never an accept here either; agreement is
    the share of parts whose flag is the same as on the clean frame.
    """
    names = check_names(PERTURBATIONS if names is None else names)
    guarded = [g for g in check_names(guarded) if g in names]

    def inputs(perturbation: Optional[Perturb]) -> np.ndarray:
        return np.stack([prepare(f if perturbation is None else perturbation(np.ascontiguousarray(f)))
                         for f in originals])

    clean = flagged(score(inputs(None)), threshold)
    rows: Dict[str, Dict[str, float]] = {}
    for name in names:
        flag = flagged(score(inputs(PERTURBATIONS[name])), threshold)
        rows[name] = {"agreement": float(np.mean(flag == clean)), "flips": int(np.sum(flag != clean)),
                      **_rates(flag, labels)}
    return Robustness(threshold, _rates(clean, labels), rows, min_agreement, guarded)


ROBUSTNESS_HEADER = ("model", "perturbation", "agreement", "flips", "recall", "precision", "guarded")


def robustness_rows(models: Dict[str, Dict[str, Any]]) -> List[List[Any]]:
    """Table rows (ROBUSTNESS_HEADER) for ``{model label: Robustness.to_dict()}``: clean first, then
    each perturbation; the export's report.md and the bench's report both print these."""
    rows: List[List[Any]] = []
    for label, r in models.items():
        rows.append([label, "clean", None, None, r["clean"]["recall"], r["clean"]["precision"], ""])
        rows += [[label, name, p["agreement"], p["flips"], p["recall"], p["precision"],
                  "yes" if name in r["guarded"] else ""] for name, p in r["perturbations"].items()]
    return rows
