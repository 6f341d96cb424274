"""The monitor's store: the event ring, counters, the last-minute window and the health rules."""

from __future__ import annotations

import pytest

from edge.events import Event, Region, status
from edge.monitor.state import REJECTS_SHOWN, EventRing, MonitorState


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def decision(frame: int, kind: str, latency_ms: float = 5.0, reason: str | None = None) -> Event:
    return Event(kind="decision", frame=frame, decision=kind, score=0.9 if kind == "reject" else 0.1, threshold=0.5,
                 latency_ms=latency_ms, reason=reason, regions=[Region(1, 2, 3, 4, 12, 0.9)] if kind == "reject" else None)


def test_the_ring_gives_each_reader_what_came_after_its_cursor_and_counts_what_it_missed() -> None:
    ring = EventRing(4)
    for i in range(3):
        ring.append(i)
    items, cursor, skipped = ring.since(0)
    assert (items, cursor, skipped) == ([0, 1, 2], 3, 0)
    for i in range(3, 10):
        ring.append(i)
    items, cursor, skipped = ring.since(cursor)
    assert (items, cursor, skipped) == ([6, 7, 8, 9], 10, 3)  # 3, 4, 5 were overwritten
    assert ring.since(cursor) == ([], 10, 0)


def test_counts_decisions_and_faults_and_keeps_the_last_rejects_with_pixels() -> None:
    state = MonitorState()
    for i in range(30):
        state.note(decision(i, "reject"), pixels=True)
    state.note(decision(30, "accept"), pixels=True)
    state.note(decision(31, "fault", reason="overflow"))
    counts = state.counts()
    assert counts.decisions == {"accept": 1, "reject": 30, "fault": 1}
    assert counts.fault_reasons == {"overflow": 1}
    assert sum(counts.latency_buckets) == 31  # faults have no frame-to-decision latency
    assert [e.frame for e in state.rejects()] == list(range(30 - REJECTS_SHOWN, 30))
    assert state.latest.frame == 30  # the fault had no pixels to show
    assert state.last_decision.frame == 31
    assert state.events.written == 32


def test_the_window_reports_the_last_minute_only() -> None:
    clock = Clock()
    state = MonitorState(clock=clock)
    for i in range(100):  # 100 slow decisions, long ago
        state.note(decision(i, "accept", latency_ms=500.0))
        clock.now += 0.01
    clock.now += 120.0
    for i in range(100, 160):  # then one a second for a minute, each 10 ms
        state.note(decision(i, "accept", latency_ms=10.0))
        clock.now += 1.0
    window = state.window()
    assert window["decisions"] in (59, 60, 61)  # whole seconds at the edge
    assert window["fps"] == pytest.approx(1.0, rel=0.05)
    assert window["p50_ms"] == pytest.approx(10.0) and window["p99_ms"] == pytest.approx(10.0)


def test_health_follows_the_flow_of_frames_and_the_status_events() -> None:
    clock = Clock()
    state = MonitorState(clock=clock, stall_s=5.0)
    assert not state.health().ok and "no frame decided yet" in state.health().reason
    state.note(decision(0, "accept"))
    assert state.health().ok
    clock.now += 6.0
    assert not state.health().ok and "no decision for 6.0 s" in state.health().reason
    state.note(decision(1, "accept"))
    state.note(status("source_lost", source="camera 0", frame=2))
    state.note(decision(2, "fault", reason="source_lost"))
    assert not state.health().ok and state.health().reason.startswith("source lost")
    state.note(status("source_reconnected", source="camera 0", outage_s=1.0))
    state.note(decision(3, "accept"))
    assert state.health().ok
    state.note(status("inference_timeout", frame=4, timeout_s=10.0))
    assert state.health().reason == "inference stalled: the runner answered nothing within 10 s"
    state.note(status("summary", frames=5))
    assert state.health().reason == "the run has ended"


def test_one_station_s_camera_coming_back_does_not_clear_another_s_loss() -> None:
    from dataclasses import replace

    # Status events carry the line's time stamp, here the test's clock.
    clock = Clock()
    state = MonitorState(clock=clock, stall_s=5.0)
    state.note(decision(0, "accept"))
    state.note(replace(status("source_lost", source="camera 0", frame=1), station="top", ts_decision=clock.now))
    clock.now += 1.0
    state.note(replace(status("source_lost", source="camera 1", frame=1), station="side", ts_decision=clock.now))
    state.note(replace(status("source_reconnected", source="camera 1", outage_s=0.5), station="side", ts_decision=clock.now))
    state.note(decision(2, "accept"))
    assert not state.health().ok and state.health().reason == "station top's source lost 1.0 s ago"
    state.note(replace(status("source_reconnected", source="camera 0", outage_s=1.0), station="top", ts_decision=clock.now))
    assert state.health().ok


def test_the_window_times_decisions_when_the_line_made_them_not_when_they_arrived() -> None:
    # The monitor takes events in batches: 100 decisions made over 2 s and noted in one instant are 50/s.
    from dataclasses import replace

    clock = Clock()
    state = MonitorState(clock=clock)
    for i in range(100):
        state.note(replace(decision(i, "accept"), ts_decision=clock.now - 2.0 + i * 0.02))
    window = state.window()
    assert window["decisions"] == 100 and window["fps"] == pytest.approx(50.0, rel=0.05)
    assert state.health().ok  # the last one was made 0.02 s ago
