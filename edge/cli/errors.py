"""The one error every ``gainctl`` command raises for bad input: the message, exit code 2.

Exit code 2 is click's own code for a usage error, so a script tells "this input cannot work"
(2) from "it ran and failed" (1) the same way for every command. The library raises ValueErrors
whose messages already name the value and the fix; the CLI only changes how they end the process.
It lives in ``edge`` because the camera's commands raise it too and must not import ``gain_mtl``.
"""

from __future__ import annotations

import click


class InputError(click.ClickException):
    """Bad input (a file, a value, a refused overwrite): its message and exit code 2."""

    exit_code = 2
