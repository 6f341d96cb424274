"""Where the runtime keeps state between runs that belongs to no bundle: the user's cache.

Never the current directory: a service on a camera starts wherever its unit file says, and state
left there is lost or, worse, found by the wrong run.
"""

from __future__ import annotations

import os
from pathlib import Path


def user_cache_dir(*parts: str) -> Path:
    """``$XDG_CACHE_HOME/gain-mtl/PARTS`` (``~/.cache`` when the variable is unset or empty)."""
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base.joinpath("gain-mtl", *parts)
