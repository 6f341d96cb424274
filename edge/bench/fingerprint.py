"""Device fingerprint: what a benchmark number is only meaningful next to.

Read from the places that exist on both an x86 box and a Jetson (/proc/cpuinfo, nvidia-smi,
/proc/device-tree/model, nvpmodel), each optional: a field that cannot be read is ``None``, never
an error, because a report from a locked-down camera is still a report.
"""

from __future__ import annotations

import os
import platform
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

from edge.bundle import library_versions

# ISA features that decide which INT8/FP16 kernels a CPU runtime can pick, as /proc/cpuinfo names them.
ISA_FLAGS: tuple[str, ...] = (
    "sse4_2", "avx", "avx2", "fma", "avx512f", "avx512bw", "avx512_vnni", "avx_vnni",
    "avx512_bf16", "avx512_fp16", "amx_tile", "amx_int8", "amx_bf16", "asimd", "asimddp", "sve",
)

# Distributions whose versions are recorded.
LIBRARIES: tuple[str, ...] = (
    "gain-mtl", "numpy", "opencv-python-headless", "opencv-python", "onnxruntime", "onnxruntime-gpu",
    "openvino", "nncf", "tensorrt", "pycuda", "torch", "torchvision", "timm", "psutil",
)


def _read(path: str) -> str | None:
    try:
        return Path(path).read_text(errors="replace").replace("\x00", "").strip()
    except OSError:
        return None


def _command(args: list[str], timeout: float = 5.0) -> str | None:
    if shutil.which(args[0]) is None:
        return None
    try:
        done = subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 and done.stdout.strip() else None


def cpu_info(cpuinfo: str | None = None) -> dict[str, Any]:
    """CPU model, logical/physical/usable cores and the ISA flags that matter for inference."""
    text = _read("/proc/cpuinfo") if cpuinfo is None else cpuinfo
    fields: dict[str, str] = {}
    for line in (text or "").splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip() not in fields:
            fields[key.strip()] = value.strip()
    flags = set((fields.get("flags") or fields.get("Features") or "").split())
    model = fields.get("model name") or fields.get("Hardware") or platform.processor() or platform.machine()
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    physical = None
    try:
        import psutil

        physical = psutil.cpu_count(logical=False)
    except ImportError:
        pass
    return {
        "model": model,
        "arch": platform.machine(),
        "logical_cores": os.cpu_count(),
        "physical_cores": physical,
        "usable_cores": usable,
        "isa": [flag for flag in ISA_FLAGS if flag in flags],
    }


def gpu_info() -> list[dict[str, str]]:
    """Every NVIDIA GPU nvidia-smi lists, with its driver; empty where there is none."""
    out = _command(["nvidia-smi", "--query-gpu=name,driver_version,memory.total", "--format=csv,noheader"])
    gpus = []
    for line in (out or "").splitlines():
        parts = [part.strip() for part in line.split(",")]
        if len(parts) == 3:
            gpus.append({"name": parts[0], "driver": parts[1], "memory": parts[2]})
    return gpus


def jetson_info() -> dict[str, str | None] | None:
    """Jetson model and power mode; ``None`` on anything that is not a Jetson."""
    model = _read("/proc/device-tree/model")
    if not model or "jetson" not in model.lower():
        return None
    power = _command(["nvpmodel", "-q"])
    return {"model": model, "power_mode": power.splitlines()[0] if power else None,
            "l4t": _read("/etc/nv_tegra_release")}


def device_fingerprint() -> dict[str, Any]:
    """Everything about this machine a reader needs to compare two reports."""
    fingerprint = {
        "cpu": cpu_info(),
        "memory_gib": _memory_gib(),
        "gpus": gpu_info(),
        "jetson": jetson_info(),
        "os": platform.platform(),
        "python": platform.python_version(),
        "libraries": library_versions(LIBRARIES),
    }
    fingerprint["slug"] = device_slug(fingerprint)
    return fingerprint


def _memory_gib() -> float | None:
    text = _read("/proc/meminfo") or ""
    match = re.search(r"MemTotal:\s+(\d+) kB", text)
    return round(int(match.group(1)) / 2**20, 1) if match else None


def device_slug(fingerprint: dict[str, Any]) -> str:
    """A folder name for a device: "jetson-orin-nano-...", "gpu-...", or "cpu-<N>core-<model>"."""
    if fingerprint.get("jetson"):
        base = fingerprint["jetson"]["model"]
    elif fingerprint.get("gpus"):
        base = f"gpu-{fingerprint['gpus'][0]['name']}"
    else:
        cpu = fingerprint["cpu"]
        base = f"cpu-{cpu.get('usable_cores') or cpu.get('logical_cores')}core-{cpu.get('model') or 'unknown'}"
    base = re.sub(r"\((r|tm)\)", "", base.lower())
    return re.sub(r"[^a-z0-9]+", "-", base).strip("-")
