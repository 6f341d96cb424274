"""How the bench opens a backend for latency and for throughput.

Its own module because both the row measurements (``suite``) and the stream run (``stream``)
open runners this way, and ``suite`` runs ``stream``: neither imports the other for it.
"""

from __future__ import annotations

from typing import Any

from edge.backends import BACKEND_NAMES, backend_info

# How a backend with a performance hint is opened for latency (one request) and for throughput
# (the runtime's optimal number of requests); a backend without one runs as it is for both.
LATENCY = {"hint": "LATENCY", "jobs": 1}
THROUGHPUT = {"hint": "THROUGHPUT", "jobs": 0}


def mode_options(backend: str, mode: dict[str, Any]) -> dict[str, Any]:
    """``mode`` for a backend whose runner takes a performance hint, else nothing."""
    return dict(mode) if backend in BACKEND_NAMES and backend_info(backend).takes("hint") else {}
