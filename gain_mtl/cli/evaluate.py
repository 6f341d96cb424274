"""``gainctl eval``: a thin click layer over :func:`gain_mtl.evaluate.evaluate.evaluate_checkpoint`."""

from __future__ import annotations

from pathlib import Path

import click

from gain_mtl.cli.train import InputError


@click.command(name="eval")
@click.option("--checkpoint", required=True, type=click.Path(path_type=Path), help="checkpoints/best.pt of a run")
@click.option("--data", "data", required=True, type=click.Path(path_type=Path), help="dataset root")
@click.option("--split", type=click.Choice(["test", "val"]), default="test", show_default=True)
@click.option("--out", "out", required=True, type=click.Path(path_type=Path), help="folder for metrics.json, report.md, overlays.png")
@click.option("--samples", type=int, default=4, show_default=True, help="overlay rows per class")
@click.option("--device", default="cpu", show_default=True)
def eval_cmd(checkpoint, data, split, out, samples, device):
    """Evaluate a checkpoint: classification, CAM, attention and localization metrics."""
    from gain_mtl.evaluate.evaluate import evaluate_checkpoint

    try:
        m = evaluate_checkpoint(checkpoint, data, split, out, overlay_samples=samples, device=device)
    except ValueError as exc:
        raise InputError(str(exc)) from None
    click.echo(
        f"{split}: recall {m['recall']:.4f} precision {m['precision']:.4f} at threshold {m['threshold']:.4f}; "
        f"cam_iou {m['cam_iou'] if m['cam_iou'] is None else round(m['cam_iou'], 4)}, "
        f"loc_iou {m['loc_iou'] if m['loc_iou'] is None else round(m['loc_iou'], 4)} -> {out}/metrics.json"
    )
