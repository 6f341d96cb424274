"""benchmarks/latency.py's summary: each target of a preset met or missed, from one report's numbers."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import pytest

from edge.bench.schema import Report, Row
from tests.conftest import benchmark_script


@pytest.fixture(scope="module")
def latency():
    return benchmark_script("latency")


def _row(backend: str, p50: float, speedup: float) -> Row:
    return Row(backend, "int8" if backend == "openvino" else "fp32", 1, load_s=1.0, latency_ms={"p50": p50},
               samples_ms=[p50], throughput={"fps": 1000.0 / p50}, peak_rss_mb=100.0, speedup_vs_torch=speedup)


def _camera(count: int, p50: float, p99: float, lost: int = 0) -> dict:
    return {"cameras": count, "paced_fps_per_camera": 20.0 / count, "frame_to_decision_ms": {"p50": p50, "p99": p99},
            "p99_over_p50": p99 / p50, "decisions_lost": lost}


def _processes(one: float, four: float, in_order: bool = True) -> dict:
    run = {"decisions_lost": 0, "in_order": in_order}
    return {"sources": 4, "rounds": 3, "one_process_fps": one, "processes_fps": four, "ratio": one / four,
            "runs": {"one_process": [run] * 3, "processes": [run] * 3}}


def _write(out: Path, stream: dict, heads: dict | None) -> None:
    report = Report(device={}, bundle={}, settings={}, rows=[_row("openvino", 40.0, 5.5), _row("torch", 220.0, 1.0)],
                    stream=stream)
    out.mkdir()
    (out / "report.json").write_text(json.dumps({**asdict(report), "rows": [asdict(r) for r in report.rows]}))
    if heads is not None:
        (out / "heads-cost.json").write_text(json.dumps(heads))


def test_each_target_of_efficientnetv2_s_is_stated_met_or_missed(latency, tmp_path: Path) -> None:
    stream = {"status": "ok", "fps": 28.0, "standalone_fps": 30.0, "fps_over_throughput": 28 / 30, "paced_fps": 22.4,
              "frame_to_decision_ms": {"p50": 70.0, "p99": 84.0}, "p99_over_p50": 1.2,
              "cameras": [_camera(1, 70.0, 80.0), _camera(4, 100.0, 160.0, lost=1)],
              "processes": _processes(29.0, 23.0, in_order=False)}
    heads = {"backbone": "efficientnetv2_s", "rounds": 5, "median_p50_ms": {"bundle": 39.0, "bare": 30.0}, "ratio": 1.3}
    _write(tmp_path / "out", stream, heads)
    lines = latency.targets("efficientnetv2_s-512", tmp_path / "out")
    assert lines[0] == "OpenVINO INT8 p50 40.0 ms vs PyTorch eager FP32 220.0 ms: 5.50x (target >= 5.0x: met)"
    assert "0.93 of standalone throughput 30.0 img/s (target >= 0.95: missed)" in lines[1]
    assert "p99/p50 1.20 (target <= 1.5: met)" in lines[2]
    assert "1 camera(s) on one line" in lines[3] and "p99/p50 1.14 (target <= 1.5: met), 0 decisions lost" in lines[3]
    assert "p99/p50 1.60 (target <= 1.5: missed), 1 decisions lost" in lines[4]
    assert "29.0 decisions/s against 4 processes 23.0" in lines[5] and "1.26x (target >= 1.3x: missed)" in lines[5]
    assert lines[5].endswith("order BROKEN")
    assert "39.0 ms against a bare efficientnetv2_s classifier's 30.0 ms" in lines[6]
    assert lines[6].endswith("1.30x (target <= 1.25x: missed)")


def test_a_preset_without_a_heads_target_states_none_and_a_missing_file_is_not_invented(latency, tmp_path: Path) -> None:
    stream = {"status": "skipped", "reason": "no video"}
    _write(tmp_path / "lite", stream, {"backbone": "x", "rounds": 1, "median_p50_ms": {"bundle": 2, "bare": 1}, "ratio": 2})
    assert [line for line in latency.targets("efficientnet_lite0-512", tmp_path / "lite") if "Heads" in line] == []
    _write(tmp_path / "v2s", stream, None)
    lines = latency.targets("efficientnetv2_s-512", tmp_path / "v2s")
    assert len(lines) == 1 and "(target >= 5.0x: met)" in lines[0]
