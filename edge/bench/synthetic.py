"""A synthetic line for soak runs and tests: a tiny bundle, a camera, a slow runner; no torch, no data.

The tiny model bundle has the exported graph's exact interface, built without torch.

The graph reads the frame's brightness: ``localization_map`` is a sigmoid of the 4x4-pooled
grey level, ``attention_map`` the same at 8x8 pooling, ``defect_prob`` the maximum of the
localization map. So a frame with a bright patch (``synth_frame(defective=True)``) is a defect
and its region is where the patch is: tests can check decisions and regions against ground truth.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

import numpy as np

from edge.backends.base import Runner

from edge.bundle import BundleSpec, InputSpec, describe_artifact, library_versions, mirror_into_onnx, mirror_into_openvino, write_bundle_json

SIZE = 32
THRESHOLD = 0.5
BACKGROUND, PATCH = 70, 235  # grey levels: sigmoid(20 * (v/255 - 0.6)) is ~0.003 and ~1.0


def build_onnx(path: Path, size: int = SIZE, spec: BundleSpec | None = None) -> Path:
    import onnx
    from onnx import TensorProto, helper

    def const(name: str, value: float) -> onnx.NodeProto:
        return helper.make_node("Constant", [], [name], value=helper.make_tensor(name, TensorProto.FLOAT, [], [value]))

    def prob_map(src: str, kernel: int, out: str) -> list:
        return [
            helper.make_node("AveragePool", [src], [f"{out}_pool"], kernel_shape=[kernel, kernel], strides=[kernel, kernel]),
            helper.make_node("Sub", [f"{out}_pool", "centre"], [f"{out}_c"]),
            helper.make_node("Mul", [f"{out}_c", "gain"], [f"{out}_s"]),
            helper.make_node("Sigmoid", [f"{out}_s"], [out]),
        ]

    nodes = [
        const("scale", 1.0 / 255.0), const("centre", 0.6), const("gain", 20.0),
        helper.make_node("Cast", ["image"], ["x"], to=TensorProto.FLOAT),
        helper.make_node("Transpose", ["x"], ["nchw"], perm=[0, 3, 1, 2]),
        helper.make_node("ReduceMean", ["nchw"], ["grey255"], axes=[1], keepdims=1),
        helper.make_node("Mul", ["grey255", "scale"], ["grey"]),
        *prob_map("grey", 4, "localization_map"),
        *prob_map("grey", 8, "attention_map"),
        helper.make_node("ReduceMax", ["localization_map"], ["defect_prob"], axes=[1, 2, 3], keepdims=0),
    ]
    graph = helper.make_graph(
        nodes, "tiny_gain_mtl",
        [helper.make_tensor_value_info("image", TensorProto.UINT8, ["N", size, size, 3])],
        [
            helper.make_tensor_value_info("defect_prob", TensorProto.FLOAT, ["N"]),
            helper.make_tensor_value_info("attention_map", TensorProto.FLOAT, ["N", 1, size // 8, size // 8]),
            helper.make_tensor_value_info("localization_map", TensorProto.FLOAT, ["N", 1, size // 4, size // 4]),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="gain-mtl-tests")
    model.ir_version = 8
    onnx.checker.check_model(model)
    if spec is not None:
        mirror_into_onnx(model, spec)
    onnx.save(model, str(path))
    return path


def build_tiny_bundle(folder: Path, size: int = SIZE, openvino: bool = True, **spec_fields: Any) -> Path:
    """Write ``folder`` with model.onnx, openvino/model.xml|bin (when installed) and bundle.json.

    ``spec_fields``: bundle description fields to set instead of the defaults, mirrored into the
    model files as an export would (e.g. ``localization_threshold=None`` for a model that does not localize).
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    spec = dataclasses.replace(BundleSpec(
        input=InputSpec(height=size, width=size), thresholds={"fp32": {"onnx": THRESHOLD, "openvino": THRESHOLD}}, target_recall=0.95,
        strategy="S4", backbone="tiny-brightness", config_digest="0" * 64, data_manifest_digest="0" * 64,
        metrics={"fp32": {"val": {"recall": 1.0}, "test": {"recall": 1.0}}}, versions=library_versions(),
    ), **spec_fields)
    build_onnx(folder / "model.onnx", size, spec)
    artifacts = [describe_artifact(folder, "model.onnx", "onnx", "fp32")]
    if openvino:
        import openvino as ov

        model = ov.convert_model(str(folder / "model.onnx"))
        mirror_into_openvino(model, spec)
        (folder / "openvino").mkdir(exist_ok=True)
        ov.save_model(model, str(folder / "openvino" / "model.xml"), compress_to_fp16=False)
        artifacts += [
            describe_artifact(folder, "openvino/model.xml", "openvino", "fp32"),
            describe_artifact(folder, "openvino/model.bin", "openvino", "fp32", role="weights"),
        ]
    spec.artifacts = artifacts
    write_bundle_json(folder, spec)
    return folder


def synth_frame(defective: bool, width: int = 96, height: int = 72, seed: int = 0) -> np.ndarray:
    """A BGR frame: grey with mild noise, plus a bright square where ``defective``."""
    rng = np.random.default_rng(seed)
    frame = np.clip(rng.normal(BACKGROUND, 6, (height, width, 3)), 0, 255).astype(np.uint8)
    if defective:
        side = min(width, height) // 3
        x = int(rng.integers(0, width - side))
        y = int(rng.integers(0, height - side))
        frame[y:y + side, x:x + side] = PATCH
    return frame


def defective_at(index: int) -> bool:
    """Ground truth of the synthetic streams: every fifth frame, from the third, has a defect."""
    return index % 5 == 2


def write_video(path: Path, frames: int, fps: float = 10.0, width: int = 96, height: int = 72) -> list[bool]:
    """An MJPG .avi of synthetic frames; returns the defect label of each frame."""
    import cv2

    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (width, height))
    if not writer.isOpened():
        raise RuntimeError(f"OpenCV cannot write MJPG to {path}")
    labels = [defective_at(i) for i in range(frames)]
    for i, label in enumerate(labels):
        writer.write(synth_frame(label, width, height, seed=i))
    writer.release()
    return labels


class SyntheticCamera:
    """A camera made of synthetic frames, opened through ``open()`` like ``cv2.VideoCapture``.

    When all ``frames`` are read it calls ``on_exhausted`` and reads fail.
    ``outages`` maps a frame count to an outage length in seconds: after that many frames the
    camera 'unplugs' (reads fail, reopening fails) until the outage is over. ``slow`` maps frame
    counts to extra seconds spent reading that frame. ``fps`` paces reads (0: as fast as possible).
    """

    def __init__(self, frames: int, fps: float = 0.0, outages: dict | None = None, slow: dict | None = None,
                 width: int = 96, height: int = 72) -> None:
        import time as _time

        self._time = _time
        self.frames, self.fps, self.width, self.height = frames, fps, width, height
        self.outages = dict(outages or {})
        self.slow = dict(slow or {})
        self.produced = 0
        self.down_until = 0.0
        self.opens = 0
        self._pool = [synth_frame(defective_at(i), width, height, seed=i) for i in range(10)]
        self._next_due = 0.0
        self.on_exhausted = lambda: None  # e.g. the source's stop(): the stream ends, no reconnect

    def open(self) -> "SyntheticCamera._Handle":
        self.opens += 1
        return self._Handle(self, alive=self._time.monotonic() >= self.down_until)

    class _Handle:
        def __init__(self, camera: "SyntheticCamera", alive: bool) -> None:
            self.camera, self.alive = camera, alive

        def isOpened(self) -> bool:
            return self.alive

        def get(self, prop: int) -> float:
            return float(self.camera.fps) if prop == 5 else 0.0

        def release(self) -> None:
            self.alive = False

        def read(self):
            cam = self.camera
            if cam.produced >= cam.frames:
                cam.on_exhausted()
                return False, None
            if not self.alive:
                return False, None
            if cam.produced in cam.outages:
                cam.down_until = cam._time.monotonic() + cam.outages.pop(cam.produced)
                self.alive = False
                return False, None
            if cam.fps:
                now = cam._time.monotonic()
                cam._next_due = max(cam._next_due + 1.0 / cam.fps, now)
                cam._time.sleep(max(0.0, cam._next_due - now))
            cam._time.sleep(cam.slow.get(cam.produced, 0.0))
            index = cam.produced
            cam.produced += 1
            return True, cam._pool[index % len(cam._pool)].copy()


class SlowRunner(Runner):
    """A real runner made slow: inferences take ``delay_s`` longer (all, or the calls listed).

    ``slow_calls``: 0-based inference calls to slow down; None slows every call.
    """

    name = "slow"

    def __init__(self, inner: Runner, delay_s: float, slow_calls: set | None = None) -> None:
        super().__init__(inner.model_path, inner.input_spec, inner.output_names, jobs=1)
        self.inner, self.delay_s, self.slow_calls = inner, delay_s, slow_calls
        self.calls = 0

    def _activate(self) -> None:
        self.inner.activate()

    def _deactivate(self) -> None:
        self.inner.deactivate()

    def _infer(self, feed: dict) -> dict:
        call, self.calls = self.calls, self.calls + 1
        if self.slow_calls is None or call in self.slow_calls:
            time.sleep(self.delay_s)
        return self.inner.infer(feed)
