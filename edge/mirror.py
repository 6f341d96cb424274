"""Does ``bundle.json`` still say what the export mirrored into the model files?

Unsigned, ``bundle.json`` is a text file anyone with a shell on the camera can edit, and its
sha256 list can be rewritten along with it: a threshold raised by hand turns rejects into accepts
without a trace. The export mirrors the same description into every model file it writes (ONNX
``metadata_props``, OpenVINO ``rt_info``; see ``edge.bundle``), so each model file is a second
witness. The fields the line decides with must agree between the two; an operator who means to
decide at another threshold says so with ``--threshold``, and the events record it. The gates'
verdicts must agree too: they decide which model ``gainctl run`` takes when no precision is asked.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Callable

from edge.backends import BACKENDS
from edge.backends.openvino import import_openvino
from edge.bundle import BUNDLE_FILE, METADATA_KEY, Bundle, BundleError, BundleSpec


def _verdicts(table: Any, depth: int) -> Any:
    """The ``passed`` of each report in ``table``, reports ``depth`` levels down; anything else as it is."""
    if not isinstance(table, dict):
        return table
    if depth == 0:
        return table.get("passed")
    return {key: _verdicts(value, depth - 1) for key, value in table.items()}


def _gate_verdicts(data: dict[str, Any]) -> Any:
    """INT8 gate verdicts by artifact format (``calibration.gates``); None where the export made no INT8."""
    calibration = data["calibration"]
    return _verdicts(calibration.get("gates") if isinstance(calibration, dict) else calibration, 1)


# The fields of the description that change a decision or its regions, or which model runs by
# default (the gates' verdicts) -> how each is read from the description's dict.
DECISION_FIELDS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "thresholds": lambda data: data["thresholds"],
    "outputs": lambda data: data["outputs"],
    "input": lambda data: data["input"],
    "localization_threshold": lambda data: data["localization_threshold"],
    "calibration.gates": _gate_verdicts,
    "robustness": lambda data: _verdicts(data["robustness"], 2),  # precision -> format -> verdict
}


def spec_from_onnx(path: str | os.PathLike) -> BundleSpec:
    """The bundle description mirrored into an ONNX file's metadata_props.

    Uses onnx when installed, else onnxruntime's custom metadata map, so a camera with only
    onnxruntime can read it.
    """
    path = Path(path)
    if not path.is_file():
        raise BundleError(f"{path}: ONNX file not found")
    props: dict[str, str]
    try:
        import onnx

        model = onnx.load(str(path), load_external_data=False)
        props = {p.key: p.value for p in model.metadata_props}
    except ImportError:
        try:
            import onnxruntime as ort
        except ImportError as exc:
            raise BundleError("reading ONNX metadata needs onnx or onnxruntime: pip install 'gain-mtl[edge]'") from exc
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        props = dict(session.get_modelmeta().custom_metadata_map)
    if METADATA_KEY not in props:
        raise BundleError(f"{path}: no '{METADATA_KEY}' entry in metadata_props; it was not exported by gainctl export")
    return BundleSpec.from_json(props[METADATA_KEY], f"{path} (metadata_props)")


def spec_from_openvino(path: str | os.PathLike) -> BundleSpec:
    """The bundle description mirrored into an OpenVINO IR's rt_info."""
    ov = import_openvino()
    model = ov.Core().read_model(str(path))
    if not model.has_rt_info([METADATA_KEY]):
        raise BundleError(f"{path}: no '{METADATA_KEY}' entry in rt_info; it was not exported by gainctl export")
    return BundleSpec.from_json(model.get_rt_info([METADATA_KEY]).astype(str), f"{path} (rt_info)")


# artifact format -> how to read the description mirrored into such a file
READERS = {"onnx": spec_from_onnx, "openvino": spec_from_openvino}


class MirrorMismatch(BundleError):
    """``bundle.json`` and a model file's mirrored description disagree on a decision field."""


def check_mirror(bundle: Bundle, model_file: Path, artifact_format: str, threshold_given: bool = False) -> None:
    """Refuse ``bundle`` when its decision fields differ from those mirrored into ``model_file``.

    ``threshold_given``: the caller decides at a threshold of its own, so the bundle's thresholds
    are not used and their disagreement is no reason to refuse; the other fields still must agree.
    """
    mirrored = READERS[artifact_format](model_file)
    ours, theirs = _decision_fields(bundle.spec), _decision_fields(mirrored)
    differ = [name for name in DECISION_FIELDS if ours[name] != theirs[name]]
    blocking = [name for name in differ if not (threshold_given and name == "thresholds")]
    if not blocking:
        return
    details = "; ".join(f"{name}: {ours[name]} in {BUNDLE_FILE}, {theirs[name]} in the model file" for name in blocking)
    fix = "re-export the bundle, or restore its bundle.json"
    if blocking == ["thresholds"]:
        fix += ", or pass --threshold to decide at a threshold of your own (the events then say so)"
    raise MirrorMismatch(f"{bundle.folder / BUNDLE_FILE}: disagrees with the description the export mirrored into "
                         f"{model_file} ({details}): it was edited after the export or belongs to other model files; {fix}")


def check_mirrors(bundle: Bundle) -> None:
    """``check_mirror`` on every model file of ``bundle`` that a backend installed here can load."""
    formats = {b.artifact_format for b in BACKENDS if b.installed()}
    for artifact in bundle.spec.artifacts:
        if artifact.role == "model" and artifact.format in formats:
            check_mirror(bundle, bundle.folder / artifact.path, artifact.format)


def _decision_fields(spec: BundleSpec) -> dict[str, Any]:
    """The decision fields as canonical JSON, so tuples and lists, or key order, do not count as a difference."""
    data = spec.to_dict()
    return {name: json.dumps(read(data), sort_keys=True) for name, read in DECISION_FIELDS.items()}
