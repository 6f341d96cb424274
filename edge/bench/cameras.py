"""``gainctl bench --stream``'s multi-camera rows: 1, 2 and 4 copies of the video on one line.

Each copy is a station of one ``Line`` (one model, frames of different stations batched), paced
as a camera at ``PACE_FRACTION`` of its share of the line's capacity (edge/bench/stream.py), the cameras starting
together: the line as a whole is loaded like the single paced run, whatever the number of cameras.
A row says what each camera gets (decisions per second of one station), what a part waits for
(frame-to-decision over every station's inspected frames, and the worst station's p99), and what
was lost (frames read that got no decision event; every-frame mode promises none).

``compare_processes`` answers the question a line asks before buying hardware: is one process
serving N cameras worth more than N ``gainctl run`` processes, one per camera? Both are real
``gainctl run`` processes on the same video, unpaced, with the command's defaults; throughput is
decisions over the span from the first capture to the last decision (from the journals, so model
loading and compiling, which both pay once per process, are left out). Rounds alternate which
runs first, so a machine that is busier in one half of the run favours neither.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

from edge.bench.seams import PACE_FRACTION, ClockSink, TimedSource
from edge.bench.stats import summarize
from edge.bundle import Bundle
from edge.events import FAULT

CAMERA_COUNTS = (1, 2, 4)
PROCESS_SOURCES = 4
PROCESS_ROUNDS = 3
# The edge's own `gainctl run` command (the one gainctl mounts), without importing the training side.
_RUN = [sys.executable, "-c", "from edge.cli.run import run; run()"]


def bench_cameras(bundle: Bundle, settings: Any, row: Any, capacity_fps: float,
                  log: Callable[[str], None]) -> list[dict[str, Any]]:
    """One row per camera count, on ``row``'s backend and precision with the stream's options."""
    rows = []
    for count in CAMERA_COUNTS:
        outcome = _line_run(bundle, settings, row, count, PACE_FRACTION * capacity_fps / count)
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


def compare_processes(bundle: Path, video: Path, backend: str, precision: str, sources: int = PROCESS_SOURCES,
                      rounds: int = PROCESS_ROUNDS, max_frames: int | None = None,
                      log: Callable[[str], None] = lambda line: None) -> dict[str, Any]:
    """``sources`` copies of ``video`` in one ``gainctl run`` against as many processes: medians over rounds.

    ``max_frames``: frames of each copy (default: the whole video).
    """
    options = ["--model", str(bundle), "--backend", backend, "--precision", precision]
    options += [] if max_frames is None else ["--max-frames", str(max_frames)]
    runs: dict[str, list[dict[str, Any]]] = {"one_process": [], "processes": []}
    with tempfile.TemporaryDirectory(prefix="gain-processes-") as tmp:
        for r in range(rounds):
            order = ["one_process", "processes"] if r % 2 == 0 else ["processes", "one_process"]
            for kind in order:
                folder = Path(tmp) / f"{kind}-{r}"
                folder.mkdir()
                groups = [sources] if kind == "one_process" else [1] * sources
                outcome = _processes_run(options, video, groups, folder)
                log(f"{sources} sources, {kind.replace('_', ' ')}, round {r + 1}: {outcome['total_fps']:.1f} decisions/s, "
                    f"lost {outcome['decisions_lost']}, in order {outcome['in_order']}")
                runs[kind].append(outcome)
    medians = {kind: statistics.median(o["total_fps"] for o in outcomes) for kind, outcomes in runs.items()}
    return {
        "sources": sources, "rounds": rounds, "backend": backend, "precision": precision,
        "one_process_fps": medians["one_process"], "processes_fps": medians["processes"],
        "ratio": medians["one_process"] / medians["processes"] if medians["processes"] else None,
        "runs": runs,
    }


def _processes_run(options: list[str], video: Path, groups: list[int], folder: Path) -> dict[str, Any]:
    """One process per group, each with that many ``--source video``, all started together."""
    journals = [folder / f"process-{i}.jsonl" for i in range(len(groups))]
    started = time.monotonic()
    processes = [subprocess.Popen([*_RUN, *options, *[a for _ in range(n) for a in ("--source", str(video))],
                                   "--sink", f"journal:{journal}"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
                 for n, journal in zip(groups, journals)]
    failures = [p.communicate()[1].decode(errors="replace")[-400:] for p in processes]
    failed = [f for p, f in zip(processes, failures) if p.returncode != 0]
    if failed:
        raise RuntimeError(f"gainctl run failed: {failed[0]}")
    wall_s = time.monotonic() - started
    decisions, frames, in_order = [], 0, True
    for i, journal in enumerate(journals):
        events = [json.loads(line) for line in journal.read_text(encoding="utf-8").splitlines()]
        frames += next(e["detail"]["frames"] for e in events if e.get("reason") == "summary")
        ours = [e for e in events if e["kind"] == "decision"]
        for station in {e.get("station") for e in ours}:
            ids = [e["frame"] for e in ours if e.get("station") == station]
            in_order = in_order and ids == list(range(len(ids)))
        decisions += ours
    span_s = max(e["ts_decision"] for e in decisions) - min(e["ts_capture"] for e in decisions)
    return {"processes": len(groups), "decisions": len(decisions), "frames_read": frames,
            "decisions_lost": frames - len(decisions), "in_order": in_order,
            "faults": sum(e["decision"] == FAULT for e in decisions), "span_s": span_s,
            "total_fps": len(decisions) / span_s if span_s > 0 else 0.0, "wall_s": wall_s}
