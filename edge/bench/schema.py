"""The benchmark report: one versioned JSON document per run, the input of markdown, plots and compare.

Rows are keyed by name (backend, precision, batch), never by position, so a reader of an older or
newer report finds a field or is told which one is missing.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edge.atomic import read_json

SCHEMA_VERSION = "gain-mtl-bench/1"
STATUSES = ("ok", "skipped", "failed")


class BenchError(ValueError):
    """A benchmark cannot run or a report cannot be read; the message names the file or value."""


@dataclass
class Row:
    """One (backend, precision, batch) combination: measured, or skipped with the reason."""

    backend: str
    precision: str
    batch: int
    status: str = "ok"
    reason: str | None = None
    load_s: float | None = None
    warmup_runs: int = 0
    latency_ms: dict[str, float] | None = None  # stats.summarize() of per-batch latencies
    samples_ms: list[float] = field(default_factory=list)
    throughput: dict[str, Any] | None = None  # fps (images/s), requests, mode, duration_s
    peak_rss_mb: float | None = None
    artifact_mb: float | None = None
    speedup_vs_torch: float | None = None  # torch p50 / this row's p50, same batch, same run
    accuracy: dict[str, Any] | None = None
    robustness: dict[str, Any] | None = None  # Robustness.to_dict() on the test split (--robustness)

    @property
    def key(self) -> tuple[str, str, int]:
        return (self.backend, self.precision, self.batch)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def label(self) -> str:
        return f"{self.backend} {self.precision} b{self.batch}"


@dataclass
class Report:
    device: dict[str, Any]
    bundle: dict[str, Any]
    settings: dict[str, Any]
    rows: list[Row]
    command: str = ""
    created: str = ""
    stream: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)
    schema: str = SCHEMA_VERSION

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any], source: str = "report") -> Report:
        validate(data, source)
        rows = [Row(**row) for row in data["rows"]]
        return cls(**{**data, "rows": rows})

    def row(self, backend: str, precision: str, batch: int) -> Row | None:
        return next((r for r in self.rows if r.key == (backend, precision, batch)), None)


REPORT_FIELDS = tuple(f.name for f in dataclasses.fields(Report))
ROW_FIELDS = tuple(f.name for f in dataclasses.fields(Row))
# Fields an "ok" row must fill; the others may be None where they do not apply (no --data, no async).
OK_ROW_FIELDS = ("load_s", "latency_ms", "samples_ms", "throughput", "peak_rss_mb")


def validate(data: Any, source: str = "report") -> None:
    """Raise BenchError naming ``source`` and the first thing wrong with a report document."""
    if not isinstance(data, dict):
        raise BenchError(f"{source}: not a JSON object")
    if data.get("schema") != SCHEMA_VERSION:
        raise BenchError(f"{source}: schema {data.get('schema')!r} is not {SCHEMA_VERSION!r}; "
                         "rerun `gainctl bench` with this version")
    missing = [name for name in REPORT_FIELDS if name not in data]
    if missing:
        raise BenchError(f"{source}: missing field(s) {', '.join(missing)}")
    for index, row in enumerate(data["rows"]):
        where = f"{source}: rows[{index}]"
        if not isinstance(row, dict) or set(row) != set(ROW_FIELDS):
            got = sorted(row) if isinstance(row, dict) else type(row).__name__
            raise BenchError(f"{where}: fields {got} are not {sorted(ROW_FIELDS)}")
        if row["status"] not in STATUSES:
            raise BenchError(f"{where}: status {row['status']!r} is not one of {STATUSES}")
        if row["status"] != "ok" and not row["reason"]:
            raise BenchError(f"{where}: a {row['status']} row must say why (reason)")
        if row["status"] == "ok":
            empty = [name for name in OK_ROW_FIELDS if row[name] in (None, [])]
            if empty:
                raise BenchError(f"{where}: measured row lacks {', '.join(empty)}")


def read_report(path: str | Path) -> Report:
    data = read_json(path, BenchError, "no such report; pass the report.json a `gainctl bench` run wrote")
    return Report.from_json(data, str(path))
