"""history.csv: one row per epoch, rewritten atomically so a crash never leaves half a row.

Columns: ``epoch, stage, lr, loss_total``, then ``loss_<name>`` and ``w_<name>`` for every loss of
the schedule, then the validation metrics (``val_*``). ``loss_<name>`` is the epoch's mean of the
raw (unweighted) term while the schedule has it switched on, and 0 while its weight is 0 (the
term is then not part of the objective), so the stage gating is visible in the file.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any, Sequence


def history_columns(loss_names: Sequence[str], val_keys: Sequence[str]) -> list[str]:
    columns = ["epoch", "stage", "lr", "loss_total"]
    for name in loss_names:
        columns += [f"loss_{name}", f"w_{name}"]
    return columns + [f"val_{key}" for key in val_keys]


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)  # shortest text that reads back to the same float
    return str(value)


class HistoryWriter:
    """Holds the rows in memory; every ``append`` rewrites the file atomically."""

    def __init__(self, path: str | Path, columns: list[str], rows: list[dict[str, Any]] | None = None):
        self.path = Path(path)
        self.columns = columns
        self.rows = list(rows or [])

    @classmethod
    def resume(cls, path: str | Path, columns: list[str], up_to_epoch: int) -> "HistoryWriter":
        """Keep the rows of the epochs the checkpoint holds; later rows belong to lost work."""
        rows = [row for row in read_history(path) if int(row["epoch"]) <= up_to_epoch]
        return cls(path, columns, rows)

    def append(self, row: dict[str, Any]) -> None:
        from edge.atomic import atomic_write_text

        missing = [c for c in self.columns if c not in row]
        if missing:
            raise KeyError(f"history row lacks {missing}")
        self.rows.append({c: _cell(row[c]) for c in self.columns})
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=self.columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(self.rows)
        atomic_write_text(self.path, out.getvalue())


def read_history(path: str | Path) -> list[dict[str, str]]:
    path = Path(path)
    if not path.exists():
        return []
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))
