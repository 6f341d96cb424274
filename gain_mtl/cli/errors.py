"""Bad input of the training side's commands ends as :class:`edge.cli.errors.InputError` (exit code 2)."""

from __future__ import annotations

import contextlib
from typing import Iterator

from edge.cli.errors import InputError

__all__ = ["InputError", "input_errors"]


@contextlib.contextmanager
def input_errors() -> Iterator[None]:
    """Library ValueErrors (DataError, TrainError, ...) and refused overwrites -> :class:`InputError`."""
    try:
        yield
    except (ValueError, FileExistsError) as exc:
        raise InputError(str(exc)) from None
