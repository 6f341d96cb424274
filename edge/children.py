"""Child processes of the kit: ``python -m edge...`` started with the same ``edge`` as the parent's."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Dict


def python_env() -> Dict[str, str]:
    """The environment for ``python -m edge...`` in a child: this process's, with this ``edge`` importable.

    A run from a source tree (a benchmark that put the tree on ``sys.path``) must start the same
    code in its children, not whatever ``edge`` the interpreter would find on its own.
    """
    package_root = str(Path(__file__).resolve().parents[1])
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")]))}
