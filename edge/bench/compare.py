"""``gainctl bench compare``: one table and one pair of plots across reports from several devices."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from edge.atomic import atomic_write_json, atomic_write_text
from edge.bench.render import device_line, latency_plot, rows_table, throughput_plot
from edge.bench.schema import SCHEMA_VERSION, BenchError, Report, read_report

COMPARE_SCHEMA = "gain-mtl-bench-compare/1"


def _labels(reports: Sequence[Report]) -> list[str]:
    """A short, unique label per report: the device slug, numbered when two share one."""
    labels = []
    for report in reports:
        label = report.device["slug"]
        if label in labels:
            label = f"{label}#{sum(1 for l in labels if l.split('#')[0] == label) + 1}"
        labels.append(label)
    return labels


def compare_markdown(reports: Sequence[Report], labels: Sequence[str]) -> str:
    lines = ["# Benchmark comparison", "", "| Device | Bundle | Date | Fingerprint |", "|---|---|---|---|"]
    for label, report in zip(labels, reports):
        lines.append(f"| {label} | {report.bundle.get('name')} ({report.bundle.get('sha256', '')[:12]}) | "
                     f"{report.created} | {device_line(report.device)} |")
    lines.append("")
    with_accuracy = any(row.accuracy for report in reports for row in report.rows)
    batches = sorted({row.batch for report in reports for row in report.rows})
    for batch in batches:
        rows, devices = [], []
        for label, report in zip(labels, reports):
            for row in report.rows:
                if row.batch == batch and row.status != "skipped":
                    rows.append(row)
                    devices.append(label)
        lines += [f"## Batch {batch}", ""] + rows_table(rows, with_accuracy, devices) + [""]
    skipped = [f"- {label}: {row.label}: {row.reason}" for label, report in zip(labels, reports)
               for row in report.rows if row.status == "skipped"]
    if skipped:
        lines += ["## Skipped", ""] + skipped + [""]
    return "\n".join(lines)


def compare_reports(paths: Sequence[str | Path], out: str | Path) -> Path:
    """Merge ``paths`` (report.json files) into ``out``/compare.{json,md} and the two plots."""
    if len(paths) < 2:
        raise BenchError("compare needs at least two report.json files")
    reports = [read_report(path) for path in paths]
    labels = _labels(reports)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    merged = {
        "schema": COMPARE_SCHEMA,
        "report_schema": SCHEMA_VERSION,
        "sources": [{"label": label, "path": str(path)} for label, path in zip(labels, paths)],
        "reports": [report.to_json() for report in reports],
    }
    labelled = [(f"{label}\n{row.label}", row) for label, report in zip(labels, reports) for row in report.rows]
    notes = []
    try:
        latency_plot(labelled, out / "latency.png", "latency across devices")
        throughput_plot(labelled, out / "throughput.png", "throughput across devices")
    except ImportError as exc:
        notes.append(f"plots not written: {exc}")
    merged["notes"] = notes
    atomic_write_json(out / "compare.json", merged)
    atomic_write_text(out / "compare.md", compare_markdown(reports, labels) + "".join(f"\n- {n}" for n in notes))
    return out
