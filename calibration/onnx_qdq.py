"""INT8 ONNX with Q/DQ pairs, calibrated by ONNX Runtime on the shared calibration batches.

One file serves two runtimes: ONNX Runtime fuses the Q/DQ pairs into integer kernels, and
TensorRT reads them as explicit quantization. Both want symmetric INT8 (TensorRT accepts only a
zero point of 0), per-channel weights, and the output heads left in float.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np

from calibration.errors import CalibrationError, import_optional
from calibration.heads import onnx_head_nodes

CALIBRATION_METHODS = ("minmax", "entropy", "percentile")


class BatchReader:
    """ONNX Runtime's CalibrationDataReader over an iterable of uint8 NHWC batches.

    Feeds one image per run: the histogram collectors (entropy, percentile) stack the outputs of
    all runs, so a short last batch would break them.
    """

    def __init__(self, batches: Iterable[np.ndarray], input_name: str) -> None:
        self._batches = batches
        self._input_name = input_name
        self._iter: Iterator[np.ndarray] | None = None

    def get_next(self) -> dict[str, np.ndarray] | None:
        if self._iter is None:
            self._iter = (batch[i : i + 1] for batch in self._batches for i in range(len(batch)))
        image = next(self._iter, None)
        return None if image is None else {self._input_name: image}

    def rewind(self) -> None:
        self._iter = None


def _method(name: str):
    quant = import_optional("onnxruntime.quantization", "edge")
    table = {
        "minmax": quant.CalibrationMethod.MinMax,
        "entropy": quant.CalibrationMethod.Entropy,
        "percentile": quant.CalibrationMethod.Percentile,
    }
    if name.lower() not in table:
        raise CalibrationError(
            f"unknown calibration method {name!r}; choose one of: {', '.join(CALIBRATION_METHODS)}"
        )
    return table[name.lower()]


def quantize_qdq(
    model_path: str | Path,
    out_path: str | Path,
    batches: Iterable[np.ndarray],
    method: str = "minmax",
    keep_heads_float: bool = True,
    keep_float: Sequence[str] = (),
    calibration_cache: str | Path | None = None,
) -> list[str]:
    """Write a Q/DQ INT8 copy of ``model_path`` to ``out_path``; returns the nodes kept in float.

    ``batches`` must be re-iterable (ONNX Runtime may rewind it); the model must have one input.
    ``keep_float`` names more nodes to leave in float. With ``calibration_cache``, the activation
    ranges are computed on the first call and read back on later ones, so re-quantizing the same
    model with other nodes kept in float does not run the calibration images again.
    """
    import onnx

    quant = import_optional("onnxruntime.quantization", "edge")
    calibrate_method = _method(method)
    model = onnx.load(str(model_path))
    if len(model.graph.input) != 1:
        raise CalibrationError(f"{model_path}: expected one input, found {len(model.graph.input)}")
    excluded = list(dict.fromkeys((onnx_head_nodes(model) if keep_heads_float else []) + list(keep_float)))
    reader = BatchReader(batches, model.graph.input[0].name)
    quant.quantize_static(
        str(model_path),
        str(out_path),
        reader,
        quant_format=quant.QuantFormat.QDQ,
        per_channel=True,
        activation_type=quant.QuantType.QInt8,
        weight_type=quant.QuantType.QInt8,
        calibrate_method=calibrate_method,
        nodes_to_exclude=excluded,
        extra_options={"ActivationSymmetric": True, "WeightSymmetric": True},
        calibration_cache_path=None if calibration_cache is None else str(calibration_cache),
    )
    return excluded
