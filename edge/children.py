"""Child processes of the kit: ``python -m edge...`` started with the same ``edge`` as the parent's."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Dict

# Secrets the parent may hold in its environment that a child is given another way (or not at all).
WITHHELD = ("GAINCTL_SERVE_TOKEN",)


def child_options() -> Dict[str, Any]:
    """``subprocess.Popen`` options for ``python -m edge...``: this ``edge`` importable, and nothing else slipped in.

    A run from a source tree (a benchmark that put the tree on ``sys.path``) must start the same code
    in its children, not whatever ``edge`` the interpreter would find on its own. ``python -m`` puts
    the working directory first on ``sys.path``, so the child starts in the folder holding ``edge``:
    a ``starlette.py`` in the operator's folder is not imported with the monitor's token at hand.
    """
    package_root = str(Path(__file__).resolve().parents[1])
    env = {k: v for k, v in os.environ.items() if k not in WITHHELD}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")]))
    return {"env": env, "cwd": package_root}
