"""The model bundle: a folder with ``bundle.json`` and the artifacts it lists, and its schema.

The bundle is the only thing that travels from training to the camera, so it carries everything
the edge needs to decide without asking anyone: the input it expects, the threshold chosen for
each model file (thresholds frozen or lost at export are a classic failure; each INT8 route
rounds differently, so each has its own) with the recall validation expects of it on new parts,
the localization map's threshold for the defect regions, the metrics that justify them and the
sha256 of every file (a half-copied or edited model is refused, not run).

Plain dataclasses and JSON, no pickles. The schema is versioned: a reader refuses a version it
does not know instead of guessing. The same JSON (minus the artifact list, since a file cannot
hold its own hash) is mirrored into ONNX ``metadata_props`` and OpenVINO ``rt_info`` under
``METADATA_KEY`` so that a lone model file still knows its threshold.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath
from typing import Any

from edge.atomic import atomic_write_json

# 3: threshold_recall (the expected recall interval of each threshold) and localization_threshold.
# 4: localization_threshold may be null: the strategy never trained the localization head (S1-S3),
#    so its map marks nothing and events carry no regions. Version 3 is read as 4 without nulls.
# 5: robustness, each shipped model's decisions under camera perturbations (edge/bench/robustness.py).
#    Versions 3 and 4 are read with an empty table.
SCHEMA_VERSION = 5
READABLE_VERSIONS = (3, 4, 5)
BUNDLE_FILE = "bundle.json"
METADATA_KEY = "gain_mtl_bundle"
FORMATS = ("onnx", "openvino", "tensorrt-engine")
PRECISIONS = ("fp32", "fp16", "int8")
ROLES = ("model", "weights")
OUTPUT_NAMES = ("defect_prob", "attention_map", "localization_map")
INPUT_NAME = "image"


class BundleError(ValueError):
    """A bundle that cannot be used as it is: the message names the file and the fix."""


@dataclass
class InputSpec:
    """What the graph takes: a resized camera frame, as the camera gives it.

    ``normalisation_folded`` says the graph normalises inside (mean/std on [0, 1] pixels in RGB
    order, kept here for the record), so the edge does no float work.
    """

    height: int
    width: int
    name: str = INPUT_NAME
    layout: str = "NHWC"
    dtype: str = "uint8"
    channel_order: str = "BGR"
    normalisation_folded: bool = True
    mean: tuple[float, ...] = (0.485, 0.456, 0.406)
    std: tuple[float, ...] = (0.229, 0.224, 0.225)

    def shape(self, batch: int = 1) -> tuple[int, int, int, int]:
        return (batch, self.height, self.width, 3)


@dataclass
class ArtifactSpec:
    """One file of the bundle. An OpenVINO model is two entries: ``model`` (xml) and ``weights`` (bin)."""

    path: str
    format: str
    precision: str
    sha256: str
    bytes: int
    role: str = "model"


@dataclass
class BundleSpec:
    """The content of ``bundle.json``."""

    input: InputSpec
    # precision -> artifact format -> the threshold chosen on that model's own validation scores
    thresholds: dict[str, dict[str, float]]
    artifacts: list[ArtifactSpec] = field(default_factory=list)
    outputs: list[str] = field(default_factory=lambda: list(OUTPUT_NAMES))
    class_names: list[str] = field(default_factory=lambda: ["normal", "defective"])
    target_recall: float | None = None
    # precision -> artifact format -> what validation says of that threshold's recall on new parts:
    # expected_recall (mean) and expected_recall_interval [low, high] at recall_interval_level,
    # recall_confidence asked and recall_confidence_achieved, threshold_rank of n_val_defects (of
    # n_val_defect_parts where validation names parts),
    # threshold_supported and threshold_warning (too few validation defects for the target).
    threshold_recall: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    # Probability at or above which a localization-map pixel is defect (the defect regions of an
    # event); chosen on validation at training. 0.5 only for a spec built in code without one;
    # None where the strategy did not train the localization head: no regions are reported.
    localization_threshold: float | None = 0.5
    strategy: str = ""
    backbone: str = ""
    config_digest: str = ""
    data_manifest_digest: str = ""
    # precision -> {"val": {metric: value}, "test": {metric: value}}
    metrics: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    calibration: dict[str, Any] = field(default_factory=dict)
    # precision -> artifact format -> that model's decisions on the test split under each camera
    # perturbation against its clean decisions, and the guard it passed (Robustness.to_dict()).
    robustness: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)
    created: str = field(default_factory=lambda: utc_now())
    schema_version: int = SCHEMA_VERSION

    @property
    def localizes(self) -> bool:
        """Whether the model's localization map means anything (its strategy trained the head)."""
        return self.localization_threshold is not None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2) + "\n"

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "<bundle.json>") -> BundleSpec:
        if not isinstance(data, dict):
            raise BundleError(f"{source}: expected a JSON object, got {type(data).__name__}")
        version = data.get("schema_version")
        if version not in READABLE_VERSIONS:
            raise BundleError(
                f"{source}: bundle schema version {version!r} is not supported (this runtime reads "
                f"versions {', '.join(map(str, READABLE_VERSIONS))}); re-export the bundle with a matching gain-mtl version"
            )
        try:
            body = dict(data)
            body["input"] = InputSpec(**_with_tuples(body["input"], ("mean", "std")))
            body["artifacts"] = [ArtifactSpec(**a) for a in body.get("artifacts", [])]
            body["thresholds"] = {
                str(precision): {str(fmt): float(v) for fmt, v in by_format.items()}
                for precision, by_format in body["thresholds"].items()
            }
            loc = body["localization_threshold"]
            body["localization_threshold"] = None if loc is None and version >= 4 else float(loc)
            spec = cls(**body)
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            raise BundleError(f"{source}: malformed bundle description ({exc}); re-export the bundle") from exc
        spec.validate(source)
        return spec

    @classmethod
    def from_json(cls, text: str, source: str = "<bundle.json>") -> BundleSpec:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise BundleError(f"{source}: not valid JSON ({exc}); re-export the bundle") from exc
        return cls.from_dict(data, source)

    def validate(self, source: str = "<bundle.json>") -> None:
        """Check values the runtime relies on; raises BundleError naming ``source``."""
        problems: list[str] = []
        i = self.input
        if i.layout != "NHWC" or i.dtype != "uint8" or i.channel_order not in ("BGR", "RGB"):
            problems.append(f"input must be uint8 NHWC BGR/RGB, got {i.dtype} {i.layout} {i.channel_order}")
        if i.height <= 0 or i.width <= 0:
            problems.append(f"input size must be positive, got {i.height}x{i.width}")
        missing = [n for n in OUTPUT_NAMES if n not in self.outputs]
        if missing:
            problems.append(f"outputs lack {missing}")
        for precision, by_format in self.thresholds.items():
            if precision not in PRECISIONS:
                problems.append(f"threshold for unknown precision {precision!r} (known: {PRECISIONS})")
            for fmt, thr in by_format.items():
                if fmt not in FORMATS:
                    problems.append(f"threshold for unknown format {fmt!r} (known: {FORMATS})")
                if not 0.0 <= thr <= 1.0:
                    problems.append(f"threshold[{precision}][{fmt}] = {thr} is not in [0, 1]")
        for precision, by_format in self.threshold_recall.items():
            for fmt, recall in by_format.items():
                if fmt not in self.thresholds.get(precision, {}):
                    problems.append(f"threshold_recall[{precision}][{fmt}] describes no threshold")
                interval = recall.get("expected_recall_interval")
                if interval is not None and not 0.0 <= interval[0] <= interval[1] <= 1.0:
                    problems.append(f"threshold_recall[{precision}][{fmt}] interval {interval} is not within [0, 1]")
        if self.localization_threshold is not None and not 0.0 < self.localization_threshold <= 1.0:
            problems.append(f"localization_threshold = {self.localization_threshold} is not in (0, 1]")
        for a in self.artifacts:
            if a.format not in FORMATS:
                problems.append(f"artifact {a.path}: unknown format {a.format!r} (known: {FORMATS})")
            if a.precision not in PRECISIONS:
                problems.append(f"artifact {a.path}: unknown precision {a.precision!r} (known: {PRECISIONS})")
            if a.role not in ROLES:
                problems.append(f"artifact {a.path}: unknown role {a.role!r} (known: {ROLES})")
            p = PurePosixPath(a.path)
            if p.is_absolute() or ".." in p.parts:
                problems.append(f"artifact path {a.path!r} must be relative to the bundle folder")
        if problems:
            raise BundleError(f"{source}: " + "; ".join(problems) + "; re-export the bundle")

    def metadata_props(self) -> str:
        """The JSON mirrored into ONNX metadata_props / OpenVINO rt_info under METADATA_KEY.

        Artifacts are left out: a model file cannot carry its own sha256.
        """
        data = self.to_dict()
        data["artifacts"] = []
        return json.dumps(data, sort_keys=True)


def _with_tuples(data: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    out = dict(data)
    for k in keys:
        if k in out:
            out[k] = tuple(float(v) for v in out[k])
    return out


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def library_versions(names: tuple[str, ...] = ("gain-mtl", "numpy", "onnx", "onnxruntime", "openvino", "nncf", "torch", "tensorrt")) -> dict[str, str]:
    """Installed versions of the given distributions (absent ones are left out).

    Read from package metadata, so nothing heavy is imported just to record a version.
    """
    from importlib.metadata import PackageNotFoundError, version

    found: dict[str, str] = {}
    for name in names:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            continue
    return found


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def describe_artifact(folder: str | os.PathLike, relpath: str, format: str, precision: str, role: str = "model") -> ArtifactSpec:
    """An ArtifactSpec for a file already written in ``folder`` (hash and size measured)."""
    path = Path(folder) / relpath
    return ArtifactSpec(
        path=PurePosixPath(relpath).as_posix(), format=format, precision=precision,
        sha256=sha256_file(path), bytes=path.stat().st_size, role=role,
    )


def write_bundle_json(folder: str | os.PathLike, spec: BundleSpec) -> Path:
    """Validate ``spec`` and write ``folder/bundle.json`` atomically."""
    spec.validate(str(Path(folder) / BUNDLE_FILE))
    return atomic_write_json(Path(folder) / BUNDLE_FILE, spec.to_dict())


@dataclass
class Bundle:
    """A loaded bundle: its description and the folder its artifact paths are relative to."""

    spec: BundleSpec
    folder: Path

    def artifact(self, format: str, precision: str) -> Path:
        """Path of the model file for (format, precision); BundleError listing what exists."""
        for a in self.spec.artifacts:
            if a.format == format and a.precision == precision and a.role == "model":
                return self.folder / a.path
        raise BundleError(
            f"{self.folder / BUNDLE_FILE}: no {format} artifact in {precision}; "
            f"available: {', '.join(self.available()) or 'none'}"
        )

    def has(self, format: str, precision: str) -> bool:
        return any(a.format == format and a.precision == precision and a.role == "model" for a in self.spec.artifacts)

    def available(self) -> list[str]:
        """``format/precision`` for every model artifact, e.g. ``openvino/int8``."""
        return [f"{a.format}/{a.precision}" for a in self.spec.artifacts if a.role == "model"]

    def precisions(self) -> list[str]:
        """Precisions with at least one model artifact, in PRECISIONS order."""
        have = {a.precision for a in self.spec.artifacts if a.role == "model"}
        return [p for p in PRECISIONS if p in have]

    def threshold(self, precision: str, format: str) -> float:
        """The decision threshold chosen for the ``format`` model file in ``precision``.

        ``precision`` is that of the artifact, not of the run: a backend that derives a precision
        from another artifact (TensorRT FP16 from the FP32 ONNX) says so in its ``BackendInfo``,
        and ``edge.backends.select`` resolves it before asking here.
        """
        thresholds = self.spec.thresholds
        if format in thresholds.get(precision, {}):
            return thresholds[precision][format]
        have = [f"{fmt}/{p}" for p, by_format in thresholds.items() for fmt in by_format]
        raise BundleError(
            f"{self.folder / BUNDLE_FILE}: no threshold for {format}/{precision}; "
            f"thresholds exist for {', '.join(have) or 'nothing'}; re-export the bundle"
        )

    def verify(self) -> None:
        """Check every artifact's size and sha256 against bundle.json."""
        for a in self.spec.artifacts:
            path = self.folder / a.path
            if not path.is_file():
                raise BundleError(f"{path}: artifact listed in {BUNDLE_FILE} is missing; re-export the bundle")
            size = path.stat().st_size
            if size != a.bytes or sha256_file(path) != a.sha256:
                raise BundleError(
                    f"{path}: artifact does not match the sha256 recorded in {BUNDLE_FILE} "
                    f"(tampered or partly copied); re-export the bundle"
                )


def load_bundle(folder: str | os.PathLike, verify: bool = True) -> Bundle:
    """Read ``folder/bundle.json``; with ``verify`` check every artifact's hash too."""
    folder = Path(folder)
    if not folder.is_dir():
        raise BundleError(f"{folder}: bundle folder not found; pass the folder written by 'gainctl export'")
    path = folder / BUNDLE_FILE
    if not path.is_file():
        raise BundleError(f"{path}: missing; {folder} is not a model bundle (re-export the bundle)")
    bundle = Bundle(BundleSpec.from_json(path.read_text(encoding="utf-8"), str(path)), folder)
    if verify:
        bundle.verify()
    return bundle


def mirror_into_onnx(model: Any, spec: BundleSpec) -> None:
    """Set METADATA_KEY in an ``onnx.ModelProto``'s metadata_props (other entries are kept)."""
    for prop in model.metadata_props:
        if prop.key == METADATA_KEY:
            prop.value = spec.metadata_props()
            return
    entry = model.metadata_props.add()
    entry.key, entry.value = METADATA_KEY, spec.metadata_props()


def mirror_into_openvino(model: Any, spec: BundleSpec) -> None:
    """Set METADATA_KEY in an ``openvino.Model``'s rt_info (saved with the IR)."""
    model.set_rt_info(spec.metadata_props(), [METADATA_KEY])
