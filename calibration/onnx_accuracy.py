"""Accuracy-controlled Q/DQ INT8 for ONNX: the ``--accuracy-guard`` route of the ONNX target.

NNCF does this for the OpenVINO IR (``quantize_with_accuracy_control``); ONNX Runtime has no
equivalent, so this is the same idea over ``quantize_qdq``: quantize everything and measure the
guard metric on validation; when it drops more than allowed, rank the model's layer groups by how
much keeping each one in float brings the scores back towards FP32, and return groups to float,
worst first, until the drop is within the guard. Calibration runs once (ONNX Runtime's
calibration cache); each trial only rewrites the Q/DQ nodes, so a small model takes seconds.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from calibration.errors import CalibrationError, import_optional
from calibration.gate import PROB_OUTPUT
from calibration.guard import GuardSample, ThresholdRule, guard_metric
from calibration.heads import WEIGHTED_OPS, onnx_head_nodes
from calibration.onnx_qdq import quantize_qdq

log = logging.getLogger(__name__)
# A layer group is the module above a node, at most this many levels deep:
# one backbone block (``backbone/blocks.3/blocks.3.0``), one FPN lateral, the attention's CBAM, ...
GROUP_DEPTH = 3


@dataclass
class AccuracyControlResult:
    """What the search did: the metric before and after, and the groups returned to float."""

    initial_metric: float
    quantized_metric: float
    final_metric: float
    kept_float: list[str] = field(default_factory=list)
    trials: int = 0


def layer_groups(model: "onnx.ModelProto") -> dict[str, list[str]]:  # noqa: F821 - onnx imported lazily
    """Node names grouped by the module they were exported from, in graph order.

    ONNX node names from ``torch.onnx.export`` carry the module path
    (``/backbone/blocks.3/blocks.3.0/conv_pw/Conv``), which is what a user would recognise in the
    report. Every node of the module is in its group, not only the convolutions: the Q/DQ pairs
    on an attention multiply or a residual add lose precision too.
    """
    groups: dict[str, list[str]] = {}
    for node in model.graph.node:
        if node.op_type == "Constant":
            continue
        name = node.name or node.output[0]
        parts = [p for p in name.split("/") if p]
        key = "/".join(parts[: max(1, min(GROUP_DEPTH, len(parts) - 1))])
        groups.setdefault(key, []).append(name)
    return groups


def quantized_layers(model: "onnx.ModelProto") -> int:  # noqa: F821
    """Weighted layers whose weights arrive through a DequantizeLinear, i.e. run in INT8."""
    producer = {out: node.op_type for node in model.graph.node for out in node.output}
    return sum(1 for node in model.graph.node
               if node.op_type in WEIGHTED_OPS and len(node.input) > 1 and producer.get(node.input[1]) == "DequantizeLinear")


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p.astype(np.float64), 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


class _Validator:
    """Runs candidate models over the validation batches with ONNX Runtime."""

    def __init__(self, samples: Sequence[GuardSample], rule: ThresholdRule) -> None:
        self.ort = import_optional("onnxruntime", "edge")
        self.samples, self.rule = list(samples), rule

    def prob(self, path: Path) -> np.ndarray:
        session = self.ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        name = session.get_inputs()[0].name
        return np.concatenate([session.run([PROB_OUTPUT], {name: s.images})[0] for s in self.samples])

    def metric(self, prob: np.ndarray) -> float:
        return guard_metric(prob, self.samples, self.rule)


def quantize_qdq_with_accuracy_control(
    model_path: str | Path,
    out_path: str | Path,
    batches: Iterable[np.ndarray],
    validation: Sequence[GuardSample],
    rule: ThresholdRule,
    max_drop: float,
    method: str = "minmax",
    keep_heads_float: bool = True,
) -> AccuracyControlResult:
    """Q/DQ INT8 of ``model_path`` at ``out_path`` whose guard metric drops at most ``max_drop``.

    Raises CalibrationError when only a model with every group in float would stay within the
    guard: that model is FP32 under an INT8 name, which the bundle must not claim.
    """
    import onnx

    model_path, out_path = Path(model_path), Path(out_path)
    batches = list(batches)
    validator = _Validator(validation, rule)
    fp32_prob = validator.prob(model_path)
    initial = validator.metric(fp32_prob)
    model = onnx.load(str(model_path))
    heads = set(onnx_head_nodes(model)) if keep_heads_float else set()
    groups = {k: kept for k, v in layer_groups(model).items() if (kept := [n for n in v if n not in heads])}

    with tempfile.TemporaryDirectory(prefix="gain-qdq-") as tmp:
        cache = Path(tmp) / "ranges.json"
        trials = 0

        def trial(keep: list[str], path: Path) -> np.ndarray:
            nonlocal trials
            trials += 1
            quantize_qdq(model_path, path, batches, method=method, keep_heads_float=keep_heads_float,
                         keep_float=[n for g in keep for n in groups[g]], calibration_cache=cache)
            return validator.prob(path)

        prob = trial([], out_path)
        quantized = validator.metric(prob)
        result = AccuracyControlResult(initial, quantized, quantized)
        log.info("ONNX INT8 guard metric: FP32 %.4f, INT8 %.4f (allowed drop %.4f)", initial, quantized, max_drop)
        if initial - quantized <= max_drop:
            result.trials = trials
            return result
        # Rank: the group whose float copy leaves the scores closest to FP32 (in logits) hurts most.
        probe = Path(tmp) / "probe.onnx"
        error = {g: float(np.mean(np.abs(_logit(trial([g], probe)) - _logit(fp32_prob)))) for g in groups}
        ranking = sorted(groups, key=error.get)
        for count in range(1, len(ranking)):
            keep = ranking[:count]
            result.final_metric = validator.metric(trial(keep, out_path))
            if initial - result.final_metric <= max_drop and quantized_layers(onnx.load(str(out_path))):
                result.kept_float, result.trials = keep, trials
                log.info("ONNX INT8 within the guard with %d of %d layer groups in float: %s",
                         count, len(groups), ", ".join(keep))
                return result
    raise CalibrationError(
        f"{model_path}: ONNX INT8 stays outside the accuracy guard of {max_drop:.3f} unless every layer is in float "
        f"(drop {initial - result.final_metric:.3f} with {len(ranking) - 1} of {len(ranking)} layer groups in float); "
        "export without --int8, with a larger --accuracy-guard, or with more validation images"
    )
