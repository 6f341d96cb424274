"""Markdown tables for the reports the kit writes (evaluation, export)."""

from __future__ import annotations

from typing import Any, Sequence


def fmt(value: Any) -> str:
    """A cell: floats to four decimals, a missing value as n/a."""
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


def table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(fmt(v) for v in row) + " |" for row in rows]
