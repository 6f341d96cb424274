"""The ONNX model to OpenVINO IR (xml + bin), with the bundle description mirrored in rt_info.

The IR is converted from the bundle's own ONNX rather than from torch, so every target starts
from one graph and the FP32 artifacts can only differ by runtime arithmetic.
"""

from __future__ import annotations

from pathlib import Path


def convert_to_ir(onnx_path: str | Path) -> "openvino.Model":  # noqa: F821 - imported lazily
    from edge.backends.openvino import import_openvino

    return import_openvino().convert_model(str(onnx_path))


def save_ir(model, xml_path: str | Path, spec=None) -> list[Path]:
    """Save ``model`` (FP32 weights kept FP32), with ``spec`` mirrored in rt_info when given."""
    from edge.backends.openvino import import_openvino
    from edge.bundle import mirror_into_openvino

    ov = import_openvino()
    xml_path = Path(xml_path)
    xml_path.parent.mkdir(parents=True, exist_ok=True)
    if spec is not None:
        mirror_into_openvino(model, spec)
    ov.save_model(model, str(xml_path), compress_to_fp16=False)
    return [xml_path, xml_path.with_suffix(".bin")]


def restamp_ir(xml_path: str | Path, spec) -> None:
    """Mirror ``spec`` into an IR already on disk: read, stamp, save beside, swap both files in."""
    import os

    from edge.backends.openvino import import_openvino

    ov = import_openvino()
    xml_path = Path(xml_path)
    staged = xml_path.with_name(f".{xml_path.stem}.stamped.xml")
    model = ov.Core().read_model(str(xml_path))
    save_ir(model, staged, spec)
    del model  # the weights file may be memory-mapped; release it before replacing it
    os.replace(staged.with_suffix(".bin"), xml_path.with_suffix(".bin"))
    os.replace(staged, xml_path)
