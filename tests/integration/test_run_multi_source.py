"""`gainctl run` with several sources: one model, each station's decisions in order and named."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from edge.cli.run import station_names
from gain_mtl.cli import main
from tests.helpers.tiny_bundle import build_tiny_bundle, write_video

REPO = Path(__file__).resolve().parents[2]

FRAMES = 20


@pytest.fixture(scope="module")
def bundle_and_videos(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path, list, list]:
    root = tmp_path_factory.mktemp("run_multi")
    bundle = build_tiny_bundle(root / "bundle")
    top = write_video(root / "top.avi", FRAMES)
    side = write_video(root / "side.avi", FRAMES // 2)
    return bundle, root / "top.avi", root / "side.avi", top, side


@pytest.mark.parametrize("backend", ["openvino", "onnxruntime"])
def test_several_sources_share_one_model_and_keep_each_station_s_order(bundle_and_videos, tmp_path: Path,
                                                                      backend: str) -> None:
    bundle, top, side, top_labels, side_labels = bundle_and_videos
    journal = tmp_path / "journal.jsonl"
    result = CliRunner().invoke(main, ["run", "--model", str(bundle), "--source", str(top), "--source", str(side),
                                       "--backend", backend, "--sink", f"journal:{journal}",
                                       "--save-rejects", str(tmp_path / "rejects")])
    assert result.exit_code == 0, result.output
    assert "top: video file" in result.output and "side: video file" in result.output
    if backend == "openvino":  # several stations: an inference per core, their frames side by side
        assert "THROUGHPUT hint, " in result.output
    events = [json.loads(line) for line in journal.read_text().splitlines()]
    for station, labels in (("top", top_labels), ("side", side_labels)):
        decisions = [e for e in events if e["kind"] == "decision" and e["station"] == station]
        assert [e["frame"] for e in decisions] == list(range(len(labels)))
        assert [e["decision"] for e in decisions] == ["reject" if label else "accept" for label in labels]
    summary = events[-1]
    assert summary["reason"] == "summary" and summary["detail"]["frames"] == FRAMES + FRAMES // 2
    assert set(summary["detail"]["stations"]) == {"top", "side"}
    saved = sorted(p.name for p in (tmp_path / "rejects").glob("*-overlay.png"))
    assert any("-top-" in name for name in saved) and any("-side-" in name for name in saved)


def test_a_single_source_s_events_name_no_station(bundle_and_videos, tmp_path: Path) -> None:
    bundle, top, _, _, _ = bundle_and_videos
    journal = tmp_path / "journal.jsonl"
    result = CliRunner().invoke(main, ["run", "--model", str(bundle), "--source", str(top), "--backend", "openvino",
                                       "--sink", f"journal:{journal}"])
    assert result.exit_code == 0, result.output
    assert "LATENCY hint, 1 job(s)" in result.output  # one station: one inference on every core
    events = [json.loads(line) for line in journal.read_text().splitlines()]
    assert not any("station" in e for e in events) and "stations" not in events[-1]["detail"]


def test_no_source_and_a_second_source_that_does_not_open_are_refused(bundle_and_videos, tmp_path: Path) -> None:
    bundle, top, _, _, _ = bundle_and_videos
    result = CliRunner().invoke(main, ["run", "--model", str(bundle)])
    assert result.exit_code == 2 and "give --camera N or --source S" in result.output
    result = CliRunner().invoke(main, ["run", "--model", str(bundle), "--source", str(top), "--source", str(tmp_path / "no.avi")])
    assert result.exit_code == 2 and "no.avi: no such file" in result.output


def test_station_names_follow_cameras_then_sources_and_never_repeat() -> None:
    assert station_names([0, 2], ["a.mp4", "rtsp://cam/line/stream?x=1", "dir/a.mp4"]) == [
        "camera-0", "camera-2", "a", "stream", "a-2"]
    assert station_names([], ["rtsp://admin:s3cret@10.0.0.5", "rtsp://admin:p@ss@cam/a b", "../../x.mp4"]) == [
        "10.0.0", "a_b", "x"]


def test_a_stream_s_login_shows_in_no_name_event_file_or_monitor_answer(bundle_and_videos, tmp_path: Path) -> None:
    pytest.importorskip("starlette", reason="the monitor extra is not installed")
    bundle, top, side, _, _ = bundle_and_videos
    journal, rejects, served = tmp_path / "journal.jsonl", tmp_path / "rejects", tmp_path / "served.json"
    result = subprocess.run([sys.executable, "-c", LOGIN_PROBE, str(top), str(served), "run", "--model", str(bundle),
                             "--source", "rtsp://admin:s3cret@10.0.0.5:554/live", "--source", str(side), "--max-frames", "8",
                             "--sink", f"journal:{journal}", "--save-rejects", str(rejects), "--serve", "127.0.0.1:0"],
                            env=dict(os.environ, PYTHONPATH=str(REPO)), capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    answers = json.loads(served.read_text())
    assert "live: stream rtsp://***@10.0.0.5:554/live" in result.stderr
    assert json.loads(answers["api/state"])["info"]["source"].startswith("live: stream rtsp://***@10.0.0.5:554/live")
    assert 'source="live: stream rtsp://***@10.0.0.5:554/live' in answers["metrics"]
    events = journal.read_text()
    assert '"station":"live"' in events and any("-live-" in p.name for p in rejects.iterdir())
    for text in [result.stderr, result.stdout, events, *answers.values(), *(p.name for p in rejects.iterdir())]:
        assert "s3cret" not in text and "admin" not in text


# The run, with the stream played from a video (no camera here) and the monitor's answers kept at its close.
LOGIN_PROBE = """
import json, sys, urllib.request
import edge.sources
from edge.monitor import Monitor
from gain_mtl.cli import main

video, out = sys.argv[1:3]
opener, close, served = edge.sources._capture_opener, Monitor.close, {}
edge.sources._capture_opener = lambda target, api: opener(video if target.startswith("rtsp") else target, "CAP_ANY")

def read_then_close(monitor):
    for path in ("api/state", "metrics"):
        served[path] = urllib.request.urlopen(monitor.url() + path, timeout=10).read().decode()
    close(monitor)

Monitor.close = read_then_close
try:
    main(sys.argv[3:])
finally:
    open(out, "w").write(json.dumps(served))
"""



def test_a_line_file_gives_each_station_its_own_sinks_and_deadline(bundle_and_videos, tmp_path: Path) -> None:
    bundle, top, side, top_labels, side_labels = bundle_and_videos
    line = tmp_path / "line.toml"
    line.write_text(f'[[station]]\nname = "upper"\nsource = "{top}"\nsinks = ["journal:{tmp_path / "upper.jsonl"}"]\n'
                    f'deadline_ms = 60000\n\n[[station]]\nname = "lower"\nsource = "{side}"\n'
                    f'sinks = ["journal:{tmp_path / "lower.jsonl"}"]\n', encoding="utf-8")
    result = CliRunner().invoke(main, ["run", "--model", str(bundle), "--line", str(line),
                                       "--sink", f"journal:{tmp_path / 'all.jsonl'}"])
    assert result.exit_code == 0, result.output
    assert "upper: video file" in result.output and "lower: video file" in result.output
    everything = [json.loads(row) for row in (tmp_path / "all.jsonl").read_text().splitlines()]
    for station, labels in (("upper", top_labels), ("lower", side_labels)):
        own = [json.loads(row) for row in (tmp_path / f"{station}.jsonl").read_text().splitlines()]
        decisions = [e for e in own if e["kind"] == "decision"]
        assert {e["station"] for e in decisions} == {station}
        assert [e["frame"] for e in decisions] == list(range(len(labels)))
        assert decisions == [e for e in everything if e["kind"] == "decision" and e["station"] == station]


def test_a_line_file_is_refused_with_the_options_it_replaces_and_when_bad(bundle_and_videos, tmp_path: Path) -> None:
    bundle, top, _, _, _ = bundle_and_videos
    line = tmp_path / "line.toml"
    line.write_text(f'[[station]]\nname = "upper"\nsource = "{top}"\nfps = "fast"\n', encoding="utf-8")
    result = CliRunner().invoke(main, ["run", "--model", str(bundle), "--line", str(line)])
    assert result.exit_code == 2 and f"line file {line}, station 'upper': key 'fps' must be int or float" in result.output
    result = CliRunner().invoke(main, ["run", "--model", str(bundle), "--line", str(line), "--source", str(top)])
    assert result.exit_code == 2 and "either --line FILE or --camera/--source" in result.output
