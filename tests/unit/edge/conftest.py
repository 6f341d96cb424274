"""Fixtures for the edge tests: a tiny bundle built once per session (no torch)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.tiny_bundle import build_tiny_bundle


@pytest.fixture(scope="session")
def tiny_bundle_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_bundle(tmp_path_factory.mktemp("bundle") / "tiny")
