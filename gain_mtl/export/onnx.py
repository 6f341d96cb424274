"""The inference graph to ONNX: opset >= 17, dynamic batch, checked, slimmed when onnxslim is there.

The TorchScript-based exporter is used: it writes the configured opset 17 directly (the dynamo
exporter emits opset 18 and fails to down-convert this graph) and takes about a second instead
of ten, which matters on the small machines this runs on.
"""

from __future__ import annotations

import importlib.util
import logging
import warnings
from pathlib import Path

import torch

from gain_mtl.export.graph import INPUT_NAME, OUTPUT_NAMES, InferenceGraph

log = logging.getLogger(__name__)

MIN_OPSET = 17


class OnnxExportError(ValueError):
    """The graph could not be written as a valid ONNX model."""


def export_onnx(graph: InferenceGraph | torch.nn.Module, path: str | Path, image_size: int, opset: int = MIN_OPSET,
                output_names: tuple[str, ...] = OUTPUT_NAMES) -> dict:
    """Write ``graph`` to ``path``; returns what was done (opset, slimmed, node count).

    ``output_names``: another module taking the same uint8 frames (benchmarks/heads_cost.py's bare
    classifier) names its own outputs and goes through the same export."""
    import onnx

    if opset < MIN_OPSET:
        raise OnnxExportError(f"ONNX opset {opset} is too old: use {MIN_OPSET} or newer (export.opset)")
    path = Path(path)
    example = torch.zeros(2, image_size, image_size, 3, dtype=torch.uint8)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(
            graph.eval(), (example,), str(path),
            input_names=[INPUT_NAME], output_names=list(output_names), opset_version=opset,
            dynamo=False, dynamic_axes={name: {0: "batch"} for name in (INPUT_NAME, *output_names)},
        )
    model = onnx.load(str(path))
    nodes_before = len(model.graph.node)
    slimmed = importlib.util.find_spec("onnxslim") is not None
    if slimmed:
        import onnxslim

        model = onnxslim.slim(model)
    try:
        onnx.checker.check_model(model, full_check=True)
    except onnx.checker.ValidationError as exc:
        raise OnnxExportError(f"{path}: the exported graph fails onnx.checker: {exc}") from exc
    onnx.save(model, str(path))
    return {"opset": opset, "slimmed": slimmed, "nodes_before_slim": nodes_before, "nodes": len(model.graph.node)}


def stamp_onnx(path: str | Path, spec) -> None:
    """Mirror the bundle description into the file's metadata_props (rewritten atomically)."""
    import onnx

    from edge.atomic import atomic_write_bytes
    from edge.bundle import mirror_into_onnx

    model = onnx.load(str(path))
    mirror_into_onnx(model, spec)
    atomic_write_bytes(path, model.SerializeToString())
