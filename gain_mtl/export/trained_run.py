"""The trained run an export starts from: its model, config, metadata and split, checked.

Its own module because ``exporter`` (the steps) and ``build`` (the bundle's contents) both need
it: neither imports the other for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any


class ExportError(ValueError):
    """An export that cannot run as asked; the message names the value and the fix."""


@dataclass
class RunData:
    """What the export needs from the checkpoint's run."""

    model: Any
    config: Any
    meta: dict[str, Any]
    manifest: Any
    run_dir: Path


def load_run(checkpoint: str | Path, data_root: str | Path) -> RunData:
    """The model, its config and metadata, and the run's split (``RUN/split.json``)."""
    from gain_mtl.data.layout import DataError
    from gain_mtl.data.split import read_manifest
    from gain_mtl.schedule import check_strategy
    from gain_mtl.train.checkpoint import CheckpointError, load_model

    checkpoint = Path(checkpoint)
    if not checkpoint.is_file():
        raise ExportError(f"checkpoint {checkpoint} not found; pass RUN/checkpoints/best.pt of a 'gainctl train' run")
    try:
        model, config, meta = load_model(checkpoint)
    except CheckpointError as exc:
        raise ExportError(f"incompatible checkpoint: {exc}") from None
    missing = [k for k in ("strategy", "split_digest") if k not in meta]
    if missing:
        raise ExportError(f"incompatible checkpoint {checkpoint}: its metadata lacks {missing}; re-train with 'gainctl train'")
    check_strategy(meta["strategy"])
    run_dir = checkpoint.resolve().parent.parent
    split_path = run_dir / "split.json"
    if not Path(data_root).is_dir():
        raise ExportError(f"data folder {data_root} not found; pass the folder the run was trained on")
    try:
        manifest = read_manifest(split_path, data_root)
    except DataError as exc:
        raise ExportError(f"the run's split cannot be used: {exc}") from None
    labels = {s.label for s in manifest.val}
    absent = [name for label, name in ((0, "normal"), (1, "defective")) if label not in labels]
    if absent:
        raise ExportError(
            f"{split_path}: the validation split has no {' and no '.join(absent)} images; thresholds and INT8 "
            "calibration need both classes: add such images and re-train with a larger data.val_ratio"
        )
    if not manifest.matches(meta["split_digest"]):
        raise ExportError(f"{split_path} is not the split {checkpoint} was trained on (digest differs); use that run's folder")
    return RunData(model, config, meta, manifest, run_dir)
