"""``export_bundle``: a trained checkpoint -> a model bundle folder, written all at once or not at all.

Steps: load the checkpoint and its run's split -> prune the graph (preprocessing folded in) ->
ONNX -> OpenVINO IR -> with ``int8``: calibrate on held-out validation images (NNCF on the IR,
ONNX Runtime Q/DQ on the ONNX) -> run every artifact through the edge's own runners on the
validation and test splits -> choose each precision's threshold on validation for the target
recall -> gate INT8 against FP32 on test -> measure every shipped model under camera perturbations
and guard its decisions -> mirror the description into every model file ->
bundle.json, report.md -> the library log (export.log) and the signature (bundle.sig), when
given. Everything happens in a temporary folder that is renamed into place only when all of it
succeeded, so a failed guard or signature leaves no bundle behind, and a bundle that appears is
signed and logged from the start.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from gain_mtl.export.build import CALIB_MANIFEST, REPORT_FILE, BundleBuilder
from gain_mtl.export.trained_run import ExportError, load_run

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Target:
    """One export target: the modules it needs, the extra that installs them, its INT8 route."""

    name: str
    requires: tuple[str, ...]
    extra: str
    int8_requires: tuple[str, ...] = ()
    int8_extra: str = "train"  # calibration libraries are export work, not the camera's runtime


# The one table of targets; the CLI, the checks and the report read it.
TARGETS: dict[str, Target] = {
    "onnx": Target("onnx", ("onnx", "onnxruntime"), "train"),
    "openvino": Target("openvino", ("openvino",), "openvino", ("nncf",)),
    "tensorrt": Target("tensorrt", ("tensorrt", "pycuda"), "tensorrt"),
}


def check_targets(targets: tuple[str, ...] | list[str], int8: bool) -> tuple[str, ...]:
    """Known, installed targets in table order; an error names the unknown one or the extra."""
    from calibration.errors import MissingLibraryError

    unknown = [t for t in targets if t not in TARGETS]
    if unknown or not targets:
        raise ExportError(f"unknown target(s) {unknown or '(none)'}; choose from: {', '.join(TARGETS)}")
    for name in targets:
        target = TARGETS[name]
        needs = [(m, target.extra) for m in target.requires] + [(m, target.int8_extra) for m in target.int8_requires if int8]
        for module, extra in needs:
            if importlib.util.find_spec(module) is None:
                raise MissingLibraryError(
                    f"target {name!r} needs {module}, which is not installed: pip install 'gain-mtl[{extra}]'"
                )
    return tuple(t for t in TARGETS if t in targets)


EXPORT_LOG = "export.log"  # the libraries' messages during the export (gain_mtl.cli.library_log)
BUNDLE_WHAT = "a bundle written by gainctl export (a bundle.json with its schema_version, and only the files an export writes)"
# Folders an export writes. Files in them must be listed artifacts or the calibration manifest,
# except in engines/: the TensorRT runtime also caches there the engines it builds on first use.
BUNDLE_FOLDERS = ("calibration", "openvino", "engines")
ENGINE_CACHE = "engines"


def _listed_artifacts(manifest: Path) -> set[str]:
    """The artifact paths ``manifest`` lists; none from a manifest that cannot be read as one."""
    try:
        return {str(PurePosixPath(a["path"])) for a in json.loads(manifest.read_text(encoding="utf-8"))["artifacts"]}
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError):
        return set()


def unknown_entries(folder: Path) -> list[str]:
    """What ``folder`` holds besides the files an export writes, as sorted paths relative to it (folders end in /).

    Such entries are the user's (notes, a ``.git``): ``export --force`` refuses to take them along with the bundle.
    """
    from edge.bundle import BUNDLE_FILE
    from edge.signing import SIGNATURE_FILE

    known = {BUNDLE_FILE, SIGNATURE_FILE, REPORT_FILE, EXPORT_LOG, CALIB_MANIFEST} | _listed_artifacts(folder / BUNDLE_FILE)
    unknown: list[str] = []
    for dirpath, dirnames, filenames in os.walk(folder):  # symbolic links to folders are listed, not followed
        here = PurePosixPath(Path(dirpath).relative_to(folder).as_posix())
        unknown += [f"{here / d}/" for d in dirnames if str(here / d) not in BUNDLE_FOLDERS]
        dirnames[:] = [d for d in dirnames if str(here / d) in BUNDLE_FOLDERS]
        unknown += [str(here / f) for f in filenames if str(here / f) not in known and str(here) != ENGINE_CACHE]
    return sorted(unknown)


def holds_bundle(folder: Path) -> bool:
    """Whether ``folder`` holds a bundle of this kit and nothing else: what ``export --force`` may replace."""
    from edge.atomic import holds_json
    from edge.bundle import BUNDLE_FILE

    return holds_json(folder / BUNDLE_FILE, "schema_version") and not unknown_entries(folder)


def export_bundle(
    checkpoint: str | Path,
    data_root: str | Path,
    out: str | Path,
    int8: bool = False,
    targets: tuple[str, ...] | list[str] = ("onnx", "openvino"),
    calib_size: int | None = None,
    accuracy_guard: float | None = None,
    target_recall: float | None = None,
    force: bool = False,
    calib_method: str | None = None,
    keep_heads_float: bool = True,
    robustness_guard: float | None = None,
    robustness_guarded: tuple[str, ...] | list[str] | None = None,
    sign_key: Any = None,
    library_log: Path | None = None,
) -> Path:
    """Export ``checkpoint`` to the bundle folder ``out``; see the module docstring. Returns ``out``.

    ``sign_key``: an Ed25519 private key (``edge.signing.load_private_key``) that signs bundle.json
    into bundle.sig; ``library_log``: a log file copied into the bundle as export.log. Both land in
    the temporary folder, so the bundle is never seen unsigned or without its log.
    """
    from edge.atomic import atomic_directory, check_replaceable, holds_json
    from edge.bench.robustness import DEFAULT_MIN_AGREEMENT, GUARDED, check_names
    from edge.bundle import BUNDLE_FILE
    from edge.signing import sign_bundle

    targets = check_targets(tuple(targets), int8)
    out = Path(out)
    try:
        check_replaceable(out, force, holds_bundle, BUNDLE_WHAT)  # before any work: a refusal leaves nothing
    except FileExistsError as exc:
        added = unknown_entries(out) if force and out.is_dir() and holds_json(out / BUNDLE_FILE, "schema_version") else []
        note = f"; besides a bundle it holds what no export writes: {', '.join(added)} (move them out to replace it)"
        raise ExportError(f"{exc}{note if added else ''}") from None
    if target_recall is not None and not 0.0 < target_recall <= 1.0:
        raise ExportError(f"--target-recall must be in (0, 1], got {target_recall}")
    if accuracy_guard is not None and not 0.0 <= accuracy_guard < 1.0:
        raise ExportError(f"--accuracy-guard must be in [0, 1), got {accuracy_guard}")
    robustness_guard = DEFAULT_MIN_AGREEMENT if robustness_guard is None else robustness_guard
    if not 0.0 <= robustness_guard <= 1.0:
        raise ExportError(f"--robustness-guard must be in [0, 1] (0 turns it off), got {robustness_guard}")
    try:
        robustness_guarded = check_names(GUARDED if robustness_guarded is None else robustness_guarded)
    except ValueError as exc:
        raise ExportError(f"--robustness-on: {exc}") from None
    run = load_run(checkpoint, data_root)
    options = {
        "int8": int8, "targets": targets,
        "calib_size": calib_size or run.config.export.calib_size,
        "accuracy_guard": accuracy_guard,
        "target_recall": target_recall or run.meta.get("target_recall") or run.config.train.target_recall,
        "recall_confidence": run.meta.get("recall_confidence") or run.config.train.recall_confidence,
        "calib_method": calib_method or run.config.export.calib_method,
        "keep_heads_float": keep_heads_float,
        "robustness_guard": robustness_guard, "robustness_guarded": robustness_guarded,
    }
    with atomic_directory(out, force=force, recognise=holds_bundle, what=BUNDLE_WHAT) as folder:
        BundleBuilder(run, Path(data_root), folder, options).build()
        if library_log is not None:
            shutil.copyfile(library_log, folder / EXPORT_LOG)  # a new file, so it follows the umask (mkstemp's is 0600)
        if sign_key is not None:
            sign_bundle(folder, sign_key)
    log.info("bundle written to %s", out)
    return out
