"""`gainctl run` on a video file with known defective frames equals offline decisions, per backend."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from edge.backends import open_runner, select
from edge.bundle import load_bundle
from edge.decision import decide
from edge.preprocess import resize_frame
from gain_mtl.cli import main
from tests.helpers.tiny_bundle import build_tiny_bundle, write_video

FRAMES = 25


@pytest.fixture(scope="module")
def bundle_and_video(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, list]:
    root = tmp_path_factory.mktemp("run_video")
    bundle = build_tiny_bundle(root / "bundle")
    labels = write_video(root / "line.avi", FRAMES)
    return bundle, root / "line.avi", labels


def offline_decisions(bundle_dir: Path, video: Path, backend: str) -> list[str]:
    bundle = load_bundle(bundle_dir)
    spec = bundle.spec.input
    cap = cv2.VideoCapture(str(video))
    decisions = []
    with open_runner(bundle, backend) as runner:
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            out = runner.infer({"image": resize_frame(frame, spec.width, spec.height)[None]})
            decisions.append(decide(out, select(bundle, backend, "fp32").threshold, (frame.shape[1], frame.shape[0])).decision)
    cap.release()
    return decisions


@pytest.mark.parametrize("backend", ["openvino", "onnxruntime"])
def test_run_equals_offline_decisions(bundle_and_video, tmp_path: Path, backend: str) -> None:
    bundle, video, labels = bundle_and_video
    journal = tmp_path / "journal.jsonl"
    result = CliRunner().invoke(main, ["run", "--model", str(bundle), "--source", str(video), "--backend", backend,
                                       "--sink", f"journal:{journal}", "--save-rejects", str(tmp_path / "rejects")])
    assert result.exit_code == 0, result.output
    events = [json.loads(line) for line in journal.read_text().splitlines()]
    decisions = [e for e in events if e["kind"] == "decision"]
    assert [e["frame"] for e in decisions] == list(range(FRAMES))
    online = [e["decision"] for e in decisions]
    assert online == offline_decisions(bundle, video, backend)
    assert online == ["reject" if label else "accept" for label in labels]
    for e in decisions:
        assert {"frame", "ts_capture", "ts_decision", "decision", "score", "threshold", "latency_ms"} <= set(e)
        assert e["ts_decision"] >= e["ts_capture"]
        assert ("regions" in e) == (e["decision"] == "reject")
    summary = [e for e in events if e.get("reason") == "summary"][0]["detail"]
    assert summary["frames"] == FRAMES and summary["rejects"] == sum(labels)
    assert set(summary["latency_ms"]) == {"p50", "p90", "p99"}
    assert len(list((tmp_path / "rejects").glob("*-overlay.png"))) == sum(labels)
    assert "summary: frames=25" in result.output


def _run_bundle_exported_with(video: Path, tmp_path: Path, **spec_fields) -> tuple[str, list[dict]]:
    """``gainctl run`` on a tiny bundle exported with ``spec_fields``; its output and rejects."""
    bundle = build_tiny_bundle(tmp_path / "bundle", openvino=False, **spec_fields)
    journal = tmp_path / "journal.jsonl"
    result = CliRunner().invoke(main, ["run", "--model", str(bundle), "--source", str(video), "--backend", "onnxruntime",
                                       "--sink", f"journal:{journal}"])
    assert result.exit_code == 0, result.output
    return result.output, [json.loads(line) for line in journal.read_text().splitlines() if '"reject"' in line]


def test_regions_come_from_the_bundles_localization_threshold(bundle_and_video, tmp_path: Path) -> None:
    # The tiny model's map peaks at ~0.998 on a defect: a bundle whose threshold is above that
    # still rejects every defective frame, and no reject carries a region.
    _, video, labels = bundle_and_video
    output, rejects = _run_bundle_exported_with(video, tmp_path, localization_threshold=0.999)
    assert "regions at localization >= 0.999" in output
    assert len(rejects) == sum(labels) and all(e["regions"] == [] for e in rejects)


def test_a_bundle_without_trained_localization_rejects_without_regions(bundle_and_video, tmp_path: Path) -> None:
    _, video, labels = bundle_and_video
    output, rejects = _run_bundle_exported_with(video, tmp_path, strategy="S1", localization_threshold=None)
    assert "no regions: strategy S1 did not train the localization head" in output
    assert len(rejects) == sum(labels) and not any("regions" in e for e in rejects)
