"""Session fixtures for the export tests: synthetic data, one briefly trained tiny run, one bundle.

Training and exporting are the slow parts (seconds each on 2 cores), so each happens once per
session and every export test reads the same run and the same INT8 bundle.
"""

from __future__ import annotations

from pathlib import Path

import pytest

EXPORT_EPOCHS = 10
GUARD = 0.05
# Defects drawn this much stronger than the built-in difficulty, so that timm's tiny test network,
# trained from scratch for a few seconds, separates the classes (at contrast 1 it does not within
# a test budget, and INT8 agreement means little on scores that do not rank the parts).
CONTRAST = 4.0


@pytest.fixture(scope="session")
def export_data(tmp_path_factory) -> Path:
    from gain_mtl.data.synth import synthesize

    return synthesize(tmp_path_factory.mktemp("export-data") / "data", n_normal=120, n_defective=120, size=64, seed=11,
                      contrast=CONTRAST)


@pytest.fixture(scope="session")
def export_run(export_data, tmp_path_factory) -> Path:
    """A tiny S5 run (timm test_efficientnet at 64x64), trained for a few epochs (seconds)."""
    from gain_mtl.config import load_config
    from gain_mtl.train.trainer import train

    config = load_config("tiny", [f"train.epochs={EXPORT_EPOCHS}", "train.strategy=S5"])
    return train(config, export_data, tmp_path_factory.mktemp("export-run") / "run")


@pytest.fixture(scope="session")
def int8_bundle(export_run, export_data, tmp_path_factory) -> Path:
    """The INT8 bundle, written through the CLI as a user would (both INT8 routes).

    ``--accuracy-guard`` takes NNCF's accuracy-control route, at the default drop of 0.05: the
    export itself refuses INT8 that loses more than that of recall or decision agreement. The
    robustness table is measured but not guarded (``--robustness-guard 0``): a network trained from
    scratch for seconds on 64 px synthetic parts flips under brightness changes, which is what the
    guard is for, not what these tests are about.
    """
    from click.testing import CliRunner

    from gain_mtl.cli import main

    out = tmp_path_factory.mktemp("export-bundle") / "bundle"
    result = CliRunner().invoke(main, [
        "export", "--checkpoint", str(export_run / "checkpoints" / "best.pt"), "--data", str(export_data),
        "--out", str(out), "--int8", "--targets", "onnx,openvino", "--accuracy-guard", str(GUARD),
        "--robustness-guard", "0",
    ])
    assert result.exit_code == 0, result.output + repr(result.exception)
    return out
