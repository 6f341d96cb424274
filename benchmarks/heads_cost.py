"""What GAIN-MTL's heads cost at the edge: the bundle's OpenVINO INT8 against a bare classifier's.

The bare classifier is the same timm backbone with its own pooling and linear layer, nothing
else, given the bundle graph's input (uint8 NHWC frames in the camera's channel order, normalised
inside) and put through the same path: ONNX, OpenVINO IR, NNCF INT8 on the bundle's own
calibration images. Both run with the runner ``gainctl run`` uses (LATENCY hint, one request,
batch 1) in interleaved rounds, so drift on a shared machine hits both alike; the ratio of their
median p50s is the heads' cost (the GAIN attention, adapter, attended head, FPN and localization
head). Speed does not depend on the weights, so both start untrained.

    python benchmarks/heads_cost.py BUNDLE DATA [--rounds 5] [--runs 30] [--out heads-cost.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from edge.atomic import atomic_write_json  # noqa: E402
from edge.bundle import Bundle, load_bundle  # noqa: E402

ROUNDS, RUNS = 5, 30
BARE_OUTPUT = "defect_prob"


def bare_classifier_ir(bundle: Bundle, data: Path, folder: Path) -> Path:
    """The bare classifier as an INT8 OpenVINO IR in ``folder``, calibrated like ``bundle``'s."""
    import timm
    import torch
    from torch import nn

    from calibration.dataset import load_frame
    from calibration.openvino import quantize_ir
    from gain_mtl.export.onnx import export_onnx
    from gain_mtl.export.openvino import convert_to_ir, save_ir

    spec = bundle.spec
    backbone = timm.create_model(spec.backbone, pretrained=False, num_classes=2).eval()
    flip = spec.input.channel_order == "BGR"

    class Bare(nn.Module):
        """uint8 NHWC -> defect probability, with the bundle graph's preprocessing ops."""

        def __init__(self) -> None:
            super().__init__()
            self.backbone = backbone
            # The graph's per-channel scale and shift (their values do not change the speed).
            self.register_buffer("scale", torch.full((1, 3, 1, 1), 1 / 58.0), persistent=False)
            self.register_buffer("shift", torch.full((1, 3, 1, 1), 2.0), persistent=False)

        def forward(self, image: torch.Tensor) -> torch.Tensor:
            x = image.permute(0, 3, 1, 2).to(torch.float32)
            x = x.flip(1) if flip else x
            return torch.softmax(self.backbone(x * self.scale - self.shift), dim=1)[:, 1]

    size = spec.input.height
    onnx_path = folder / "bare.onnx"
    export_onnx(Bare(), onnx_path, size, output_names=(BARE_OUTPUT,))
    manifest = json.loads((bundle.folder / "calibration" / "manifest.json").read_text())
    frames = np.stack([load_frame(data / item["path"], size) for item in manifest["images"]])
    batches = [frames[i:i + manifest["batch_size"]] for i in range(0, len(frames), manifest["batch_size"])]
    xml = folder / "bare-int8.xml"
    save_ir(quantize_ir(convert_to_ir(onnx_path), batches, keep_heads_float=False), xml)
    return xml


def p50_rounds(bundle: Bundle, models: dict[str, tuple[Path, tuple[str, ...]]], rounds: int, runs: int) -> dict[str, list[float]]:
    """Batch-1 p50 in ms of each model per round, models alternating within a round."""
    from edge.backends.openvino import OpenVINORunner
    from edge.bench.measure import Budget, latency, random_feed
    from edge.bench.stats import summarize

    feed = random_feed(bundle.spec.input.name, bundle.spec.input.shape(1))
    p50s: dict[str, list[float]] = {name: [] for name in models}
    for r in range(rounds):
        order = list(models) if r % 2 == 0 else list(reversed(models))
        for name in order:
            path, outputs = models[name]
            with OpenVINORunner(path, bundle.spec.input, outputs, precision="int8", hint="LATENCY", jobs=1) as runner:
                _, samples = latency(runner, feed, Budget(runs=runs, warmup=3))
            p50s[name].append(summarize(samples)["p50"])
    return p50s


def heads_cost(bundle_folder: Path, data: Path, rounds: int = ROUNDS, runs: int = RUNS) -> dict[str, Any]:
    """The bundle's INT8 p50 over the bare classifier's, with each round's numbers."""
    bundle = load_bundle(bundle_folder)
    with tempfile.TemporaryDirectory(prefix="gain-bare-") as tmp:
        bare = bare_classifier_ir(bundle, data, Path(tmp))
        p50s = p50_rounds(bundle, {"bundle": (bundle.artifact("openvino", "int8"), bundle.spec.outputs),
                                   "bare": (bare, (BARE_OUTPUT,))}, rounds, runs)
    medians = {name: statistics.median(values) for name, values in p50s.items()}
    return {"backbone": bundle.spec.backbone, "rounds": rounds, "runs": runs, "p50_ms": p50s,
            "median_p50_ms": medians, "ratio": medians["bundle"] / medians["bare"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("bundle", type=Path)
    parser.add_argument("data", type=Path, help="the dataset the bundle was calibrated on")
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    parser.add_argument("--runs", type=int, default=RUNS, help="timed inferences per model and round")
    parser.add_argument("--out", type=Path, default=None, help="write the JSON here (NNCF prints its progress on stdout)")
    args = parser.parse_args()
    cost = heads_cost(args.bundle, args.data, args.rounds, args.runs)
    if args.out:
        atomic_write_json(args.out, cost)
    print(json.dumps(cost, indent=2))


if __name__ == "__main__":
    main()
