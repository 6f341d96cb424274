"""``gainctl export``: a checkpoint -> a model bundle (ONNX, OpenVINO, INT8)."""

from __future__ import annotations

import click

from gain_mtl.cli.errors import input_errors


@click.command("export")
@click.option("--checkpoint", required=True, type=click.Path(path_type=str), help="RUN/checkpoints/best.pt of a training run.")
@click.option("--data", "data_root", required=True, type=click.Path(path_type=str), help="The data folder the run was trained on.")
@click.option("--out", required=True, type=click.Path(path_type=str), help="Bundle folder to write.")
@click.option("--int8", is_flag=True, help="Also calibrate INT8 models on held-out validation images.")
@click.option("--targets", default="onnx,openvino", show_default=True, help="Comma-separated: onnx, openvino, tensorrt.")
@click.option("--calib-size", type=int, default=None, help="Calibration images (default: export.calib_size).")
@click.option("--calib-method", default=None, help="ONNX Q/DQ calibration: minmax, entropy or percentile.")
@click.option("--accuracy-guard", type=float, default=None,
              help="Largest allowed drop in recall / decision agreement; NNCF reverts layers to float to stay within it.")
@click.option("--target-recall", type=float, default=None, help="Recall the thresholds are chosen for (default: the run's).")
@click.option("--robustness-guard", type=float, default=None,
              help="Least share of test decisions each model keeps under a guarded camera perturbation "
                   "(default 0.97; 0 measures without guarding).")
@click.option("--robustness-on", default=None,
              help="Comma-separated perturbations the guard applies to (default: jpeg-75,brightness+15%,brightness-15%; "
                   "all: jpeg-75, jpeg-50, brightness+15%, brightness-15%, gamma-0.8, gamma-1.2, blur-sigma1, shift-2%).")
@click.option("--force", is_flag=True, help="Replace an existing --out folder.")
@click.option("--sign-key", type=click.Path(path_type=str, dir_okay=False), default=None,
              help="Ed25519 private key (gainctl keygen): sign bundle.json into bundle.sig, for 'gainctl run --trust-key'.")
def export(checkpoint: str, data_root: str, out: str, int8: bool, targets: str, calib_size: int | None,
           calib_method: str | None, accuracy_guard: float | None, target_recall: float | None,
           robustness_guard: float | None, robustness_on: str | None, force: bool, sign_key: str | None) -> None:
    """Export a checkpoint to a model bundle: pruned graph, ONNX, OpenVINO IR, INT8 with --int8."""
    from edge.signing import SIGNATURE_FILE, load_private_key
    from gain_mtl.cli.library_log import libraries_logged
    from gain_mtl.export.exporter import EXPORT_LOG, export_bundle

    with input_errors(), libraries_logged() as log:
        key = load_private_key(sign_key) if sign_key else None  # a bad key fails before the slow part
        path = export_bundle(
            checkpoint, data_root, out, int8=int8, targets=tuple(t.strip() for t in targets.split(",") if t.strip()),
            calib_size=calib_size, accuracy_guard=accuracy_guard, target_recall=target_recall, force=force,
            calib_method=calib_method, robustness_guard=robustness_guard,
            robustness_guarded=None if robustness_on is None else [n.strip() for n in robustness_on.split(",") if n.strip()],
            sign_key=key, library_log=log,
        )
    click.echo(f"bundle written: {path} (see {path}/report.md{f'; library messages: {path / EXPORT_LOG}' if log else ''})")
    if key:
        click.echo(f"signed: {path / SIGNATURE_FILE}")
