"""The libraries' own messages go to a log file; the console keeps the kit's.

An export prints NNCF's INFO lines (one per layer it leaves in float), ONNX Runtime's advice to
pre-process before quantizing and torch's "No CUDA runtime" probe: dozens of lines that bury
the two or three that matter (a threshold warning, the gate's verdict, where the bundle went).
Inside :func:`libraries_to_file` every log record goes to a file and only the kit's own
warnings (loggers under ``gain_mtl``, ``calibration``, ``edge``) reach stderr; ``gainctl -v``
leaves everything on the console instead. Python warnings are left alone: the kit's own (the
threshold's recall, a small calibration set) are among the lines that matter.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import logging
import os
import sys
import tempfile
from pathlib import Path
from typing import Iterator

import click

VERBOSE = "gain_mtl.verbose"  # key in click's context meta, set by `gainctl -v`
OWN_LOGGERS = ("gain_mtl", "calibration", "edge")
# Libraries that print through handlers of their own instead of the root's. Each is imported
# before its handlers are swapped, as importing it installs them.
SELF_PRINTING = ("torch", "nncf")
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def verbose() -> bool:
    """Whether ``gainctl -v`` asked for the libraries' messages on the console."""
    ctx = click.get_current_context(silent=True)
    return bool(ctx and ctx.meta.get(VERBOSE))


def show_everything() -> None:
    """``gainctl -v``: INFO and up from every logger to stderr, the libraries' own handlers kept."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)


@contextlib.contextmanager
def libraries_to_file(path: Path) -> Iterator[None]:
    """While inside: every log record at INFO and up goes to ``path``; the kit's warnings also to stderr."""
    to_file = logging.FileHandler(path, encoding="utf-8", delay=True)
    to_file.setFormatter(logging.Formatter(FORMAT))
    console = logging.StreamHandler(sys.stderr)
    console.setLevel(logging.WARNING)
    console.addFilter(lambda record: record.name.split(".")[0] in OWN_LOGGERS)
    root = logging.getLogger()
    saved_level = root.level
    saved_handlers: dict[str, list[logging.Handler]] = {}
    for name in SELF_PRINTING:
        if importlib.util.find_spec(name) is not None:
            importlib.import_module(name)
            saved_handlers[name] = logging.getLogger(name).handlers
            logging.getLogger(name).handlers = [to_file]
    root.addHandler(to_file)
    root.addHandler(console)
    root.setLevel(logging.INFO)
    try:
        yield
    finally:
        root.removeHandler(to_file)
        root.removeHandler(console)
        root.setLevel(saved_level)
        for name, handlers in saved_handlers.items():
            logging.getLogger(name).handlers = handlers
        to_file.close()


@contextlib.contextmanager
def libraries_logged() -> Iterator[Path | None]:
    """:func:`libraries_to_file` into a temporary log file (yielded), removed on leaving.

    The command copies the log into the folder it writes before that folder is renamed into place,
    since a bundle's folder appears only when it is complete, its log included; a failed command
    leaves no log behind (nothing half-written), and its own error says what went wrong
    (``gainctl -v`` shows the libraries' messages too). Under ``-v`` nothing is redirected and
    None is yielded: no log is kept.
    """
    if verbose():
        yield None
        return
    fd, tmp = tempfile.mkstemp(prefix="gainctl-", suffix=".log")
    os.close(fd)
    try:
        with libraries_to_file(Path(tmp)):
            yield Path(tmp)
    finally:
        os.unlink(tmp)
