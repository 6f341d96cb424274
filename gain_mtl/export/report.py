"""``report.md`` of a bundle: what was exported, how each precision measures, what INT8 calibrated on."""

from __future__ import annotations

from typing import Any

from gain_mtl.markdown import table

METRIC_COLUMNS = ("threshold", "recall", "precision", "f1", "accuracy", "auroc", "localization_iou")


def render_report(spec, details: dict[str, Any], calib_manifest: dict[str, Any] | None) -> str:
    """Markdown from the bundle description and the export's own measurements."""
    lines = [
        f"# Model bundle: {spec.backbone}, strategy {spec.strategy}",
        "",
        f"Created {spec.created}. Input: {spec.input.dtype} {spec.input.layout} {spec.input.channel_order} "
        f"{spec.input.height}x{spec.input.width}, normalisation folded into the graph. "
        f"Outputs: {', '.join(spec.outputs)}. Target recall: {spec.target_recall}.",
        "",
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
    return "\n".join(lines) + "\n"
