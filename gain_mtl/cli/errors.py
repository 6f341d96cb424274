"""The one error every ``gainctl`` command raises for bad input: the message, exit code 2.

Exit code 2 is click's own code for a usage error, so a script tells "this input cannot work"
(2) from "it ran and failed" (1) the same way for every command. The library raises ValueErrors
whose messages already name the value and the fix; the CLI only changes how they end the process.
"""

from __future__ import annotations

import contextlib
from typing import Iterator

import click


class InputError(click.ClickException):
    """Bad input (a file, a value, a refused overwrite): its message and exit code 2."""

    exit_code = 2


@contextlib.contextmanager
def input_errors() -> Iterator[None]:
    """Library ValueErrors (DataError, TrainError, ...) and refused overwrites -> :class:`InputError`."""
    try:
        yield
    except (ValueError, FileExistsError) as exc:
        raise InputError(str(exc)) from None
