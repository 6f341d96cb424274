"""report.md of an evaluation: the tables of metrics.json, for people."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gain_mtl.markdown import fmt, table


def _table(header: tuple[str, ...], rows: list[tuple[Any, ...]]) -> list[str]:
    return table(header, rows) + [""]


def render_report(m: dict[str, Any]) -> str:
    at_half = m["at_0.5"]
    cls_rows = [
        (f"checkpoint threshold {m['threshold']:.4f}", m["accuracy"], m["precision"], m["recall"], m["f1"],
         *(m["confusion"][k] for k in ("tp", "fp", "tn", "fn"))),
        ("0.5", at_half["accuracy"], at_half["precision"], at_half["recall"], at_half["f1"],
         *(at_half["confusion"][k] for k in ("tp", "fp", "tn", "fn"))),
    ]
    lines = [
        f"# Evaluation: {m['checkpoint']}",
        "",
        f"Split `{m['split']}` of `{m['data_root']}`: {m['n_images']} images, {m['n_defective']} defective, "
        f"{m['n_with_mask']} with a mask. Strategy {m['strategy']}, backbone {m['backbone']}, "
        f"image size {m['image_size']}.",
        "",
        f"Decision threshold {m['threshold']:.4f}, chosen on the validation split for recall "
        f">= {m['target_recall']} (precision there: {fmt(m['threshold_val_precision'])}).",
        "",
        "## Classification",
        "",
        *_table(("threshold", "accuracy", "precision", "recall", "f1", "TP", "FP", "TN", "FN"), cls_rows),
        f"AUROC: {fmt(m['auroc'])}",
        "",
        "## Explanations (defective images with a mask)",
        "",
        f"Maps are min-max normalised per image and binarised at {m['map_threshold']} for IoU; "
        "PointGame asks whether the map's maximum falls inside the mask; Energy-Inside is the share "
        "of the normalised map's mass inside the mask.",
        "",
        *_table(("map", "IoU", "PointGame", "Energy-Inside"), [
            ("CAM", m["cam_iou"], m["point_game"], m["energy_inside"]),
            ("attention", m["attention_iou"], m["attention_point_game"], m["attention_energy_inside"]),
        ]),
        "## Localization",
        "",
        f"Probabilities binarised at {m['loc_threshold']} (no normalisation).",
        "",
        *_table(("IoU", "Dice", "pixel accuracy"), [(m["loc_iou"], m["loc_dice"], m["pixel_accuracy"])]),
        "![overlays](overlays.png)",
        "",
    ]
    return "\n".join(lines)


def write_report(metrics: dict[str, Any], path: str | Path) -> Path:
    from edge.atomic import atomic_write_text

    return atomic_write_text(path, render_report(metrics))
