"""Device fingerprint: parsing /proc/cpuinfo and naming the device folder."""

from __future__ import annotations

from edge.bench.fingerprint import cpu_info, device_fingerprint, device_slug

CPUINFO = """processor\t: 0
model name\t: Intel(R) Xeon(R) Gold 6430
flags\t\t: fpu sse4_2 avx avx2 fma avx512f avx512bw avx512_vnni amx_tile amx_int8 amx_bf16
processor\t: 1
model name\t: Intel(R) Xeon(R) Gold 6430
flags\t\t: fpu sse4_2 avx avx2
"""

JETSON_CPUINFO = """processor\t: 0
Features\t: fp asimd evtstrm aes asimddp
CPU part\t: 0xd42
"""


def test_x86_model_and_isa_flags() -> None:
    info = cpu_info(CPUINFO)
    assert info["model"] == "Intel(R) Xeon(R) Gold 6430"
    assert info["isa"] == ["sse4_2", "avx", "avx2", "fma", "avx512f", "avx512bw", "avx512_vnni",
                           "amx_tile", "amx_int8", "amx_bf16"]


def test_arm_features_are_read() -> None:
    assert cpu_info(JETSON_CPUINFO)["isa"] == ["asimd", "asimddp"]


def test_slugs() -> None:
    cpu = {"cpu": {"model": "Intel(R) Xeon(R) Gold 6430", "usable_cores": 2, "logical_cores": 64},
           "gpus": [], "jetson": None}
    assert device_slug(cpu) == "cpu-2core-intel-xeon-gold-6430"
    gpu = {**cpu, "gpus": [{"name": "NVIDIA H100 80GB HBM3", "driver": "550", "memory": "80 GiB"}]}
    assert device_slug(gpu) == "gpu-nvidia-h100-80gb-hbm3"
    jetson = {**cpu, "jetson": {"model": "NVIDIA Jetson Orin Nano Developer Kit", "power_mode": "15W"}}
    assert device_slug(jetson) == "nvidia-jetson-orin-nano-developer-kit"


def test_this_machine_has_every_field() -> None:
    fp = device_fingerprint()
    assert set(fp) == {"cpu", "memory_gib", "gpus", "jetson", "os", "python", "libraries", "slug"}
    assert fp["cpu"]["logical_cores"] >= 1 and fp["python"] and fp["slug"]
    assert "numpy" in fp["libraries"]
