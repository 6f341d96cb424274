"""The line on a camera's MJPG video decides what it decides on the PNGs of the same parts.

A real video through OpenCV and `gainctl run`, against the same bundle on the PNG test folder
(each event names its file, so parts are matched by name, not by position). The video's JPEG
(OpenCV's MJPG, quality 95) moves each score a little; a wrong colour order, crop or resize on the
video path would move them a lot. So the scores must stay close, and the decisions must agree
within the export's robustness tolerance (0.97) over the parts that do not sit on the threshold:
this test's model trains for seconds, and a part whose score lies within a hair of the threshold
flips under any compression (measured: 0.0001 from it), which says nothing about the line.
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

# How far a quality-95 JPEG may move a score: measured 0.012 at the median, 0.06 at most.
MEDIAN_SCORE_CHANGE, MAX_SCORE_CHANGE = 0.03, 0.15
# Parts whose PNG score lies this close to the threshold are left out of the agreement count.
ON_THE_THRESHOLD = 0.02


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
    png_score = {e["file"]: e["score"] for e in from_png}
    change = sorted(abs(png_score[part] - e["score"]) for part, e in zip(parts, from_video))
    assert change[len(change) // 2] <= MEDIAN_SCORE_CHANGE and change[-1] <= MAX_SCORE_CHANGE, change
    threshold = from_video[0]["threshold"]
    counted = [(part, e) for part, e in zip(parts, from_video) if abs(png_score[part] - threshold) > ON_THE_THRESHOLD]
    assert len(counted) >= 0.8 * len(parts), "the model's scores crowd the threshold: the check would count too few parts"
    same = sum(by_file[part] == e["decision"] for part, e in counted)
    assert same / len(counted) >= DEFAULT_MIN_AGREEMENT, f"{len(counted) - same} of {len(counted)} parts differ"
    assert not any(e["decision"] == "fault" for e in from_video + from_png)
    spec = json.loads((int8_bundle / "bundle.json").read_text())
    assert all(e["threshold"] == spec["thresholds"]["int8"]["openvino"] for e in from_video)
