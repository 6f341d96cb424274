"""Builds one bundle inside a temporary folder: the steps of ``export_bundle`` in order.

Kept apart from ``exporter.py`` (argument checks, loading the run, the target table) so that each
step here is one short method and the data flowing between steps is explicit on the instance.
"""

from __future__ import annotations

import logging
import os
import warnings
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from edge.metrics import LOC_THRESHOLD
from gain_mtl.export.measure import (
    PARITY_TOLERANCE,
    infer_batches,
    load_frames,
    load_masks,
    max_diffs,
    run_artifact,
    run_torch,
    split_metrics,
)
from gain_mtl.export.trained_run import ExportError, RunData
from gain_mtl.schedule import trains_localization

log = logging.getLogger(__name__)

ONNX_FP32 = "model.onnx"
ONNX_INT8 = "model-int8.onnx"
IR_FP32 = "openvino/model.xml"
IR_INT8 = "openvino/model-int8.xml"
CALIB_MANIFEST = "calibration/manifest.json"
REPORT_FILE = "report.md"
SPLITS = ("val", "test")


class BundleBuilder:
    """One export: ``build()`` leaves the finished bundle in ``folder``."""

    def __init__(self, run: RunData, data_root: Path, folder: Path, options: dict[str, Any]) -> None:
        from edge.bundle import InputSpec
        from gain_mtl.data.transforms import input_normalization
        from gain_mtl.export.graph import InferenceGraph

        self.run, self.data_root, self.folder, self.opt = run, data_root, folder, options
        self.size = run.config.data.image_size
        self.strategy = run.meta["strategy"]
        self.graph = InferenceGraph(run.model, self.strategy)
        mean, std = input_normalization(run.config.model)
        self.input_spec = InputSpec(height=self.size, width=self.size, mean=mean, std=std)
        self.guard = options["accuracy_guard"] if options["accuracy_guard"] is not None else run.config.export.accuracy_guard
        # Chosen on validation at training; checkpoints that predate the choice used the plain 0.5.
        # None where the strategy never trained the head (S1-S3): the line reports no regions.
        self.localization_threshold = (float(run.meta.get("loc_threshold", LOC_THRESHOLD))
                                       if trains_localization(self.strategy) else None)
        self.samples = {"val": run.manifest.val, "test": run.manifest.test}
        self.labels = {k: np.array([s.label for s in v], dtype=np.int64) for k, v in self.samples.items()}
        self.parts = {k: [s.part for s in v] for k, v in self.samples.items()}
        # (format, precision) -> {"val": outputs, "test": outputs}
        self.outputs: dict[tuple[str, str], dict[str, dict[str, np.ndarray]]] = {}
        # precision -> format -> threshold, each chosen on that model's own validation scores, and
        # what that choice says of the recall on new parts (bundle.json's threshold_recall)
        self.thresholds: dict[str, dict[str, float]] = {}
        self.threshold_recall: dict[str, dict[str, dict[str, Any]]] = {}
        self.files: dict[tuple[str, str], str] = {}
        self.runner_classes: dict[tuple[str, str], type] = {}
        # precision -> format -> each shipped model's decisions under camera perturbations
        self.robustness: dict[str, dict[str, Any]] = {}
        self.report: dict[str, Any] = {}
        # Formats whose model files the bundle keeps: the FP32 ONNX is always made (the IR is
        # converted from it) but ships only for the ONNX Runtime and TensorRT targets.
        targets = set(options["targets"])
        self.shipped = {fmt for fmt, needs in (("onnx", {"onnx", "tensorrt"}), ("openvino", {"openvino"})) if needs & targets}

    # -- steps ---------------------------------------------------------------------------------
    def build(self) -> None:
        from gain_mtl.export.graph import graph_cost
        from gain_mtl.export.onnx import export_onnx

        if not self.samples["test"]:
            raise ExportError(f"{self.data_root}: the test split is empty; export measures every precision on it")
        self.report["cost"] = graph_cost(self.run.model, self.graph, self.size).to_dict()
        self.report["onnx"] = export_onnx(self.graph, self.folder / ONNX_FP32, self.size, self.run.config.export.opset)
        self.frames = {k: load_frames(v, self.size) for k, v in self.samples.items()}
        self.torch_out = {k: run_torch(self.graph, f) for k, f in self.frames.items()}
        loc_size = self.torch_out["test"]["localization_map"].shape[-1]
        self.test_masks = load_masks(self.samples["test"], loc_size)
        self._fp32()
        self._choose_thresholds("fp32")
        if self.opt["int8"]:
            self._int8()
        self._robustness()
        spec = self._spec()
        self._stamp(spec)
        if "tensorrt" in self.opt["targets"]:
            self._engines()
        self._write(spec)

    def _fp32(self) -> None:
        from edge.backends.onnxruntime import ONNXRuntimeRunner
        from edge.backends.openvino import OpenVINORunner
        from gain_mtl.export.openvino import convert_to_ir, save_ir

        self._evaluate(("onnx", "fp32"), ONNX_FP32, ONNXRuntimeRunner)
        if "openvino" in self.opt["targets"]:
            save_ir(convert_to_ir(self.folder / ONNX_FP32), self.folder / IR_FP32, None)
            self._evaluate(("openvino", "fp32"), IR_FP32, OpenVINORunner)
        parity = {fmt: max_diffs(self.torch_out["test"], out["test"]) for (fmt, prec), out in self.outputs.items()}
        self.report["parity"] = parity
        for fmt, diffs in parity.items():
            bad = {k: v for k, v in diffs.items() if v > PARITY_TOLERANCE[k]}
            if bad:
                log.warning("%s FP32 differs from the torch graph beyond tolerance: %s", fmt, bad)

    def _int8(self) -> None:
        from calibration.dataset import LabelledImage, build_calibration_set
        from edge.atomic import atomic_write_json

        cfg = self.run.config.export
        calib = build_calibration_set(
            [LabelledImage(s.image, s.label) for s in self.samples["val"]], self.size,
            size=self.opt["calib_size"], min_defect_ratio=cfg.calib_min_defect_ratio, seed=cfg.calib_seed,
        )
        self.calib_manifest = calib.manifest(self.data_root, {
            "seed": cfg.calib_seed, "method": self.opt["calib_method"],
            "split_digest": self.run.manifest.digest(), "keep_heads_float": self.opt["keep_heads_float"],
        })
        atomic_write_json(self.folder / CALIB_MANIFEST, self.calib_manifest)
        if "openvino" in self.shipped:
            self._int8_openvino(calib)
        if "onnx" in self.shipped:
            self._int8_onnx(calib)
        self._choose_thresholds("int8")
        self.gates = {fmt: self._gate(fmt) for fmt in self.thresholds["int8"]}
        for report in self.gates.values():
            report.raise_if_failed()

    def _int8_openvino(self, calib) -> None:
        from calibration.openvino import quantize_ir, quantize_ir_with_accuracy_control
        from edge.backends.openvino import OpenVINORunner
        from gain_mtl.export.openvino import convert_to_ir, save_ir

        model = convert_to_ir(self.folder / ONNX_FP32)
        keep = self.opt["keep_heads_float"]
        if self.opt["accuracy_guard"] is None:
            quantized = quantize_ir(model, calib, keep_heads_float=keep)
        else:
            quantized = quantize_ir_with_accuracy_control(
                model, calib, self._guard_samples("openvino"), self._threshold_rule, self.guard, keep_heads_float=keep,
            )
        save_ir(quantized, self.folder / IR_INT8, None)
        self._evaluate(("openvino", "int8"), IR_INT8, OpenVINORunner)

    def _int8_onnx(self, calib) -> None:
        from calibration.onnx_accuracy import quantize_qdq_with_accuracy_control
        from calibration.onnx_qdq import quantize_qdq
        from edge.backends.onnxruntime import ONNXRuntimeRunner

        source, target = self.folder / ONNX_FP32, self.folder / ONNX_INT8
        method, keep = self.opt["calib_method"], self.opt["keep_heads_float"]
        if self.opt["accuracy_guard"] is None:
            quantize_qdq(source, target, calib, method=method, keep_heads_float=keep)
        else:
            control = quantize_qdq_with_accuracy_control(
                source, target, calib, self._guard_samples("onnx"), self._threshold_rule, self.guard,
                method=method, keep_heads_float=keep,
            )
            self.report["onnx_accuracy_control"] = asdict(control)
        self._evaluate(("onnx", "int8"), ONNX_INT8, ONNXRuntimeRunner)

    def _robustness(self) -> None:
        """Every shipped model's decisions on the test split under camera perturbations, guarded.

        Measured after the INT8 gate so that a model INT8 already refused is not measured; a model
        whose decisions flip too often under a guarded perturbation fails the export like the gate.
        """
        import cv2

        from edge.bench.robustness import measure_robustness
        from edge.preprocess import resize_frame
        from gain_mtl.export.graph import OUTPUT_NAMES

        # As stored, at their own resolution: the perturbations act before the edge's resize.
        originals = [cv2.imread(str(s.image), cv2.IMREAD_COLOR) for s in self.samples["test"]]
        for (fmt, precision), rel in self.files.items():
            if fmt not in self.shipped:
                continue
            with self.runner_classes[(fmt, precision)](self.folder / rel, self.input_spec, OUTPUT_NAMES) as runner:
                result = measure_robustness(lambda frames: infer_batches(runner, self.input_spec, frames)["defect_prob"],
                                 originals, self.labels["test"], self.thresholds[precision][fmt],
                                 lambda frame: resize_frame(frame, self.size, self.size),
                                 guarded=self.opt["robustness_guarded"], min_agreement=self.opt["robustness_guard"])
            self.robustness.setdefault(precision, {})[fmt] = result
        for precision, by_format in self.robustness.items():
            for fmt, result in by_format.items():
                result.raise_if_failed(f"{precision} ({fmt})")

    def _engines(self) -> None:
        """Prebuilt TensorRT engines for this device; other devices build their own on first use."""
        from calibration.tensorrt import build_engine

        engines = self.folder / "engines"
        self.files[("tensorrt-engine", "fp16")] = self._rel(build_engine(self.folder / ONNX_FP32, engines, "fp16"))
        if self.opt["int8"]:
            self.files[("tensorrt-engine", "int8")] = self._rel(build_engine(self.folder / ONNX_INT8, engines, "int8"))

    # -- helpers -------------------------------------------------------------------------------
    def _rel(self, path: Path) -> str:
        return Path(path).relative_to(self.folder).as_posix()

    def _evaluate(self, key: tuple[str, str], relpath: str, runner_cls) -> None:
        self.files[key] = relpath
        self.runner_classes[key] = runner_cls
        path = self.folder / relpath
        self.outputs[key] = {k: run_artifact(runner_cls, path, self.input_spec, f) for k, f in self.frames.items()}

    def reference(self, precision: str) -> str:
        """The shipped format whose outputs stand for ``precision`` in the bundle's metrics: ONNX's, else the IR's."""
        return "onnx" if "onnx" in self.shipped else "openvino"

    def _guard_samples(self, fmt: str) -> list:
        """Validation batches with the ``fmt`` FP32 model's decisions, for an accuracy-controlled route."""
        from calibration.guard import guard_samples
        from edge.decision import flagged

        decisions = flagged(self.outputs[(fmt, "fp32")]["val"]["defect_prob"], self.thresholds["fp32"][fmt])
        return guard_samples(self.frames["val"], self.labels["val"], decisions, parts=self.parts["val"])

    def _threshold_rule(self, prob: np.ndarray, labels: np.ndarray, parts: list[str | None]) -> float:
        """The threshold for the target recall on validation scores ``prob``: the accuracy guard's rule.

        The guard also judges candidates on parts of the validation split, whose few defects would
        each warn; the warning belongs to the shipped thresholds (``_choose_thresholds``) only.
        """
        from gain_mtl.evaluate.threshold import RecallWarning

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RecallWarning)
            return self._choose(prob, labels, parts).threshold

    def _choose(self, prob: np.ndarray, labels: np.ndarray, parts: list[str | None]):
        """The run's threshold rule (target recall at the run's confidence) on validation scores ``prob``."""
        from gain_mtl.evaluate.threshold import choose_threshold

        return choose_threshold(prob, labels, self.opt["target_recall"], self.opt["recall_confidence"], parts=parts)

    def _choose_thresholds(self, precision: str) -> None:
        """Each ``precision`` model's threshold for the target recall, on its own validation scores.

        Quantization moves each route's scores differently, so one shared INT8 threshold would
        serve one route and shift the other's decisions.
        """
        for (fmt, prec), outputs in self.outputs.items():
            if prec == precision and fmt in self.shipped:
                choice = self._choose(outputs["val"]["defect_prob"], self.labels["val"], self.parts["val"]).to_dict()
                self.thresholds.setdefault(precision, {})[fmt] = choice.pop("threshold")
                self.threshold_recall.setdefault(precision, {})[fmt] = choice

    def _metrics(self, outputs, threshold: float) -> dict[str, dict[str, Any]]:
        return {
            "val": split_metrics(outputs["val"], self.labels["val"], threshold),
            "test": split_metrics(outputs["test"], self.labels["test"], threshold, self.test_masks,
                                  self.localization_threshold or LOC_THRESHOLD),
        }

    def _gate(self, fmt: str):
        from calibration.gate import compare

        fp32, int8 = self.outputs[(fmt, "fp32")], self.outputs[(fmt, "int8")]
        thresholds = (self.thresholds["fp32"][fmt], self.thresholds["int8"][fmt])
        metrics = {"fp32": self._metrics(fp32, thresholds[0])["test"], "int8": self._metrics(int8, thresholds[1])["test"]}
        return compare(fp32["test"], int8["test"], thresholds, metrics, self.guard, precision="int8", artifact=fmt)

    def _spec(self):
        from edge.bundle import BundleSpec, library_versions

        ref = self.reference("fp32")
        metrics = {"fp32": {**self._metrics(self.outputs[(ref, "fp32")], self.thresholds["fp32"][ref]), "artifact": ref}}
        calibration: dict[str, Any] = {}
        if self.opt["int8"]:
            # The INT8 route with the lowest test recall stands for the precision (the cautious view).
            worst = min(self.gates, key=lambda fmt: self.gates[fmt].int8["recall"])
            metrics["int8"] = {**self._metrics(self.outputs[(worst, "int8")], self.thresholds["int8"][worst]), "artifact": worst}
            calibration = {
                **{k: v for k, v in self.calib_manifest.items() if k != "images"},
                "manifest": CALIB_MANIFEST,
                "gates": {fmt: g.to_dict() for fmt, g in self.gates.items()},
                "accuracy_guard": self.guard,
                "accuracy_control": self.opt["accuracy_guard"] is not None,
            }
        return BundleSpec(
            input=self.input_spec,
            thresholds=self.thresholds,
            target_recall=self.opt["target_recall"],
            threshold_recall=self.threshold_recall,
            localization_threshold=self.localization_threshold,
            strategy=self.strategy,
            backbone=self.run.config.model.backbone,
            config_digest=self.run.meta.get("config_digest", self.run.config.digest()),
            data_manifest_digest=self.run.manifest.digest(),
            metrics=metrics,
            calibration=calibration,
            robustness={p: {fmt: r.to_dict() for fmt, r in by_format.items()} for p, by_format in self.robustness.items()},
            versions=library_versions(),
        )

    def _stamp(self, spec) -> None:
        """Mirror the description into every model file; ONNX not asked for as a target is dropped."""
        from gain_mtl.export.onnx import stamp_onnx
        from gain_mtl.export.openvino import restamp_ir

        if "onnx" not in self.shipped:
            for key in [k for k in self.files if k[0] == "onnx"]:
                os.unlink(self.folder / self.files.pop(key))
        for (fmt, _), rel in self.files.items():
            if fmt == "onnx":
                stamp_onnx(self.folder / rel, spec)
            elif fmt == "openvino":
                restamp_ir(self.folder / rel, spec)

    def _write(self, spec) -> None:
        from edge.atomic import atomic_write_text
        from edge.bundle import describe_artifact, write_bundle_json
        from gain_mtl.export.report import render_report

        for (fmt, precision), rel in self.files.items():
            spec.artifacts.append(describe_artifact(self.folder, rel, fmt, precision))
            if fmt == "openvino":
                spec.artifacts.append(describe_artifact(self.folder, str(Path(rel).with_suffix(".bin")), fmt, precision, role="weights"))
        write_bundle_json(self.folder, spec)
        atomic_write_text(self.folder / REPORT_FILE, render_report(spec, self.report, getattr(self, "calib_manifest", None)))
