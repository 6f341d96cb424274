"""benchmarks/quality.py's own arithmetic: recall at equal precision, and a command line that names
no folder of the machine it ran on."""

from __future__ import annotations

import importlib.util

import pytest

from tests.conftest import REPO


@pytest.fixture(scope="module")
def quality():
    spec = importlib.util.spec_from_file_location("quality", REPO / "benchmarks" / "quality.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _rows(scored: list[tuple[float, int]]) -> list[dict[str, str]]:
    return [{"prob": str(p), "label": str(y)} for p, y in scored]


def test_recall_at_precision_is_the_best_cut_that_keeps_the_precision(quality):
    # ranked: 1 1 0 1 0 1 -> cuts: P 1, 1, .67, .75, .6, .67 / R .25, .5, .5, .75, .75, 1
    rows = _rows([(0.9, 1), (0.8, 1), (0.7, 0), (0.6, 1), (0.5, 0), (0.4, 1)])
    assert quality.recall_at_precision(rows, 0.75) == pytest.approx(0.75)
    assert quality.recall_at_precision(rows, 0.6) == pytest.approx(1.0)
    assert quality.recall_at_precision(rows, 1.0) == pytest.approx(0.5)
    assert quality.recall_at_precision(_rows([(0.9, 0), (0.1, 1)]), 0.9) == 0.0


def test_the_reported_command_leaves_out_the_folders(quality):
    args = ["--work", "/scratch/q", "--strategies", "S5", "--source=/data/mt", "--set", "train.amp=bf16"]
    assert quality.public_args(args) == ["--strategies", "S5", "--set", "train.amp=bf16"]
