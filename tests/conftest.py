"""Shared fixtures: paths to the real dataset and small data built per session."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
MAGNETIC_TILE = REPO.parent / "shared" / "datasets" / "magnetic-tile"


@pytest.fixture(scope="session")
def magnetic_tile_root() -> Path:
    if not MAGNETIC_TILE.is_dir():
        pytest.skip(f"real data absent: {MAGNETIC_TILE} not found (the public Magnetic Tile dataset)")
    return MAGNETIC_TILE
