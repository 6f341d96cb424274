"""``gainctl eval``: a checkpoint on a split -> metrics.json, report.md, overlays.png.

Beside the ``evaluate`` package, not in it: this workflow loads a checkpoint and its loaders from
``train``, while training scores its validation epochs with ``evaluate``; kept apart, the two
packages import one way (``train`` -> ``evaluate``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

SPLITS = ("test", "val")


class EvalError(ValueError):
    """An evaluation that cannot run as asked; the message names the value and the fix."""


def split_samples(data_root: Path, split: str, config, meta: dict[str, Any]):
    """The samples of ``split``: test as on disk; val re-made from the run's seed and ratio.

    Val is checked against the split digest stored in the checkpoint, so an evaluation on "val"
    is on the very images the threshold was chosen on.
    """
    from gain_mtl.data.layout import DataError, scan_dataset
    from gain_mtl.data.split import make_split

    if split not in SPLITS:
        raise EvalError(f"split {split!r} is not one of: {', '.join(SPLITS)}")
    try:
        manifest = make_split(scan_dataset(data_root), config.data.val_ratio, config.data.seed)
    except DataError as exc:
        raise EvalError(f"data folder {data_root} fails the data check: {exc}") from None
    if split == "val" and meta.get("split_digest") is not None and not manifest.matches(meta["split_digest"]):
        raise EvalError(
            f"{data_root} gives another train/val split than the checkpoint was trained on; "
            "evaluate val on the training data folder, or use --split test"
        )
    samples = getattr(manifest, split)
    if not samples:
        raise EvalError(f"the {split} split of {data_root} is empty")
    return samples


def spread(indices: list[int], count: int) -> list[int]:
    """``count`` of ``indices`` evenly spaced along the list (all of them when there are fewer).

    Files are listed by name, and names often start with the defect type or the capture batch
    (Magnetic Tile: MT_Blowhole..., MT_Break...): the first few would all be one kind of part."""
    if len(indices) <= count:
        return list(indices)
    return [indices[round(k * (len(indices) - 1) / max(1, count - 1))] for k in range(count)]


def _overlay_rows(pred, samples, image_size: int, per_class: int, threshold: float):
    from edge.decision import accepts
    from gain_mtl.data.io import read_image
    from gain_mtl.data.layout import CLASS_NAMES
    from gain_mtl.evaluate.overlays import OverlayRow

    rows = []
    for label, name in enumerate(CLASS_NAMES):
        chosen = [i for i in range(len(samples)) if pred.label[i] == label]
        if label == 1:  # annotated defects when there are any: their GT column says the most
            chosen = [i for i in chosen if pred.has_mask[i]] or chosen
        for i in spread(chosen, per_class):
            rejected = not accepts(float(pred.prob[i]), threshold)
            rows.append(OverlayRow(
                title=f"{name} p={pred.prob[i]:.2f} {'reject' if rejected else 'accept'}\n{samples[i].image.name}",
                rejected=rejected,
                image=read_image(samples[i].image, image_size),
                mask=pred.mask[i] if pred.has_mask[i] else None,
                cam=pred.cam[i], attention=pred.attention[i], localization=pred.localization[i],
            ))
    return rows


def write_predictions(pred, samples, threshold: float, path: Path) -> Path:
    """predictions.csv: one row per image (file, label, defect probability, the line's decision at
    ``threshold``), so an operating point or a single part can be looked up without the model."""
    import csv
    import io

    from edge.atomic import atomic_write_text
    from edge.decision import decision_of

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(("image", "label", "prob", "decision"))
    for sample, label, prob in zip(samples, pred.label, pred.prob):
        writer.writerow((sample.image.name, int(label), f"{float(prob):.6g}", decision_of(float(prob), threshold)))
    return atomic_write_text(path, out.getvalue())


def evaluate_checkpoint(
    checkpoint: str | Path,
    data_root: str | Path,
    split: str,
    out_dir: str | Path,
    overlay_samples: int = 4,
    device: str = "cpu",
) -> dict[str, Any]:
    """Evaluate ``checkpoint`` on ``split`` of ``data_root``; writes metrics.json, predictions.csv,
    overlays.png and report.md, returns the metrics.

    Every input is checked before the first file is written, so a refused evaluation leaves no
    metrics.json that a later step could mistake for a result.
    """
    from torch.utils.data import DataLoader

    from edge.atomic import atomic_write_json
    from gain_mtl.data.dataset import DefectDataset
    from gain_mtl.data.transforms import build_eval_transform, input_normalization
    from edge.metrics import LOC_THRESHOLD
    from gain_mtl.evaluate.overlays import write_overlays
    from gain_mtl.evaluate.predict import predict
    from gain_mtl.evaluate.report import write_report
    from gain_mtl.evaluate.scores import score
    from gain_mtl.evaluate.threshold import FALLBACK_THRESHOLD, part_recall, recall_check
    from gain_mtl.schedule import trains_localization
    from gain_mtl.train.checkpoint import load_model
    from gain_mtl.train.loaders import worker_count
    from gain_mtl.train.trainer import TrainError, resolve_device

    data_root = Path(data_root).resolve()
    if not data_root.is_dir():
        raise EvalError(f"data folder {data_root} does not exist")
    if overlay_samples < 1:
        raise EvalError(f"overlay samples must be at least 1 per class, got {overlay_samples}")
    try:
        torch_device = resolve_device(device)
    except TrainError as exc:
        raise EvalError(str(exc)) from None
    model, config, meta = load_model(checkpoint, torch_device)
    samples = split_samples(data_root, split, config, meta)
    size = config.data.image_size
    loader = DataLoader(
        DefectDataset(samples, size, transform=build_eval_transform(input_normalization(config.model))),
        batch_size=config.train.batch_size,
        num_workers=worker_count(config.data.num_workers),
    )
    pred = predict(model, loader, config.train.strategy, torch_device)
    # Both thresholds as chosen on validation (checkpoints that predate loc_threshold: 0.5).
    scores = score(pred, float(meta.get("threshold", FALLBACK_THRESHOLD)), float(meta.get("loc_threshold", LOC_THRESHOLD)))
    metrics = {
        "checkpoint": str(checkpoint),
        "data_root": str(data_root),
        "split": split,
        "strategy": config.train.strategy,
        "backbone": config.model.backbone,
        "image_size": size,
        "threshold_val_precision": meta.get("threshold_precision"),
        # What validation expects of the threshold's recall, and whether this split's recall keeps it.
        **recall_check(meta, scores["recall"], scores["n_defective"],
                       part_recall(pred.prob, pred.label, scores["threshold"], [s.part for s in samples])),
        **scores,
    }
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out / "metrics.json", metrics)
    write_predictions(pred, samples, metrics["threshold"], out / "predictions.csv")
    boxes_at = metrics["loc_threshold"] if trains_localization(config.train.strategy) else None
    rows = _overlay_rows(pred, samples, size, overlay_samples, metrics["threshold"])
    write_overlays(rows, out / "overlays.png", boxes_at)
    write_report(metrics, out / "report.md")
    return metrics

