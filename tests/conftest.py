"""Shared fixtures: paths to the real dataset and small data built per session."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[1]
MAGNETIC_TILE = REPO.parent / "shared" / "datasets" / "magnetic-tile"


@pytest.fixture(scope="session")
def magnetic_tile_root() -> Path:
    if not MAGNETIC_TILE.is_dir():
        pytest.skip(f"real data absent: {MAGNETIC_TILE} not found (the public Magnetic Tile dataset)")
    return MAGNETIC_TILE


def benchmark_script(name: str) -> ModuleType:
    """``benchmarks/NAME.py`` as a module (the folder is scripts, not a package); registered in
    ``sys.modules`` because dataclasses look their module up there."""
    spec = importlib.util.spec_from_file_location(name, REPO / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
