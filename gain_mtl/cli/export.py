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
@click.option("--force", is_flag=True, help="Replace an existing --out folder.")
def export(checkpoint: str, data_root: str, out: str, int8: bool, targets: str, calib_size: int | None,
           calib_method: str | None, accuracy_guard: float | None, target_recall: float | None, force: bool) -> None:
    """Export a checkpoint to a model bundle: pruned graph, ONNX, OpenVINO IR, INT8 with --int8."""
    from gain_mtl.export.exporter import export_bundle

    with input_errors():
        path = export_bundle(
            checkpoint, data_root, out, int8=int8, targets=tuple(t.strip() for t in targets.split(",") if t.strip()),
            calib_size=calib_size, accuracy_guard=accuracy_guard, target_recall=target_recall, force=force,
            calib_method=calib_method,
        )
    click.echo(f"bundle written: {path} (see {path}/report.md)")
