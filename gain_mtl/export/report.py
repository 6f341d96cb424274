"""``report.md`` of a bundle: what was exported, how each precision measures, what INT8 calibrated on."""

from __future__ import annotations

from typing import Any

from edge.bench.robustness import ROBUSTNESS_HEADER, robustness_rows
from gain_mtl.evaluate.threshold import ranked_defects
from gain_mtl.markdown import table

METRIC_COLUMNS = ("threshold", "recall", "precision", "f1", "accuracy", "auroc", "localization_iou")


def _threshold_lines(spec) -> list[str]:
    """Each model file's decision threshold with the recall validation expects of it on new parts."""
    rows, warnings = [], {}
    for precision, by_format in spec.thresholds.items():
        for fmt, threshold in by_format.items():
            r = spec.threshold_recall.get(precision, {}).get(fmt, {})
            interval = r.get("expected_recall_interval")
            rank, (n, unit) = r.get("threshold_rank"), ranked_defects(r)
            rows.append([f"{precision} ({fmt})", threshold, r.get("threshold_precision"), r.get("expected_recall"),
                         "n/a" if interval is None else f"{interval[0]:.4f}-{interval[1]:.4f}",
                         r.get("recall_confidence_achieved"), "n/a" if rank is None else f"{n - rank + 1} of {n} {unit}",
                         r.get("threshold_supported")])
            if r.get("threshold_warning"):  # one line per text: the files share one validation split
                warnings.setdefault(r["threshold_warning"], []).append(f"{precision} ({fmt})")
    # One rule for every file of an export: any entry says which confidence and interval level.
    rule = next((r for by_format in spec.threshold_recall.values() for r in by_format.values()), {})
    lines = ["## Decision thresholds", "",
             f"Each chosen on its model's validation scores so that the recall on new parts is at least "
             f"{spec.target_recall} with confidence {rule.get('recall_confidence')}; the expected recall is the mean "
             f"and the central {rule.get('recall_interval_level')} interval of its distribution (Beta, from the "
             "validation defect ranks; where validation names parts, defective parts are ranked by their "
             "lowest-scoring image and the recall is the share of new parts with every image caught).", ""]
    lines += table(["model", "threshold", "val precision", "expected recall", "interval",
                    f"P(recall >= {spec.target_recall})", "val defects caught", "supported"], rows)
    if warnings:
        lines += ["", "**Too few validation defects for the target:**",
                  *(f"- {', '.join(models)}: {text}" for text, models in warnings.items())]
    return lines + [""]


def render_report(spec, details: dict[str, Any], calib_manifest: dict[str, Any] | None) -> str:
    """Markdown from the bundle description and the export's own measurements."""
    lines = [
        f"# Model bundle: {spec.backbone}, strategy {spec.strategy}",
        "",
        f"Created {spec.created}. Input: {spec.input.dtype} {spec.input.layout} {spec.input.channel_order} "
        f"{spec.input.height}x{spec.input.width}, normalisation folded into the graph. "
        f"Outputs: {', '.join(spec.outputs)}. Target recall: {spec.target_recall}. Localization threshold "
        f"(defect regions): " + (f"{spec.localization_threshold}, chosen on validation at training."
                                  if spec.localization_threshold is not None else
                                  f"none, strategy {spec.strategy} does not train the localization head, "
                                  "so events carry no regions."),
        "",
        *_threshold_lines(spec),
        "## Artifacts",
        "",
        *table(["file", "format", "precision", "bytes", "sha256"],
                [[a.path, a.format, a.precision, a.bytes, a.sha256[:16] + "..."] for a in spec.artifacts]),
        "",
        "## Metrics per precision",
        "",
        *table(["precision (model)", "split", *METRIC_COLUMNS],
                [[f"{p} ({splits.get('artifact', '?')})", split, *(m.get(c) for c in METRIC_COLUMNS)]
                 for p, splits in spec.metrics.items() for split, m in splits.items() if isinstance(m, dict)]),
        "",
        "## Pruned graph",
        "",
    ]
    cost = details["cost"]
    lines += table(["", "parameters", "GFLOPs"], [
        ["full model (training forward)", cost["params_full"], cost["gflops_full"]],
        ["inference graph", cost["params_pruned"], cost["gflops_pruned"]],
    ])
    lines += ["", f"At {cost['image_size']}x{cost['image_size']}, one image. ONNX: {details['onnx']}.", "",
              "## FP32 parity with the PyTorch graph (max abs difference on test)", ""]
    lines += table(["format", "defect_prob", "attention_map", "localization_map"],
                    [[name, d["defect_prob"], d["attention_map"], d["localization_map"]] for name, d in details["parity"].items()])
    if calib_manifest is not None:
        gates = spec.calibration["gates"]
        lines += ["", "## INT8", "",
                  f"Calibrated on {calib_manifest['size']} validation images ({calib_manifest['defective']} defective, "
                  f"{calib_manifest['normal']} normal; seed {calib_manifest['seed']}; method {calib_manifest['method']}; "
                  f"heads kept in float: {calib_manifest['keep_heads_float']}). List: `{spec.calibration['manifest']}`. "
                  "Each model's threshold is chosen on its own validation scores for the target recall; "
                  "agreement compares the decisions each precision makes at its own threshold.", ""]
        lines += table(["format", "threshold fp32", "threshold int8", "agreement", "recall fp32", "recall int8", "f1 fp32",
                        "f1 int8", "max score diff", "passed"],
                       [[name, spec.thresholds["fp32"][name], spec.thresholds["int8"][name], g["agreement"],
                         g["fp32"]["recall"], g["int8"]["recall"], g["fp32"]["f1"], g["int8"]["f1"], g["max_score_diff"],
                         g["passed"]] for name, g in gates.items()])
        lines += ["", f"Guard: INT8 may lose at most {spec.calibration['accuracy_guard']} of recall or decision agreement."]
        control = details.get("onnx_accuracy_control")
        if control is not None:
            kept = ", ".join(f"`{g}`" for g in control["kept_float"]) or "none"
            lines += ["", f"ONNX Q/DQ accuracy control (validation guard metric): FP32 {control['initial_metric']:.4f}, "
                          f"all-INT8 {control['quantized_metric']:.4f}, final {control['final_metric']:.4f} after "
                          f"{control['trials']} trial quantizations; layer groups kept in float: {kept}."]
    return "\n".join(lines + robustness_lines(spec.robustness)) + "\n"


def robustness_lines(robustness: dict[str, dict[str, dict[str, Any]]]) -> list[str]:
    """The robustness table: each model's decisions under each camera perturbation against clean frames."""
    if not robustness:
        return []
    first = next(r for by_format in robustness.values() for r in by_format.values())
    guarded = ", ".join(first["guarded"]) or "none"
    lines = ["", "## Robustness to the camera (test split)", "",
             "Each model's decisions on the test frames after a perturbation a line camera makes (applied to the "
             "frame as the model receives it), against its own decisions on the clean frames, at its own threshold. "
             f"Guard: agreement at least {first['min_agreement']} under {guarded}.", ""]
    models = {f"{precision} ({fmt})": r for precision, by_format in robustness.items() for fmt, r in by_format.items()}
    return lines + table(ROBUSTNESS_HEADER, robustness_rows(models))
