"""report.md of an evaluation: the tables of metrics.json, for people."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gain_mtl.evaluate.threshold import ranked_defects
from gain_mtl.markdown import fmt, table


def _table(header: tuple[str, ...], rows: list[tuple[Any, ...]]) -> list[str]:
    return table(header, rows) + [""]


def _recall_lines(m: dict[str, Any]) -> list[str]:
    """What validation expects of the decision threshold's recall on new parts, and this split's check."""
    lines = [
        f"Decision threshold {m['threshold']:.4f}, chosen on the validation split so that the recall on new "
        f"parts is at least {m['target_recall']} with confidence {m.get('recall_confidence')} "
        f"(validation precision there: {fmt(m['threshold_val_precision'])}).",
        "",
    ]
    if m.get("threshold_warning"):
        lines += [f"**Warning:** {m['threshold_warning']}.", ""]
    if m.get("threshold_rank") is None:
        return lines + ["No expected recall: the checkpoint carries no validation defect ranks (re-train it).", ""]
    (n, unit), rank, level = ranked_defects(m), m["threshold_rank"], m["recall_interval_level"]
    low, high = m["expected_recall_interval"]
    caught = (f"It catches {n - rank + 1} of the {n} validation defects" if unit == "images" else
              f"It catches every defect image of {n - rank + 1} of the {n} defective validation parts "
              f"({m['n_val_defects']} images; a part's images are not independent, so parts are counted)")
    new_parts = "the recall on new parts" if unit == "images" else \
        "the share of new defective parts with every image caught (a lower bound on the recall per new part)"
    lines += [
        f"{caught}, so {new_parts} is expected to be "
        f"{m['expected_recall']:.4f}, {level:.0%} interval {low:.4f}-{high:.4f}; the chance that it reaches "
        f"{m['target_recall']} is {m['recall_confidence_achieved']:.4f}.",
        "",
    ]
    if m.get("split_recall_interval") is not None:  # None also where the split holds no defect
        low, high = m["split_recall_interval"]
        verdict = "inside" if m["recall_inside_interval"] else "**outside**"
        same = " The threshold was chosen on these very images: no independent check." if m["split"] == "val" else ""
        what, measured = ("recall", f"{m['split_checked_recall']:.4f}") if unit == "images" else (
            "share of parts with every image caught",
            f"{m['split_checked_recall']:.4f} (image recall {m['recall']:.4f})")
        lines += [
            f"On this split's {m['split_checked_defects']} defective {unit} the measured {what} should lie in "
            f"{low:.4f}-{high:.4f} ({level:.0%}, the interval above widened by the split's own sampling): "
            f"measured {measured}, {verdict}.{same}",
            "",
        ]
    return lines


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
        *_recall_lines(m),
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
        f"Probabilities binarised at {m['loc_threshold']}, the threshold chosen on the validation split for the "
        "best mean IoU (no normalisation); the plain 0.5 cut for comparison.",
        "",
        *_table(("threshold", "IoU", "Dice", "pixel accuracy"), [
            (f"{m['loc_threshold']} (validation)", m["loc_iou"], m["loc_dice"], m["pixel_accuracy"]),
            ("0.5", *(m["loc_at_0.5"][k] for k in ("loc_iou", "loc_dice", "pixel_accuracy"))),
        ]),
        "![overlays](overlays.png)",
        "",
    ]
    return "\n".join(lines)


def write_report(metrics: dict[str, Any], path: str | Path) -> Path:
    from edge.atomic import atomic_write_text

    return atomic_write_text(path, render_report(metrics))
