"""Human-readable outputs of a report: markdown tables (one per batch size) and two plots.

Plots need matplotlib, which a camera may lack: then the PNGs are left out with a note, the JSON
and markdown still come out.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from edge.atomic import atomic_write_bytes, atomic_write_json, atomic_write_text
from edge.bench.monitor import READ_TIMEOUT_S
from edge.bench.schema import Report, Row

ACCURACY_COLUMNS = (("recall", "Recall"), ("precision", "Precision"), ("f1", "F1"),
                    ("agreement", "Agree FP32"), ("iou", "Loc IoU"))


def _num(value: Any, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def device_line(device: dict[str, Any]) -> str:
    cpu = device["cpu"]
    parts = [f"{cpu['model']} ({cpu['usable_cores']} usable of {cpu['logical_cores']} cores, {cpu['arch']})",
             f"ISA: {', '.join(cpu['isa']) or 'none listed'}"]
    for gpu in device.get("gpus") or []:
        parts.append(f"GPU: {gpu['name']}, driver {gpu['driver']}")
    if device.get("jetson"):
        parts.append(f"{device['jetson']['model']}, power mode {device['jetson']['power_mode']}")
    parts.append(device["os"])
    parts.append(f"Python {device['python']}")
    return "; ".join(parts)


def rows_table(rows: Sequence[Row], with_accuracy: bool, devices: Sequence[str] | None = None) -> list[str]:
    """Markdown lines for a table of rows; ``devices`` (one per row) adds a Device column (compare)."""
    head = ["Backend", "Precision", "Status", "Load s", "p50 ms", "p90 ms", "p99 ms", "min ms", "max ms",
            "Throughput img/s", "vs torch", "Peak RSS MB", "Size MB"]
    if with_accuracy:
        head += [title for _, title in ACCURACY_COLUMNS]
    if devices is not None:
        head.insert(0, "Device")
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for index, row in enumerate(rows):
        lat = row.latency_ms or {}
        cells = [row.backend, row.precision, "ok" if row.ok else f"{row.status}: {row.reason}",
                 _num(row.load_s, 2), _num(lat.get("p50"), 2), _num(lat.get("p90"), 2), _num(lat.get("p99"), 2),
                 _num(lat.get("min"), 2), _num(lat.get("max"), 2),
                 _num((row.throughput or {}).get("fps")), _ratio(row.speedup_vs_torch),
                 _num(row.peak_rss_mb, 0), _num(row.artifact_mb, 2)]
        if with_accuracy:
            acc = row.accuracy or {}
            cells += [_num(acc.get(key), 3) for key, _ in ACCURACY_COLUMNS]
        if devices is not None:
            cells.insert(0, devices[index])
        lines.append("| " + " | ".join(str(c).replace("|", "/") for c in cells) + " |")
    return lines


def to_markdown(report: Report) -> str:
    bundle = report.bundle
    lines = [f"# Benchmark: {bundle.get('name')} on {report.device['slug']}", "",
             f"- Command: `{report.command}`", f"- Date: {report.created}",
             f"- Device: {device_line(report.device)}",
             "- Libraries: " + ", ".join(f"{k} {v}" for k, v in report.device["libraries"].items()),
             f"- Bundle: {bundle.get('backbone')} at {bundle.get('image_size')}x{bundle.get('image_size')}, "
             f"strategy {bundle.get('strategy')}, bundle.json sha256 `{bundle.get('sha256', '')[:16]}`",
             "- Settings: " + ", ".join(f"{k}={v}" for k, v in report.settings.items()),
             "", "Latency is synchronous, per batch, after warm-up; throughput is asynchronous with the "
             "backend's optimal number of requests; `vs torch` is the PyTorch eager FP32 p50 of the full "
             "checkpoint divided by the row's p50 (same batch, same run).", ""]
    with_accuracy = any(row.accuracy for row in report.rows)
    for batch in sorted({row.batch for row in report.rows}):
        lines += [f"## Batch {batch}", ""]
        lines += rows_table([r for r in report.rows if r.batch == batch and r.status != "skipped"], with_accuracy)
        lines.append("")
    skipped = [row for row in report.rows if row.status == "skipped"]
    if skipped:
        lines += ["## Skipped", ""] + [f"- {row.label}: {row.reason}" for row in skipped] + [""]
    robust = {f"{r.backend} {r.precision} b{r.batch}": r.robustness for r in report.rows if r.robustness}
    if robust:
        lines += robustness_markdown(robust)
    if report.stream:
        lines += stream_markdown(report.stream)
    if report.notes:
        lines += ["## Notes", ""] + [f"- {note}" for note in report.notes] + [""]
    return "\n".join(lines)


def robustness_markdown(models: dict[str, dict[str, Any]]) -> list[str]:
    """Each row's decisions under the camera perturbations against its own on the clean test frames."""
    from edge.bench.robustness import ROBUSTNESS_HEADER, robustness_rows

    lines = ["## Robustness to the camera (test split)", "",
             "Decisions after each perturbation, applied to the frame as the model receives it, against the same "
             "row's decisions on the clean frames, at the bundle's threshold for that model file.", "",
             "| " + " | ".join(ROBUSTNESS_HEADER) + " |", "|" + "---|" * len(ROBUSTNESS_HEADER)]
    for row in robustness_rows(models):
        cells = [_num(c, 3) if isinstance(c, float) else ("-" if c is None else str(c)) for c in row]
        lines.append("| " + " | ".join(cells) + " |")
    return lines + [""]


def stream_markdown(stream: dict[str, Any]) -> list[str]:
    if stream.get("status") != "ok":
        return ["## Stream", "", f"Skipped: {stream.get('reason')}", ""]
    lines = ["## Stream (end-to-end pipeline)", "",
             f"Source `{stream['source']}`, backend {stream['backend']} {stream['precision']}, mode {stream['mode']}: "
             f"{stream['frames']} frames, {stream['fps']:.1f} fps, dropped {stream['dropped']}, "
             f"faulted {stream['faults']}.", "",
             f"- Frame-to-decision, frames paced as a camera at {_num(stream.get('paced_fps'))} fps "
             f"(0.8 of the line's capacity: the lower of standalone and unpaced stream throughput): p50 {_num(stream['frame_to_decision_ms'].get('p50'))} ms, "
             f"p99 {_num(stream['frame_to_decision_ms'].get('p99'))} ms "
             f"(p99/p50 {_ratio(stream.get('p99_over_p50'))}); faults {stream.get('paced_faults')}",
             f"- Unpaced (frames as fast as the file decodes, queueing in front of the backend): "
             f"p50 {_num(stream.get('unpaced_frame_to_decision_ms', {}).get('p50'))} ms, "
             f"p99 {_num(stream.get('unpaced_frame_to_decision_ms', {}).get('p99'))} ms",
             f"- Pipeline fps / standalone throughput: {_num(stream.get('fps_over_throughput'), 3)} "
             f"(standalone {_num(stream.get('standalone_fps'))} img/s)", "",
             "| Stage | p50 ms | p99 ms | mean ms |", "|---|---|---|---|"]
    for stage, summary in stream["stages_ms"].items():
        lines.append(f"| {stage} | {_num(summary.get('p50'), 2)} | {_num(summary.get('p99'), 2)} | "
                     f"{_num(summary.get('mean'), 2)} |")
    return (lines + [""] + cameras_markdown(stream.get("cameras")) + processes_markdown(stream.get("processes"))
            + monitor_markdown(stream.get("monitor")))


def cameras_markdown(rows: list[dict[str, Any]] | None) -> list[str]:
    """The multi-camera rows: N copies of the video as stations of one line, each at 0.8 of its share."""
    if not rows:
        return []
    lines = ["### Several cameras on one line", "",
             "Each camera paced at 0.8 of its share of the line's capacity (as above); frame-to-decision over every "
             "camera's inspected frames; lost: frames read without a decision.", "",
             "| Cameras | Paced fps each | Per-camera fps | p50 ms | p99 ms | p99/p50 | Worst camera p99 ms | Lost | Faults | Batches |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for row in rows:
        f2d = row["frame_to_decision_ms"]
        lines.append(f"| {row['cameras']} | {_num(row['paced_fps_per_camera'])} | "
                     f"{' / '.join(_num(fps) for fps in row['per_camera_fps'])} | {_num(f2d.get('p50'))} | "
                     f"{_num(f2d.get('p99'))} | {_ratio(row.get('p99_over_p50'))} | {_num(row.get('worst_camera_p99_ms'))} | "
                     f"{row['decisions_lost']} | {row['faults']} | "
                     f"{' '.join(f'{size}x{n}' for size, n in row['batches'].items())} |")
    return lines + [""]


def processes_markdown(comparison: dict[str, Any] | None) -> list[str]:
    """N sources in one process against N processes (edge/bench/cameras.py): medians and each round."""
    if not comparison:
        return []
    n = comparison["sources"]
    lines = [f"### {n} sources: one process against {n} processes", "",
             f"`gainctl run` unpaced on {n} copies of the video, medians of {comparison['rounds']} interleaved rounds; "
             "throughput: decisions over first capture to last decision.", "",
             "| | Decisions/s | Per round | Lost | In order |", "|---|---|---|---|---|"]
    for kind, label in (("one_process", "1 process"), ("processes", f"{n} processes")):
        runs = comparison["runs"][kind]
        lines.append(f"| {label} | {_num(comparison[kind + '_fps'])} | {', '.join(_num(r['total_fps']) for r in runs)} | "
                     f"{sum(r['decisions_lost'] for r in runs)} | {'yes' if all(r['in_order'] for r in runs) else 'no'} |")
    return lines + ["", f"One process over {n} processes: {_ratio(comparison['ratio'])}.", ""]


def monitor_markdown(monitor: dict[str, Any] | None) -> list[str]:
    """The `--serve` comparison: medians over interleaved rounds, and what the targets ask."""
    if not monitor:
        return []
    without, with_ = monitor["without"], monitor["with"]
    return ["### With the `--serve` monitor and one client", "",
            f"Medians of {monitor['rounds']} interleaved rounds; p99 frame-to-decision paced at "
            f"{_num(monitor['paced_fps'])} fps; the client read the MJPEG stream, /events and /api/state every second "
            f"({monitor['client_bytes'] / 2**20:.1f} MiB in all; streams that failed or fell silent for "
            f"{READ_TIMEOUT_S:g} s and were opened again: {monitor.get('client_stalls', 0)}).", "",
            "| | Throughput fps | p99 ms |", "|---|---|---|",
            f"| without | {_num(without['fps'])} | {_num(without['p99_ms'], 2)} |",
            f"| with | {_num(with_['fps'])} | {_num(with_['p99_ms'], 2)} |",
            f"| with / without | {_num(monitor['fps_ratio'], 3)} (target >= 0.97) | {_num(monitor['p99_ratio'], 3)} "
            f"(target <= 1.10) |", "",
            f"Decisions lost with the monitor: {monitor['decisions_lost']} (target 0); without: "
            f"{monitor['decisions_lost_without']}.", "", *_cores_line(monitor.get("cores"))]


def _cores_line(cores: dict[str, float] | None) -> list[str]:
    """What each process took of the cores while the line ran unpaced with the monitor (medians)."""
    if not cores:
        return []
    return ["Cores busy during the unpaced runs with the monitor (CPU seconds per second, medians): "
            + ", ".join(f"{who} {_num(n, 2)}" for who, n in cores.items())
            + " (each counted from the line's first frame to its last).", ""]


def _save(fig: Any, path: Path) -> None:
    import io

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    atomic_write_bytes(path, buffer.getvalue())


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError:
        raise ImportError("matplotlib is not installed: pip install matplotlib (plots are optional)") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def latency_plot(labelled: Sequence[tuple[str, Row]], path: Path, title: str) -> None:
    """Latency distribution of every measured row (box: p25..p75, whiskers: p1..p99)."""
    plt = _pyplot()
    measured = [(label, row) for label, row in labelled if row.ok and row.samples_ms]
    fig, ax = plt.subplots(figsize=(max(6.0, 0.9 * len(measured) + 2), 4.5))
    if measured:
        ax.boxplot([row.samples_ms for _, row in measured], whis=(1, 99), showfliers=True)
        ax.set_xticks(range(1, len(measured) + 1), [label for label, _ in measured], rotation=30, ha="right")
    ax.set_ylabel("latency per batch (ms)")
    ax.set_title(title)
    ax.grid(axis="y", alpha=0.3)
    _save(fig, path)
    plt.close(fig)


def throughput_plot(labelled: Sequence[tuple[str, Row]], path: Path, title: str) -> None:
    """Asynchronous throughput of every measured row, in images per second."""
    plt = _pyplot()
    measured = [(label, row) for label, row in labelled if row.ok and row.throughput]
    fig, ax = plt.subplots(figsize=(max(6.0, 0.9 * len(measured) + 2), 4.5))
    values = [row.throughput["fps"] for _, row in measured]
    ax.bar(range(len(measured)), values, color="tab:blue")
    ax.set_xticks(range(len(measured)), [label for label, _ in measured], rotation=30, ha="right")
    for x, value in enumerate(values):
        ax.annotate(f"{value:.1f}", (x, value), ha="center", va="bottom", fontsize=8)
    ax.set_ylabel("images / s")
    ax.set_title(title)
    ax.grid(axis="y", alpha=0.3)
    _save(fig, path)
    plt.close(fig)


def write_outputs(report: Report, out: Path) -> list[str]:
    """report.json, report.md, latency.png, throughput.png in ``out``; returns notes on what was left out."""
    out.mkdir(parents=True, exist_ok=True)
    left_out = []
    title = f"{report.bundle.get('name')} on {report.device['slug']}"
    labelled = [(row.label, row) for row in report.rows]
    try:
        latency_plot(labelled, out / "latency.png", title)
        throughput_plot(labelled, out / "throughput.png", title)
    except ImportError as exc:
        left_out.append(f"plots not written: {exc}")
        report.notes.extend(left_out)
    atomic_write_json(out / "report.json", report.to_json())
    atomic_write_text(out / "report.md", to_markdown(report))
    return left_out
