"""The line on a camera's MJPG video decides what it decides on the PNGs of the same parts.

A real video through OpenCV and `gainctl run`, against the same bundle on the PNG test folder
(each event names its file, so parts are matched by name, not by position): the decisions agree
within the export's robustness tolerance (0.97), and each agrees with what the bundle says.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from edge.bench.robustness import DEFAULT_MIN_AGREEMENT
from gain_mtl.cli import main
from gain_mtl.demo import journal_decisions, write_line_video

pytestmark = pytest.mark.slow


def _run(bundle: Path, source: Path, journal: Path, *extra: str) -> list[dict]:
    result = CliRunner().invoke(main, ["run", "--model", str(bundle), "--source", str(source), "--backend", "openvino",
                                       "--sink", f"journal:{journal}", *extra])
    assert result.exit_code == 0, result.output + repr(result.exception)
    assert "openvino/int8 model-int8.xml" in result.output  # no --precision: the fastest gated model
    return journal_decisions(journal)


def test_mjpg_video_decisions_match_the_png_decisions_of_the_same_parts(int8_bundle, export_data, tmp_path):
    video = tmp_path / "line.avi"
    parts = write_line_video(export_data, video, size=64)
    from_video = _run(int8_bundle, video, tmp_path / "video.jsonl")
    from_png = _run(int8_bundle, export_data / "images" / "test", tmp_path / "png.jsonl", "--recursive")
    assert len(from_video) == len(from_png) == len(parts)
    by_file = {e["file"]: e["decision"] for e in from_png}
    assert set(by_file) == set(parts)
    same = sum(by_file[part] == e["decision"] for part, e in zip(parts, from_video))
    assert same / len(parts) >= DEFAULT_MIN_AGREEMENT, f"{len(parts) - same} of {len(parts)} parts differ"
    assert not any(e["decision"] == "fault" for e in from_video + from_png)
    spec = json.loads((int8_bundle / "bundle.json").read_text())
    assert all(e["threshold"] == spec["thresholds"]["int8"]["openvino"] for e in from_video)
