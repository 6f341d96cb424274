"""A line of several stations on one runner: order per station, batching, a lost camera, names."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import List

import numpy as np
import pytest

from edge.backends import open_runner
from edge.backends.base import Runner
from edge.events import Event
from edge.pipeline import Line, StationSpec
from edge.pipeline.intake import Pending
from edge.pipeline.scheduler import Scheduler
from edge.sources import CaptureSource, Frame
from tests.helpers.tiny_bundle import SyntheticCamera, defective_at, synth_frame
from tests.unit.edge.fakes import ScriptedRunner
from tests.unit.edge.test_pipeline import _source
from tests.unit.edge.test_pipeline_faults import ListSink


def _decisions(sink: ListSink, station: str) -> List[Event]:
    return [e for e in sink.decisions() if e.station == station]


def _camera(cam: SyntheticCamera, live: bool = True, fps: float = 0.0) -> CaptureSource:
    return _source(cam, live, fps)


@pytest.fixture()
def runner(tiny_bundle_dir: Path):
    with open_runner(tiny_bundle_dir, "openvino", jobs=1) as r:
        yield r


def test_every_station_gets_each_frame_decided_once_in_order_and_frames_are_batched(runner: Runner) -> None:
    sink = ListSink()
    names = ("top", "side", "lane-3")
    line = Line([StationSpec(_camera(SyntheticCamera(40, fps=100.0), fps=100.0), name) for name in names],
                runner, 0.5, [sink])
    summary = line.run()
    for name in names:
        decisions = _decisions(sink, name)
        assert [e.frame for e in decisions] == list(range(40))
        assert [e.decision == "reject" for e in decisions] == [defective_at(i) for i in range(40)]
        assert summary.stations[name].frames == 40 and summary.stations[name].faults == 0
    assert summary.frames == 120 and summary.faults == 0
    assert sum(size * count for size, count in summary.batches.items()) == 120
    assert max(summary.batches) > 1                                  # frames that came together went together
    final = [e for e in sink.events if e.kind == "status"][-1]
    assert final.reason == "summary" and set(final.detail["stations"]) == set(names)


def test_a_lost_camera_faults_its_own_slots_and_does_not_stall_the_others(runner: Runner) -> None:
    sink = ListSink()
    lost = SyntheticCamera(10_000, fps=50.0, outages={5: 60.0})      # unplugged after 5 frames, for good
    good = SyntheticCamera(60, fps=50.0)
    line = Line([StationSpec(_camera(lost, fps=50.0), "lost"), StationSpec(_camera(good, fps=50.0), "good")],
                runner, 0.5, [sink], run_id="r")
    done = threading.Event()
    good_source = line.stations[1].source
    stop_good = good_source.stop
    good.on_exhausted = lambda: (stop_good(), done.set())
    threading.Thread(target=lambda: (done.wait(10), time.sleep(0.3), line.stop()), daemon=True).start()
    summary = line.run()
    ok = _decisions(sink, "good")
    assert [e.frame for e in ok] == list(range(60)) and all(e.decision != "fault" for e in ok)
    assert max(e.latency_ms for e in ok) < 1000.0                    # never waited on the lost camera
    gone = _decisions(sink, "lost")
    assert [e.frame for e in gone] == list(range(len(gone)))
    assert sum(e.decision != "fault" for e in gone) == 5
    assert {e.reason for e in gone[5:]} == {"source_lost"} and len(gone) > 10
    statuses = [(e.station, e.reason) for e in sink.events if e.kind == "status"]
    assert ("lost", "source_lost") in statuses and ("good", "source_lost") not in statuses
    assert summary.stations["lost"].fault_reasons == {"source_lost": len(gone) - 5}


def test_stations_of_a_line_need_names_of_their_own(runner: Runner) -> None:
    with pytest.raises(ValueError, match="name of its own"):
        Line([StationSpec(_camera(SyntheticCamera(1)), "a"), StationSpec(_camera(SyntheticCamera(1)), "a")], runner, 0.5, [])
    with pytest.raises(ValueError, match="station b"):
        Line([StationSpec(_camera(SyntheticCamera(1)), "a"), StationSpec(_camera(SyntheticCamera(1)), "b", deadline_ms=-1)],
             runner, 0.5, [])


def test_a_station_s_own_sinks_hear_only_that_station(runner: Runner) -> None:
    shared, own = ListSink(), ListSink()
    line = Line([StationSpec(_camera(SyntheticCamera(8), live=False), "a", sinks=[own]),
                 StationSpec(_camera(SyntheticCamera(6), live=False), "b")], runner, 0.5, [shared])
    line.run()
    assert len(_decisions(shared, "a")) == 8 and len(_decisions(shared, "b")) == 6
    assert len(_decisions(own, "a")) == 8 and not _decisions(own, "b")


def test_a_line_of_more_stations_than_the_runner_s_batch_batches_no_more_than_it_takes() -> None:
    runner = ScriptedRunner()
    runner.max_batch = 2  # a TensorRT engine built for batches 1..2
    sink = ListSink()
    line = Line([StationSpec(_camera(SyntheticCamera(4), live=False), f"s{i}") for i in range(5)], runner, 0.5, [sink])
    with runner:
        summary = line.run()
        with pytest.raises(ValueError, match="batch 3 exceeds the model's max_batch 2"):
            runner.infer({runner.input_spec.name: np.zeros(runner.input_spec.shape(3), np.uint8)})
    assert line.scheduler.max_batch == 2 and max(summary.batches) <= 2
    assert all(len(_decisions(sink, f"s{i}")) == 4 for i in range(5))


def test_frames_that_come_together_are_spread_over_the_runner_s_jobs() -> None:
    """Four cameras on a runner with two jobs: two inferences of two frames each, both jobs busy at
    once, rather than one of four while the other job idles."""
    runner = ScriptedRunner(delay_s=0.02)
    runner.jobs = 2
    sink = ListSink()
    line = Line([StationSpec(_camera(SyntheticCamera(6), live=False), f"s{i}") for i in range(4)], runner, 0.5, [sink])
    with runner:
        summary = line.run()
    assert line.scheduler.max_batch == 2 and max(summary.batches) == 2
    assert sum(size * count for size, count in summary.batches.items()) == 24
    assert all([e.frame for e in _decisions(sink, f"s{i}")] == list(range(6)) for i in range(4))


def test_the_batch_wait_never_runs_past_a_deadline() -> None:
    runner = ScriptedRunner()
    scheduler = Scheduler(runner, intake=None, watchdog=None, max_batch=4, batch_wait_s=100.0)  # type: ignore[arg-type]

    class Lane:
        deadline_s = 10.0

    pending = Pending(Frame(0, time.time(), time.monotonic(), synth_frame(False)), Lane())
    fed = [(pending, None)]
    deadline = pending.frame.t_capture + 10.0
    now = time.monotonic()
    room, until = scheduler._top_up(fed)
    assert room == 0 and until <= now + 0.01                             # no estimate yet: no top-up at all
    scheduler.inference_s.update({2: 1.0, 3: 2.0})
    assert scheduler._top_up(fed) == (2, pytest.approx(deadline - 2.0))  # up to 3, as 3 fit
    scheduler.inference_s[4] = 3.0
    assert scheduler._top_up(fed) == (3, pytest.approx(deadline - 3.0))  # up to 4, as 4 fit
    scheduler.inference_s[4] = 11.0
    assert scheduler._top_up(fed) == (2, pytest.approx(deadline - 2.0))  # 4 would not: stops at 3
    scheduler.inference_s[2] = 11.0
    assert scheduler._top_up(fed)[0] == 0                                # not even one more fits
    Lane.deadline_s = None
    room, until = scheduler._top_up(fed)
    assert room == 3 and until == pytest.approx(time.monotonic() + 100.0, abs=0.05)
