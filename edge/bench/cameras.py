"""``gainctl bench --stream``'s multi-camera rows: 1, 2 and 4 copies of the video on one line.

Each copy is a station of one ``Line`` (one model, frames of different stations batched), paced
as a camera at ``PACE_FRACTION`` of its share of the standalone throughput, the cameras starting
together: the line as a whole is loaded like the single paced run, whatever the number of cameras.
A row says what each camera gets (decisions per second of one station), what a part waits for
(frame-to-decision over every station's inspected frames, and the worst station's p99), and what
was lost (frames read that got no decision event; every-frame mode promises none).
"""

from __future__ import annotations

from typing import Any, Callable

from edge.bench.seams import PACE_FRACTION, ClockSink, TimedSource
from edge.bench.stats import summarize
from edge.bundle import Bundle
from edge.events import FAULT

CAMERA_COUNTS = (1, 2, 4)


def bench_cameras(bundle: Bundle, settings: Any, row: Any, standalone_fps: float,
                  log: Callable[[str], None]) -> list[dict[str, Any]]:
    """One row per camera count, on ``row``'s backend and precision with the stream's options."""
    rows = []
    for count in CAMERA_COUNTS:
        outcome = _line_run(bundle, settings, row, count, PACE_FRACTION * standalone_fps / count)
        log(f"stream, {count} camera(s) at {outcome['paced_fps_per_camera']:.1f} fps each: "
            f"p50 {outcome['frame_to_decision_ms'].get('p50', float('nan')):.1f} ms, "
            f"p99 {outcome['frame_to_decision_ms'].get('p99', float('nan')):.1f} ms, lost {outcome['decisions_lost']}, "
            f"batches {outcome['batches']}")
        rows.append(outcome)
    return rows


def _line_run(bundle: Bundle, settings: Any, row: Any, count: int, rate_fps: float) -> dict[str, Any]:
    from edge.backends import select
    from edge.bench.modes import THROUGHPUT, mode_options
    from edge.pipeline import Line, StationSpec
    from edge.sources import open_source

    sources = [TimedSource(open_source(source=str(settings.stream)), rate_fps) for _ in range(count)]
    clock = ClockSink()
    selection = select(bundle, row.backend, row.precision)
    with selection.open(bundle, **mode_options(row.backend, THROUGHPUT)) as runner:
        stations = [StationSpec(source, f"camera-{i}", max_frames=settings.stream_frames) for i, source in enumerate(sources)]
        line = Line(stations, runner, selection.threshold, [clock], status_handlers=(),
                    localization_threshold=bundle.spec.localization_threshold)
        summary = line.run()
    read = sum(len(source.capture_ms) for source in sources)
    inspected = [e.latency_ms for e in clock.events if e.decision != FAULT]
    f2d = summarize(inspected) if inspected else {}
    per_station = [summarize([e.latency_ms for e in clock.events if e.station == f"camera-{i}" and e.decision != FAULT])
                   for i in range(count) if any(e.station == f"camera-{i}" for e in clock.events)]
    parts = summary.stations or {"camera-0": summary}
    return {
        "cameras": count, "paced_fps_per_camera": rate_fps,
        "per_camera_fps": [parts[name].fps for name in sorted(parts)],
        "total_fps": summary.fps,
        "frame_to_decision_ms": f2d,
        "p99_over_p50": f2d["p99"] / f2d["p50"] if f2d and f2d["p50"] > 0 else None,
        "worst_camera_p99_ms": max((s["p99"] for s in per_station), default=None),
        "frames_read": read, "decisions": len(clock.events), "decisions_lost": read - len(clock.events),
        "faults": summary.faults, "fault_reasons": summary.fault_reasons,
        "batches": {str(size): n for size, n in sorted(line.scheduler.batches.items())},
    }
