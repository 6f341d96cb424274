"""INT8 OpenVINO IR by NNCF post-training quantization, on the shared calibration batches.

``quantize_ir`` is plain PTQ; ``quantize_ir_with_accuracy_control`` is the ``--accuracy-guard``
route: NNCF reverts the most damaging layers to float until a validation metric (the worse of
recall and decision agreement with FP32) is within the allowed drop.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import numpy as np

from calibration.errors import CalibrationError, import_optional
from calibration.gate import PROB_OUTPUT
from calibration.guard import GuardSample, ThresholdRule, guard_metric
from calibration.heads import WEIGHTED_OPS, openvino_head_nodes


def _ignored_scope(nncf, model, keep_heads_float: bool):
    if not keep_heads_float:
        return None
    return nncf.IgnoredScope(names=openvino_head_nodes(model), validate=False)


def quantize_ir(
    model: "openvino.Model",  # noqa: F821 - openvino imported lazily
    batches: Iterable[np.ndarray],
    keep_heads_float: bool = True,
) -> "openvino.Model":  # noqa: F821
    """NNCF PTQ of an FP32 IR; ``keep_heads_float`` leaves the output heads unquantized."""
    nncf = import_optional("nncf", "train")
    batches = list(batches)  # NNCF counts dataset items: one item is one batch
    return nncf.quantize(
        model,
        nncf.Dataset(batches),
        subset_size=len(batches),
        ignored_scope=_ignored_scope(nncf, model, keep_heads_float),
    )


def make_validation_fn(rule: ThresholdRule, prob_output: str = PROB_OUTPUT) -> Callable:
    """NNCF's validation function: runs a compiled model over GuardSamples, returns the metric."""

    def validate(compiled_model, samples: Iterable[GuardSample]) -> float:
        samples = list(samples)
        output = compiled_model.output(prob_output)
        prob = np.concatenate([compiled_model(s.images)[output] for s in samples])
        return guard_metric(prob, samples, rule)

    return validate


def quantized_layers(model: "openvino.Model") -> int:  # noqa: F821
    """Weighted layers that still read an INT8 (FakeQuantize) input."""
    return sum(
        1 for op in model.get_ops()
        if op.get_type_name() in WEIGHTED_OPS
        and any(v.get_node().get_type_name() == "FakeQuantize" for v in op.input_values())
    )


def quantize_ir_with_accuracy_control(
    model: "openvino.Model",  # noqa: F821
    batches: Iterable[np.ndarray],
    validation: Sequence[GuardSample],
    rule: ThresholdRule,
    max_drop: float,
    keep_heads_float: bool = True,
) -> "openvino.Model":  # noqa: F821
    """NNCF PTQ with accuracy control: layers return to float until the metric drop <= max_drop.

    When NNCF cannot reach the drop it returns every layer to float and says so only in its log;
    a model with no INT8 layer left is refused here instead of being shipped as "INT8".
    """
    nncf = import_optional("nncf", "train")
    batches = list(batches)
    quantized = nncf.quantize_with_accuracy_control(
        model,
        nncf.Dataset(batches),
        nncf.Dataset(list(validation)),
        validation_fn=make_validation_fn(rule),
        max_drop=max_drop,
        drop_type=nncf.DropType.ABSOLUTE,
        subset_size=len(batches),
        ignored_scope=_ignored_scope(nncf, model, keep_heads_float),
    )
    if quantized_layers(quantized) == 0:
        raise CalibrationError(
            f"OpenVINO INT8 stays outside the accuracy guard of {max_drop:.3f} unless every layer is in float; "
            "export without --int8, with a larger --accuracy-guard, or with more validation images"
        )
    return quantized
