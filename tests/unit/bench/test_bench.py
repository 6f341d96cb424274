"""``gainctl bench`` on a real tiny bundle (ONNX Runtime and OpenVINO sessions), end to end."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from edge.backends import backend_info, open_runner
from edge.bench import BenchSettings, read_report, run_bench
from edge.bench.schema import OK_ROW_FIELDS, BenchError, validate
from edge.bundle import load_bundle
from gain_mtl.cli import main

EDGE = ("openvino", "onnxruntime")


@pytest.fixture(scope="module")
def bench_out(tiny_bundle: Path, test_split: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("bench-out") / "report"
    result = CliRunner().invoke(main, [
        "bench", "--model", str(tiny_bundle), "--backends", "openvino,onnxruntime,tensorrt,torch",
        "--precisions", "fp32,int8", "--batch", "1,4", "--runs", "5", "--data", str(test_split),
        "--out", str(out)])
    assert result.exit_code == 0, result.output + repr(result.exception)
    return out


def _png(path: Path) -> tuple[int, ...]:
    import cv2

    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", path
    image = cv2.imread(str(path))
    assert image is not None and image.shape[0] > 100 and image.shape[1] > 100, path
    return image.shape


def test_writes_every_output_with_every_field(bench_out: Path) -> None:
    data = json.loads((bench_out / "report.json").read_text())
    validate(data, "report.json")
    device = data["device"]
    assert device["cpu"]["model"] and device["cpu"]["logical_cores"] >= 1 and "isa" in device["cpu"]
    assert {"gpus", "jetson", "os", "python", "libraries", "slug"} <= set(device)
    assert data["bundle"]["sha256"] and data["bundle"]["image_size"] == 32
    report = read_report(bench_out / "report.json")
    for batch in (1, 4):
        for backend in EDGE:
            row = report.row(backend, "fp32", batch)
            assert row is not None and row.ok, (backend, batch, row and row.reason)
            for name in OK_ROW_FIELDS:
                assert getattr(row, name) not in (None, []), (row.label, name)
            assert len(row.samples_ms) == 5
            assert set(row.latency_ms) == {"n", "min", "p50", "p90", "p95", "p99", "max", "mean"}
            assert row.latency_ms["min"] <= row.latency_ms["p50"] <= row.latency_ms["p99"] <= row.latency_ms["max"]
            # The summary is of the recorded samples, not of something else: --runs 5, five samples.
            assert row.latency_ms["n"] == 5
            assert row.latency_ms["p50"] == pytest.approx(float(np.percentile(row.samples_ms, 50)), rel=1e-3)
            assert row.throughput["fps"] > 0 and row.throughput["requests"] >= 1
            assert row.artifact_mb > 0 and row.load_s >= 0
            assert row.load_s > 0  # loading a model takes time: zero would mean it was not measured
            acc = row.accuracy
            assert acc["images"] == 10 and acc["masks"] == 5
            # The brightness graph finds every bright patch: a real check of reading, resizing and scoring.
            assert acc["recall"] == 1.0 and acc["precision"] == 1.0 and acc["f1"] == 1.0
            assert acc["iou"] > 0.3
    md = (bench_out / "report.md").read_text()
    assert "## Batch 1" in md and "## Batch 4" in md and "| openvino | fp32 | ok |" in md
    assert "Recall" in md and "vs torch" in md
    _png(bench_out / "latency.png")
    _png(bench_out / "throughput.png")


def test_unavailable_rows_are_skipped_with_reasons(bench_out: Path) -> None:
    report = read_report(bench_out / "report.json")
    assert len(report.rows) == 2 * 4 * 2  # batches x backends x precisions: nothing dropped
    tensorrt = report.row("tensorrt", "fp32", 1)
    if not backend_info("tensorrt").usable_here():
        assert tensorrt.status == "skipped" and "tensorrt" in tensorrt.reason.lower()
    else:
        assert tensorrt.ok, tensorrt.reason
    int8 = report.row("openvino", "int8", 1)
    assert int8.status == "skipped" and "int8" in int8.reason and "available" in int8.reason
    torch_row = report.row("torch", "fp32", 4)
    assert torch_row.status == "skipped" and "--checkpoint" in torch_row.reason
    assert report.row("torch", "int8", 1).status == "skipped"
    assert "## Skipped" in (bench_out / "report.md").read_text()


class _ReferenceFromONNX:
    """A reference backend built from a real ONNX Runtime session (the torch one needs a checkpoint)."""

    name = "torch"
    precisions = ("fp32",)

    def __init__(self, bundle_dir: Path) -> None:
        self.bundle = load_bundle(bundle_dir)

    def open(self, precision: str, threads: int | None):
        return open_runner(self.bundle, "onnxruntime", precision)


def test_reference_backend_gives_every_row_its_speedup(tiny_bundle: Path, test_split: Path) -> None:
    bundle = load_bundle(tiny_bundle)
    settings = BenchSettings(backends=("openvino", "torch"), precisions=("fp32",), runs=5, data=test_split)
    report = run_bench(bundle, settings, [_ReferenceFromONNX(tiny_bundle)])
    ref, ov = report.row("torch", "fp32", 1), report.row("openvino", "fp32", 1)
    assert ref.ok and ov.ok
    assert ref.speedup_vs_torch == pytest.approx(1.0)
    assert ov.speedup_vs_torch == pytest.approx(ref.latency_ms["p50"] / ov.latency_ms["p50"])
    # FP32 rows are checked against the reference's decisions: same graph, full agreement.
    assert ov.accuracy["agreement"] == 1.0 and ov.accuracy["agreement_with"] == "torch fp32"


def test_compare_merges_reports(bench_out: Path, tmp_path: Path) -> None:
    other = json.loads((bench_out / "report.json").read_text())
    other["device"]["slug"] = "jetson-orin-nano"
    for row in other["rows"]:
        if row["latency_ms"]:
            row["latency_ms"] = {k: v * 3 for k, v in row["latency_ms"].items()}
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "report.json").write_text(json.dumps(other))
    result = CliRunner().invoke(main, ["bench", "compare", str(bench_out / "report.json"),
                                       str(tmp_path / "b" / "report.json"), "--out", str(tmp_path / "cmp")])
    assert result.exit_code == 0, result.output
    merged = json.loads((tmp_path / "cmp" / "compare.json").read_text())
    assert [s["label"] for s in merged["sources"]] == [read_report(bench_out / "report.json").device["slug"],
                                                       "jetson-orin-nano"]
    assert len(merged["reports"]) == 2
    md = (tmp_path / "cmp" / "compare.md").read_text()
    assert "| jetson-orin-nano | openvino | fp32 | ok |" in md
    _png(tmp_path / "cmp" / "latency.png")
    _png(tmp_path / "cmp" / "throughput.png")


def test_bad_reports_and_options_exit_2(bench_out: Path, tiny_bundle: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    data = json.loads((bench_out / "report.json").read_text())
    del data["rows"][0]["reason"]
    bad.write_text(json.dumps(data))
    result = CliRunner().invoke(main, ["bench", "compare", str(bench_out / "report.json"), str(bad),
                                       "--out", str(tmp_path / "c")])
    assert result.exit_code == 2 and "rows[0]" in result.output
    with pytest.raises(BenchError, match="schema"):
        validate({**data, "schema": "gain-mtl-bench/0"})
    result = CliRunner().invoke(main, ["bench", "--model", str(tmp_path / "none"), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "not found" in result.output
    result = CliRunner().invoke(main, ["bench", "--model", str(bench_out), "--out", str(tmp_path / "o"),
                                       "--runs", "3", "--duration", "1"])
    assert result.exit_code == 2
    # With a real bundle, the refusal must come from the --runs/--duration check itself.
    result = CliRunner().invoke(main, ["bench", "--model", str(tiny_bundle), "--out", str(tmp_path / "o2"),
                                       "--runs", "3", "--duration", "1"])
    assert result.exit_code == 2 and "not both" in result.output


def test_missing_data_layout_is_named(tiny_bundle: Path, tmp_path: Path) -> None:
    (tmp_path / "images" / "test" / "normal").mkdir(parents=True)
    with pytest.raises(BenchError, match="defective"):
        run_bench(load_bundle(tiny_bundle), BenchSettings(backends=("onnxruntime",), runs=1, data=tmp_path))


def test_stream_reports_stages_and_ratio(tiny_bundle: Path, line_video: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["bench", "--model", str(tiny_bundle), "--backends", "onnxruntime",
                                       "--precisions", "fp32", "--runs", "5", "--stream", str(line_video),
                                       "--serve", "--rounds", "2", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output + repr(result.exception)
    stream = read_report(tmp_path / "report.json").stream
    # Without and with the --serve monitor and one watching client (its own process): nothing lost, the client was fed.
    monitor = stream["monitor"]
    assert monitor["decisions_lost"] == 0 and monitor["decisions_lost_without"] == 0
    assert monitor["rounds"] == 2 and len(monitor["runs"]["with"]["fps"]) == 2
    assert set(monitor["cores"]) == {"line", "monitor", "client"} and min(monitor["cores"].values()) >= 0
    assert all(run[path] > 0 for run in monitor["runs"]["with"]["client_bytes"] for path in ("stream.mjpg", "events", "api/state"))
    assert monitor["fps_ratio"] == pytest.approx(monitor["with"]["fps"] / monitor["without"]["fps"])
    assert stream["status"] == "ok" and stream["backend"] == "onnxruntime"
    # every-frame mode on a file: one decision per frame, none lost; every third frame is defective.
    assert stream["frames"] == 30 and stream["decisions"] == 30 and stream["faults"] == 0 and stream["dropped"] == 0
    assert set(stream["stages_ms"]) == {"capture", "preprocess", "inference", "postprocess", "sink"}
    assert all(stage["n"] > 0 for stage in stream["stages_ms"].values())
    assert stream["frame_to_decision_ms"]["p50"] <= stream["frame_to_decision_ms"]["p99"]
    assert stream["fps"] > 0 and stream["fps_over_throughput"] > 0 and stream["p99_over_p50"] >= 1.0
    assert stream["frame_to_decision_ms"]["n"] == 30  # one latency per decided frame
    ratio = stream["frame_to_decision_ms"]["p99"] / stream["frame_to_decision_ms"]["p50"]
    assert stream["p99_over_p50"] == pytest.approx(ratio, rel=1e-2)
    assert "## Stream" in (tmp_path / "report.md").read_text()
    # 1, 2 and 4 copies of the video on one line: every frame of every camera decided, none lost.
    assert [row["cameras"] for row in stream["cameras"]] == [1, 2, 4]
    for row in stream["cameras"]:
        assert row["frames_read"] == 30 * row["cameras"] == row["decisions"] and row["decisions_lost"] == 0
        assert len(row["per_camera_fps"]) == row["cameras"]
        assert sum(int(size) * n for size, n in row["batches"].items()) == 30 * row["cameras"] - row["faults"]
    assert "### Several cameras on one line" in (tmp_path / "report.md").read_text()
    # four copies in one `gainctl run` against four processes: every frame decided, in order, in each round.
    processes = stream["processes"]
    assert processes["sources"] == 4 and processes["one_process_fps"] > 0 and processes["processes_fps"] > 0
    for kind, count in (("one_process", 1), ("processes", 4)):
        assert len(processes["runs"][kind]) == processes["rounds"]
        for run in processes["runs"][kind]:
            assert run["processes"] == count and run["frames_read"] == run["decisions"] == 4 * 30
            assert run["decisions_lost"] == 0 and run["in_order"]
    assert processes["ratio"] == pytest.approx(processes["one_process_fps"] / processes["processes_fps"])
    assert "### 4 sources: one process against 4 processes" in (tmp_path / "report.md").read_text()


def test_robustness_rows_match_the_perturbed_frames_run_by_hand(tiny_bundle: Path, test_split: Path, tmp_path: Path) -> None:
    """``--robustness`` re-runs each row on perturbed test frames; one perturbation checked by hand."""
    import cv2

    from edge.bench.accuracy import load_test_split, prepare_frame
    from edge.bench.robustness import PERTURBATIONS
    from edge.decision import flagged

    out = tmp_path / "report"
    result = CliRunner().invoke(main, ["bench", "--model", str(tiny_bundle), "--backends", "onnxruntime",
                                       "--precisions", "fp32", "--runs", "2", "--data", str(test_split),
                                       "--robustness", "--out", str(out)])
    assert result.exit_code == 0, result.output + repr(result.exception)
    row = read_report(out / "report.json").row("onnxruntime", "fp32", 1)
    assert list(row.robustness["perturbations"]) == list(PERTURBATIONS)
    bundle = load_bundle(tiny_bundle)
    spec = bundle.spec.input
    split = load_test_split(test_split, spec.height, spec.width, spec.channel_order)
    threshold = bundle.threshold("fp32", "onnx")
    with open_runner(bundle, "onnxruntime", "fp32") as runner:
        def flags(images):
            return flagged(np.concatenate([runner.infer({"image": images[i:i + 1]})["defect_prob"].reshape(-1)
                                           for i in range(len(images))]), threshold)

        darker = PERTURBATIONS["brightness-15%"]  # on the stored image, then the edge's resize
        dark_inputs = np.stack([prepare_frame(darker(cv2.imread(str(path))), spec.width, spec.height, spec.channel_order)
                                for path in split.paths])
        clean, dark = flags(split.images), flags(dark_inputs)
    assert row.robustness["perturbations"]["brightness-15%"]["flips"] == int(np.sum(clean != dark))
    assert "## Robustness to the camera (test split)" in (out / "report.md").read_text()
    missing = CliRunner().invoke(main, ["bench", "--model", str(tiny_bundle), "--robustness", "--out", str(tmp_path / "o")])
    assert missing.exit_code == 2 and "--robustness measures on a test split: give --data DIR too" in missing.output
