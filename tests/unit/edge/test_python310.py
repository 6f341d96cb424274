"""edge/ runs on a Jetson's Python 3.10: no newer syntax or standard library."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

EDGE = Path(__file__).resolve().parents[3] / "edge"


def test_edge_needs_at_most_python_3_10() -> None:
    vermin = shutil.which("vermin", path=str(Path(sys.executable).parent)) or shutil.which("vermin")
    if vermin is None:
        pytest.skip("vermin is not installed (dev extra)")
    result = subprocess.run([vermin, "--target=3.10-", "--no-tips", "--violations", "--eval-annotations", str(EDGE)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
