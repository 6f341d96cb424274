"""The pipeline when things break: every frame still gets one decision, and the run never hangs."""

from __future__ import annotations

import threading
import time
from typing import Any, Callable, Iterator, List, Optional

import numpy as np
import pytest

from edge.events import Event
from edge.pipeline import LatencySample, Pipeline, RunnerUnresponsive, Summary
from edge.sinks.base import FrameContext, Sink
from edge.sources import Backoff, CaptureSource, Frame, Source, StatusFn, ignore_status
from tests.helpers.tiny_bundle import SyntheticCamera, synth_frame
from tests.unit.edge.fakes import ListCapture, ScriptedRunner

# Far longer than any of these runs takes when it works: reaching it means the run hung.
HANG_S = 8.0


class ListSink(Sink):
    name = "list"

    def __init__(self) -> None:
        self.events: List[Event] = []

    def send(self, event: Event, context: Optional[FrameContext] = None) -> None:
        self.events.append(event)

    def decisions(self) -> List[Event]:
        return [e for e in self.events if e.kind == "decision"]

    def statuses(self) -> List[str]:
        return [e.reason for e in self.events if e.kind == "status"]


def _run(pipeline: Pipeline) -> Summary:
    """``pipeline.run()``, failing the test instead of hanging it; re-raises what run raised."""
    result: dict = {}

    def target() -> None:
        try:
            result["summary"] = pipeline.run()
        except BaseException as exc:
            result["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(HANG_S)
    assert not thread.is_alive(), f"the run hung (still running after {HANG_S} s)"
    if "error" in result:
        raise result["error"]
    return result["summary"]


def _file(images: List[Any]) -> CaptureSource:
    source = CaptureSource(lambda: ListCapture(images), "listed frames", live=False)
    source.open()
    return source


def _frames(n: int) -> List[np.ndarray]:
    return [synth_frame(False, seed=i) for i in range(n)]


def test_outputs_that_cannot_be_read_are_a_fault_not_a_hang() -> None:
    sink = ListSink()
    runner = ScriptedRunner(incomplete={2})
    runner.activate()
    summary = _run(Pipeline(_file(_frames(6)), runner, 0.5, [sink]))
    decisions = sink.decisions()
    assert [e.frame for e in decisions] == list(range(6))
    assert [e.decision for e in decisions] == ["accept"] * 2 + ["fault"] + ["accept"] * 3
    assert decisions[2].reason == "inference_error"
    assert "inference_error" in sink.statuses()
    assert summary.fault_reasons == {"inference_error": 1}
    runner.deactivate()


def test_empty_frame_is_an_unreadable_fault_and_the_run_goes_on() -> None:
    sink = ListSink()
    images = _frames(4)
    images.insert(1, np.zeros((0, 0, 3), np.uint8))
    runner = ScriptedRunner()
    runner.activate()
    summary = _run(Pipeline(_file(images), runner, 0.5, [sink]))
    decisions = sink.decisions()
    assert [e.frame for e in decisions] == list(range(5))
    assert [(e.decision, e.reason) for e in decisions][:2] == [("accept", None), ("fault", "unreadable")]
    assert all(e.decision == "accept" for e in decisions[2:])
    assert "unreadable_frame" in sink.statuses()
    assert summary.frames == 5 and summary.fault_reasons == {"unreadable": 1}
    runner.deactivate()


def test_a_result_that_never_comes_back_is_a_fault_and_ends_the_run() -> None:
    sink = ListSink()
    runner = ScriptedRunner(lose={2})  # call 2 is never answered (deliberately never deactivated)
    runner.activate()
    pipeline = Pipeline(_file(_frames(6)), runner, 0.5, [sink], inference_timeout_s=0.3)
    started = time.monotonic()
    with pytest.raises(RunnerUnresponsive, match="answered nothing within 0.3 s"):
        _run(pipeline)
    assert time.monotonic() - started < 3.0
    decisions = sink.decisions()
    assert [e.frame for e in decisions] == list(range(6))               # every captured frame decided
    assert [e.decision for e in decisions[:2]] == ["accept", "accept"]
    assert all(e.decision == "fault" and e.reason == "inference_timeout" for e in decisions[2:])
    statuses = sink.statuses()
    assert "inference_timeout" in statuses and statuses[-1] == "summary"


def test_a_runner_that_hangs_ends_the_run_even_with_a_deadline() -> None:
    """Every frame meets its deadline as a timeout; the frame that finds no free job ends the run."""
    sink = ListSink()
    hang = threading.Event()
    runner = ScriptedRunner(hang=hang)
    runner.activate()
    pipeline = Pipeline(_file(_frames(5)), runner, 0.5, [sink], deadline_ms=50, inference_timeout_s=0.3)
    try:
        with pytest.raises(RunnerUnresponsive):
            _run(pipeline)
    finally:
        hang.set()
    decisions = sink.decisions()
    assert [e.frame for e in decisions] == list(range(5))
    assert all(e.decision == "fault" for e in decisions)
    assert "inference_timeout" in sink.statuses()
    runner.deactivate()


def test_a_camera_that_raises_is_reconnected_like_one_that_fails() -> None:
    cam = SyntheticCamera(20, fps=100.0)
    opens = {"count": 0}

    def opener() -> Any:
        """The first reopen raises; the first handle's read raises at frame 8."""
        opens["count"] += 1
        if opens["count"] == 2:
            raise OSError("device busy")
        handle = cam.open()
        read = handle.read

        def read_or_raise() -> tuple:
            if opens["count"] == 1 and cam.produced == 8:
                raise RuntimeError("driver fault")
            return read()

        handle.read = read_or_raise
        return handle

    source = CaptureSource(opener, "raising camera", live=True, fps=100.0, backoff=Backoff(0.02, 0.05))
    cam.on_exhausted = source.stop
    source.open()
    sink = ListSink()
    runner = ScriptedRunner()
    runner.activate()
    summary = _run(Pipeline(source, runner, 0.5, [sink]))
    decisions = sink.decisions()
    assert [e.frame for e in decisions] == list(range(len(decisions)))
    assert sum(e.decision == "accept" for e in decisions) == 20           # every captured frame inspected
    lost = [e for e in decisions if e.decision == "fault"]
    assert lost and all(e.reason == "source_lost" for e in lost)
    statuses = sink.statuses()
    assert statuses.count("source_error") == 2                            # the read and the reopen
    assert statuses.index("source_lost") < statuses.index("source_reconnected")
    assert summary.fault_reasons == {"source_lost": len(lost)}
    runner.deactivate()


class _BrokenSource(Source):
    """Yields three frames, the third while the first two are still being inferred, then raises."""

    name = "broken source"
    live = True

    def __init__(self, runner: ScriptedRunner) -> None:
        super().__init__()
        self.runner = runner

    def frames(self, report: StatusFn = ignore_status) -> Iterator[Frame]:
        yield self._frame(0)
        self._until(lambda: self.runner.infers == 1)   # frame 0 is in the runner
        yield self._frame(1)
        time.sleep(0.05)                               # frame 1 is taken and waits for the job
        yield self._frame(2)
        raise RuntimeError("driver bug")

    @staticmethod
    def _frame(i: int) -> Frame:
        return Frame(i, time.time(), time.monotonic(), synth_frame(False, seed=i))

    @staticmethod
    def _until(condition: Callable[[], bool]) -> None:
        deadline = time.monotonic() + HANG_S
        while not condition() and time.monotonic() < deadline:
            time.sleep(0.002)


def test_latest_mode_decides_captured_frames_after_a_capture_error() -> None:
    sink = ListSink()
    runner = ScriptedRunner(delay_s=0.3)
    runner.activate()
    with pytest.raises(RuntimeError, match="driver bug"):
        _run(Pipeline(_BrokenSource(runner), runner, 0.5, [sink], mode="latest"))
    assert [(e.frame, e.decision) for e in sink.decisions()] == [(0, "accept"), (1, "accept"), (2, "accept")]
    assert sink.statuses()[-1] == "summary"
    runner.deactivate()


def test_latency_summary_keeps_a_bounded_sample(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("edge.pipeline.stats.LATENCY_SAMPLE_SIZE", 5)
    sink = ListSink()
    runner = ScriptedRunner()
    runner.activate()
    summary = _run(Pipeline(_file(_frames(12)), runner, 0.5, [sink]))
    runner.deactivate()
    assert summary.accepts == 12 and summary.latency_samples == 5
    assert set(summary.latency_ms) == {"p50", "p90", "p99"}
    assert min(e.latency_ms for e in sink.decisions()) <= summary.latency_ms["p50"]


def test_latency_sample_is_exact_for_short_runs_and_uniform_for_long_ones() -> None:
    short = LatencySample(100)
    for v in range(50):
        short.add(float(v))
    assert short.percentiles() == {f"p{q}": round(float(np.percentile(np.arange(50.0), q)), 3) for q in (50, 90, 99)}
    long = LatencySample(2000)
    for v in range(200_000):
        long.add(float(v))
    assert len(long.values) == 2000 and long.seen == 200_000
    estimate = long.percentiles()
    for q in (50, 90, 99):
        assert estimate[f"p{q}"] == pytest.approx(q / 100 * 200_000, rel=0.05)  # the whole run, not its end
