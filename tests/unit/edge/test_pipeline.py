"""The pipeline on real runners: ordering, backpressure, deadlines, drops, failing sinks and sources."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import List, Optional

import pytest

from edge.backends import open_runner
from edge.backends.base import Runner
from edge.events import Event
from edge.pipeline import Pipeline
from edge.sinks.base import FrameContext, Sink
from edge.sources import Backoff, CaptureSource
from tests.helpers.tiny_bundle import SlowRunner, SyntheticCamera, defective_at


class ListSink(Sink):
    def __init__(self, delay_s: float = 0.0, fail_every: int = 0) -> None:
        self.name = f"list(delay={delay_s})"
        self.events: List[Event] = []
        self.delay_s, self.fail_every = delay_s, fail_every
        self.closed = False

    def send(self, event: Event, context: Optional[FrameContext] = None) -> None:
        if self.fail_every and event.kind == "decision" and event.frame % self.fail_every == 0:
            raise ConnectionError("down")
        time.sleep(self.delay_s)
        self.events.append(event)

    def decisions(self) -> List[Event]:
        return [e for e in self.events if e.kind == "decision"]

    def statuses(self) -> List[str]:
        return [e.reason for e in self.events if e.kind == "status"]


def _source(cam: SyntheticCamera, live: bool = False, fps: float = 0.0) -> CaptureSource:
    src = CaptureSource(cam.open, "synthetic camera", live=live, fps=fps, backoff=Backoff(0.05, 0.1))
    cam.on_exhausted = src.stop
    return src


@pytest.fixture()
def runner(tiny_bundle_dir: Path):
    with open_runner(tiny_bundle_dir, "openvino", jobs=2) as r:
        yield r


def test_every_frame_with_a_slow_sink_decides_every_frame_in_order(runner: Runner) -> None:
    sink = ListSink(delay_s=0.01)
    summary = Pipeline(_source(SyntheticCamera(40)), runner, 0.5, [sink], queue_size=2).run()
    decisions = sink.decisions()
    assert [e.frame for e in decisions] == list(range(40))
    assert [e.decision == "reject" for e in decisions] == [defective_at(i) for i in range(40)]
    assert summary.frames == 40 and summary.faults == 0 and summary.dropped == 0
    assert summary.rejects == sum(defective_at(i) for i in range(40))
    assert sink.statuses()[-1] == "summary"
    assert all(e.regions for e in decisions if e.decision == "reject")
    assert all(e.regions is None for e in decisions if e.decision == "accept")


def test_regions_are_drawn_at_the_localization_threshold_the_pipeline_is_given(runner: Runner) -> None:
    # The tiny model's map peaks at ~0.998 on a defect: above 0.999 nothing is a region, the verdict stands.
    sink = ListSink()
    Pipeline(_source(SyntheticCamera(10)), runner, 0.5, [sink], localization_threshold=0.999).run()
    rejects = [e for e in sink.decisions() if e.decision == "reject"]
    assert len(rejects) == sum(defective_at(i) for i in range(10)) and all(e.regions == [] for e in rejects)
    with pytest.raises(ValueError, match="localization threshold"):
        Pipeline(_source(SyntheticCamera(1)), runner, 0.5, [sink], localization_threshold=0.0)


def test_live_source_that_outruns_inference_gets_overflow_faults_not_drops(runner: Runner) -> None:
    sink = ListSink(delay_s=0.02)  # ~50 decisions/s against a 400 fps camera
    summary = Pipeline(_source(SyntheticCamera(60, fps=400.0), live=True, fps=400.0), runner, 0.5, [sink],
                       queue_size=1, overflow_wait_s=0.001).run()
    decisions = sink.decisions()
    assert [e.frame for e in decisions] == list(range(60))
    assert summary.fault_reasons.get("overflow", 0) > 0
    assert summary.frames == 60 and summary.dropped == 0


def test_deadline_turns_slow_inference_into_timeouts_never_accepts(tiny_bundle_dir: Path) -> None:
    sink = ListSink()
    with SlowRunner(open_runner(tiny_bundle_dir, "onnxruntime"), delay_s=0.15) as slow:
        summary = Pipeline(_source(SyntheticCamera(12)), slow, 0.5, [sink], deadline_ms=40).run()
    decisions = sink.decisions()
    assert [e.frame for e in decisions] == list(range(12))
    assert all(e.decision == "fault" and e.reason == "timeout" for e in decisions)
    assert summary.accepts == 0 and summary.faults == 12


def test_latest_mode_counts_dropped_frames(tiny_bundle_dir: Path) -> None:
    sink = ListSink()
    with SlowRunner(open_runner(tiny_bundle_dir, "onnxruntime"), delay_s=0.02) as slow:
        summary = Pipeline(_source(SyntheticCamera(60, fps=500.0), live=True, fps=500.0), slow, 0.5, [sink],
                           mode="latest").run()
    frames = [e.frame for e in sink.decisions()]
    assert frames == sorted(frames) and frames[-1] == 59       # newest wins, the last frame is decided
    assert summary.dropped > 0 and summary.frames + summary.dropped == 60


def test_a_failing_sink_becomes_status_events_and_the_run_goes_on(runner: Runner) -> None:
    good, bad = ListSink(), ListSink(fail_every=3)
    summary = Pipeline(_source(SyntheticCamera(20)), runner, 0.5, [bad, good], sink_error_interval_s=0).run()
    assert [e.frame for e in good.decisions()] == list(range(20))
    assert summary.sink_errors == 7
    assert good.statuses().count("sink_error") == 7


def test_source_failing_mid_stream_gives_faults_then_continues(runner: Runner) -> None:
    sink = ListSink()
    cam = SyntheticCamera(30, fps=100.0, outages={12: 0.25})
    summary = Pipeline(_source(cam, live=True, fps=100.0), runner, 0.5, [sink]).run()
    decisions = sink.decisions()
    assert [e.frame for e in decisions] == list(range(len(decisions)))
    lost = [e for e in decisions if e.reason == "source_lost"]
    assert lost and all(e.decision == "fault" for e in lost)
    assert sum(e.decision != "fault" for e in decisions) == 30       # every captured frame decided
    assert decisions[-1].decision != "fault"                         # the run went on after the outage
    statuses = sink.statuses()
    assert statuses.index("source_lost") < statuses.index("source_reconnected")
    assert summary.fault_reasons == {"source_lost": len(lost)}


def test_stop_delivers_everything_already_captured(runner: Runner) -> None:
    sink = ListSink(delay_s=0.005)
    cam = SyntheticCamera(10_000, fps=200.0)
    pipeline = Pipeline(_source(cam, live=True, fps=200.0), runner, 0.5, [sink])
    threading.Timer(0.3, pipeline.stop).start()
    summary = pipeline.run()
    assert 0 < summary.frames < 10_000
    assert [e.frame for e in sink.decisions()] == list(range(summary.frames))
