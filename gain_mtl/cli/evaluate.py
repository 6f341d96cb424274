"""``gainctl eval``: a thin click layer over :func:`gain_mtl.evaluation.evaluate_checkpoint`."""

from __future__ import annotations

from pathlib import Path

import click

from gain_mtl.cli.errors import input_errors


@click.command(name="eval")
@click.option("--checkpoint", required=True, type=click.Path(path_type=Path), help="checkpoints/best.pt of a run")
@click.option("--data", "data", required=True, type=click.Path(path_type=Path), help="dataset root")
@click.option("--split", type=click.Choice(["test", "val"]), default="test", show_default=True)
@click.option("--out", "out", required=True, type=click.Path(path_type=Path), help="folder for metrics.json, report.md, overlays.png")
@click.option("--samples", type=click.IntRange(min=1), default=4, show_default=True, help="overlay rows per class")
@click.option("--device", default="cpu", show_default=True, help="auto, cpu or cuda")
def eval_cmd(checkpoint: Path, data: Path, split: str, out: Path, samples: int, device: str) -> None:
    """Evaluate a checkpoint: classification, CAM, attention and localization metrics."""
    from gain_mtl.evaluation import evaluate_checkpoint

    with input_errors():
        m = evaluate_checkpoint(checkpoint, data, split, out, overlay_samples=samples, device=device)
    click.echo(
        f"{split}: recall {m['recall']:.4f} precision {m['precision']:.4f} at threshold {m['threshold']:.4f}; "
        f"cam_iou {m['cam_iou'] if m['cam_iou'] is None else round(m['cam_iou'], 4)}, "
        f"loc_iou {m['loc_iou'] if m['loc_iou'] is None else round(m['loc_iou'], 4)} -> {out}/metrics.json"
    )
