"""Where the time goes inside an OpenVINO model: per-layer counters, grouped by layer and kernel.

``PERF_COUNT`` makes the CPU plugin time every executed node and name the kernel it picked
(``exec_type``, e.g. ``jit_avx512_amx_I8`` or ``brgconv_avx2_FP32``): the precision a layer really
ran in, which is what says whether INT8 reached the layers that dominate.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

# Layers whose arithmetic INT8 is meant to speed up; a Convert of the uint8 input is not one of them.
COMPUTE_TYPES = ("Convolution", "GroupConvolution", "MatMul", "FullyConnected", "Deconvolution")


def openvino_profile(model_xml: str | Path, shape: tuple[int, ...], runs: int = 10, top: int = 15) -> dict[str, Any]:
    """Mean per-run time by node type and by (type, kernel), and the share that ran in INT8."""
    from edge.backends.openvino import INFERENCE_PRECISION, import_openvino

    core = import_openvino().Core()
    # Compiled as the runner compiles it: static shape, f32 for the float layers (not bf16).
    model = core.read_model(str(model_xml))
    model.reshape({0: list(shape)})
    config = {"PERF_COUNT": True, "PERFORMANCE_HINT": "LATENCY",
              "INFERENCE_PRECISION_HINT": INFERENCE_PRECISION["fp32"]}
    compiled = core.compile_model(model, "CPU", config)
    request = compiled.create_infer_request()
    feed = np.random.default_rng(0).integers(0, 256, size=shape, dtype=np.uint8)
    request.infer({0: feed})
    by_type: dict[str, float] = defaultdict(float)
    by_kernel: dict[tuple[str, str], float] = defaultdict(float)
    nodes: dict[str, tuple[str, str, float]] = {}
    for _ in range(runs):
        request.infer({0: feed})
        for info in request.get_profiling_info():
            if info.status != info.Status.EXECUTED:
                continue
            ms = info.real_time.total_seconds() * 1000.0 / runs
            by_type[info.node_type] += ms
            by_kernel[(info.node_type, info.exec_type)] += ms
            name, kind, kernel = info.node_name, info.node_type, info.exec_type
            nodes[name] = (kind, kernel, nodes.get(name, (kind, kernel, 0.0))[2] + ms)
    total = sum(by_type.values())
    compute = {key: ms for key, ms in by_kernel.items() if key[0] in COMPUTE_TYPES}
    int8 = sum(ms for (_, kernel), ms in compute.items() if "I8" in kernel.upper() or "U8" in kernel.upper())
    return {
        "model": Path(model_xml).name, "shape": list(shape), "runs": runs, "total_ms": total,
        "compute_share": sum(compute.values()) / total if total else 0.0,
        "int8_share_of_compute": int8 / sum(compute.values()) if compute else 0.0,
        "by_type": sorted(([k, v] for k, v in by_type.items()), key=lambda kv: -kv[1])[:top],
        "by_kernel": sorted(([t, k, v] for (t, k), v in by_kernel.items()), key=lambda r: -r[2])[:top],
        "top_nodes": sorted(([n, t, k, v] for n, (t, k, v) in nodes.items()), key=lambda r: -r[3])[:top],
    }


def profile_markdown(profile: dict[str, Any]) -> str:
    lines = [f"### OpenVINO per-layer counters: {profile['model']} {tuple(profile['shape'])}", "",
             f"Sum of executed nodes {profile['total_ms']:.1f} ms per inference (mean of {profile['runs']} runs); "
             f"convolutions and matrix products take {100 * profile['compute_share']:.0f}% of it, "
             f"{100 * profile['int8_share_of_compute']:.0f}% of theirs in INT8 kernels.", "",
             "| Layer type | Kernel | ms | share |", "|---|---|---|---|"]
    for kind, kernel, ms in profile["by_kernel"]:
        lines.append(f"| {kind} | {kernel} | {ms:.2f} | {100 * ms / profile['total_ms']:.1f}% |")
    lines += ["", "| Slowest nodes | Type | Kernel | ms |", "|---|---|---|---|"]
    for name, kind, kernel, ms in profile["top_nodes"]:
        lines.append(f"| {name} | {kind} | {kernel} | {ms:.2f} |")
    return "\n".join(lines) + "\n"
