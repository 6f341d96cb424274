"""Errors of the calibration step and the one place that imports optional libraries.

Every INT8 route needs a library that a plain install lacks (nncf, tensorrt, pycuda); a missing
one must say which extra installs it instead of surfacing a bare ``ModuleNotFoundError``.
"""

from __future__ import annotations

import importlib
from types import ModuleType


class CalibrationError(ValueError):
    """Calibration data or a quantization step that cannot be used; the message says why."""


class MissingLibraryError(CalibrationError):
    """An optional library needed by the requested target is not installed."""


def import_optional(module: str, extra: str) -> ModuleType:
    """Import ``module`` or raise an error naming the ``gain-mtl`` extra that installs it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingLibraryError(
            f"{module.split('.')[0]} is not installed: pip install 'gain-mtl[{extra}]'"
        ) from exc
