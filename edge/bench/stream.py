"""``gainctl bench --stream``: the ``gainctl run`` pipeline on a video, stage by stage.

It runs on the batch-1 row with the highest standalone throughput (what a line would deploy),
with that row's throughput options, so ``fps_over_throughput`` compares like with like.

The pipeline is run unchanged; its parts are wrapped to read the clock at the seams: the source
(capture), the runner (inference: submit to result), a sink first and last in the sink list
(postprocess: result to decision, including the in-order wait; sink: the journal sink's own time).
Resizing happens inside the pipeline's inference thread between two seams, so it is timed on the
stream's own frames right after the run (the same function on the same pixels).
Frame-to-decision is each decision event's own ``latency_ms`` (capture to decision).

The video runs twice. Unpaced, frames come as fast as the file decodes: the pipeline's fps against
the backend's standalone throughput says what the pipeline costs. Paced, frames come as a line
camera delivers them, at ``PACE_FRACTION`` of the line's capacity: the lower of the standalone
throughput and the unpaced pipeline's (decoding and resizing large frames can cost more than
inference). Frame-to-decision there is what a part waits for its decision; paced above the
capacity, or unpaced, it would mostly measure a queue that grows for as long as the video lasts.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any, Callable

from edge.bench.cameras import bench_cameras, compare_processes
from edge.bench.seams import PACE_FRACTION, ClockSink, TimedRunner, TimedSource
from edge.bench.stats import summarize
from edge.bundle import Bundle

RESIZE_SAMPLES = 50


def _choose_row(rows: list[Any]) -> Any | None:
    """The row a line would deploy: highest throughput at batch 1 among the edge backends."""
    candidates = [r for r in rows if r.ok and r.batch == 1 and r.backend != "torch" and r.throughput]
    return max(candidates, key=lambda r: r.throughput["fps"], default=None)


def _run(bundle: Bundle, settings: Any, row: Any, rate_fps: float | None, monitored: dict | None = None) -> tuple[Any, ...]:
    """One pipeline run on the video; (summary, source, timed runner, first sink, last sink, jobs).

    With a ``monitored`` dict the run has the ``--serve`` monitor and one watching client
    (edge/bench/monitor.py); the dict gets the decisions the monitor counted and the client's bytes.
    """
    from edge.backends import select
    from edge.bench.modes import THROUGHPUT, mode_options
    from edge.pipeline import Pipeline
    from edge.sinks.journal import JournalSink
    from edge.sources import open_source

    source = TimedSource(open_source(source=str(settings.stream)), rate_fps)
    first, last = ClockSink(), ClockSink()
    with tempfile.TemporaryDirectory(prefix="gain-bench-") as tmp:
        journal = JournalSink(Path(tmp) / "decisions.jsonl")
        sinks: list[Any] = [first, journal, last]
        monitor = None
        if monitored is not None:
            from edge.monitor import Monitor

            monitor = Monitor("127.0.0.1:0")
            sinks.append(monitor.sink)
        # Asynchronous like the standalone throughput it is compared with, and opened the same way.
        selection = select(bundle, row.backend, row.precision)
        threshold = selection.threshold
        with selection.open(bundle, **mode_options(row.backend, THROUGHPUT)) as runner:
            timed = TimedRunner(runner)
            pipeline = Pipeline(source, timed, threshold, sinks, mode="every-frame", max_frames=settings.stream_frames,
                                localization_threshold=bundle.spec.localization_threshold)
            if monitor is None:
                summary = pipeline.run()
            else:
                summary = _run_watched(monitor, pipeline, bundle, row, threshold, sinks, monitored)
            jobs = runner.jobs
        journal.close()
    return summary, source, timed, first, last, jobs


def _run_watched(monitor: Any, pipeline: Any, bundle: Bundle, row: Any, threshold: float, sinks: list[Any],
                 monitored: dict) -> Any:
    """Run ``pipeline`` with ``monitor`` serving and one client watching it from start to end."""
    from edge.bench.monitor import WatchingClient, counted_by, cpu_seconds

    monitor.start({"model": bundle.folder.name, "backend": row.backend, "precision": row.precision}, threshold,
                  pipeline.queue_depth, sinks, localizes=bundle.spec.localizes)
    try:
        with WatchingClient(monitor.url()) as client:
            before = cpu_seconds(), cpu_seconds(monitor.pid), client.cpu_seconds()
            summary = pipeline.run()
            line_cpu, monitor_cpu, client_cpu = (after - start for after, start in
                                                 zip((cpu_seconds(), cpu_seconds(monitor.pid), client.cpu_seconds()), before))
        monitor.sync()
        monitored["counted"] = counted_by(monitor.url())
        monitored["client_bytes"], monitored["client_stalls"] = dict(client.bytes), dict(client.stalls)
        monitored["cpu_s"] = {"line": line_cpu, "monitor": monitor_cpu, "client": client_cpu}
    finally:
        monitor.close()
    return summary


def _frame_to_decision(first: ClockSink) -> tuple[dict[str, Any], float | None]:
    from edge.events import FAULT

    decided = [e.latency_ms for e in first.events if e.decision != FAULT]
    f2d = summarize(decided) if decided else {}
    return f2d, (f2d["p99"] / f2d["p50"] if f2d and f2d["p50"] > 0 else None)


def bench_stream(bundle: Bundle, settings: Any, rows: list[Any], log: Callable[[str], None]) -> dict[str, Any]:
    """Run the pipeline on ``settings.stream`` with the best batch-1 row's backend and precision."""
    from edge.events import FAULT
    from edge.preprocess import resize_frame
    from edge.sources import SourceError

    row = _choose_row(rows)
    if row is None:
        return {"status": "skipped", "reason": "no edge backend measured at batch 1 to run the pipeline on"}
    standalone = row.throughput["fps"]
    try:
        summary, source, timed, first, last, jobs = _run(bundle, settings, row, None)
        capacity = min(standalone, summary.fps) if summary.fps else standalone
        paced_rate = PACE_FRACTION * capacity
        paced_summary, _, _, paced_first, _, _ = _run(bundle, settings, row, paced_rate)
    except SourceError as exc:
        return {"status": "skipped", "reason": str(exc)}
    log(f"stream: {summary.format()}")
    log(f"stream paced at {paced_rate:.1f} fps: {paced_summary.format()}")
    decided = [e for e in first.events if e.decision != FAULT]
    # Submissions and non-fault decisions pair up in order: every-frame mode keeps capture order.
    inference = [(timed.completed[i] - t) * 1000.0 for i, t in enumerate(timed.submitted) if i in timed.completed]
    decided_at = [t for t, e in zip(first.times, first.events) if e.decision != FAULT]
    post = [(t - timed.completed[i]) * 1000.0 for i, t in enumerate(decided_at) if i in timed.completed]
    sink = [(b - a) * 1000.0 for a, b in zip(first.times, last.times)]
    preprocess = []
    if source.sample is not None:
        height, width = bundle.spec.input.height, bundle.spec.input.width
        for _ in range(RESIZE_SAMPLES):
            start = time.perf_counter()
            resize_frame(source.sample, width, height)
            preprocess.append((time.perf_counter() - start) * 1000.0)
    stages = {"capture": source.capture_ms, "preprocess": preprocess, "inference": inference,
              "postprocess": post, "sink": sink}
    unpaced_f2d, unpaced_tail = _frame_to_decision(first)
    f2d, tail = _frame_to_decision(paced_first)
    monitor = None
    if settings.serve:
        from edge.bench.monitor import compare_monitor

        def one_run(rate: float | None, monitored: dict | None) -> tuple[Any, list]:
            outcome = _run(bundle, settings, row, rate, monitored)
            return outcome[0], outcome[3].events

        monitor = compare_monitor(one_run, paced_rate, log, rounds=settings.rounds)
    return {
        "monitor": monitor,
        "cameras": bench_cameras(bundle, settings, row, capacity, log),
        "processes": compare_processes(bundle.folder, Path(settings.stream), row.backend, row.precision,
                                       max_frames=settings.stream_frames, log=log),
        "status": "ok", "reason": None, "source": Path(settings.stream).name, "backend": row.backend,
        "precision": row.precision, "mode": "every-frame", "frames": summary.frames, "decisions": len(decided),
        "faults": summary.faults, "dropped": summary.dropped, "fault_reasons": summary.fault_reasons,
        "fps": summary.fps, "elapsed_s": summary.elapsed_s,
        "frame_to_decision_ms": f2d,
        "p99_over_p50": tail,
        "paced_fps": paced_rate, "capacity_fps": capacity,
        "paced_faults": paced_summary.faults,
        "unpaced_frame_to_decision_ms": unpaced_f2d,
        "unpaced_p99_over_p50": unpaced_tail,
        "standalone_fps": standalone, "fps_over_throughput": summary.fps / standalone if standalone else None,
        "stages_ms": {name: summarize(values) if values else {} for name, values in stages.items()},
        "jobs": jobs,
    }
