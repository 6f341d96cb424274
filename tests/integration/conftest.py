"""Session fixtures for the export tests: synthetic data, one briefly trained tiny run, one bundle.

Training and exporting are the slow parts (seconds each on 2 cores), so each happens once per
session and every export test reads the same run and the same INT8 bundle.
"""

from __future__ import annotations

from pathlib import Path

import pytest

EXPORT_EPOCHS = 3
GUARD = 0.5


@pytest.fixture(scope="session")
def export_data(tmp_path_factory) -> Path:
    from gain_mtl.data.synth import synthesize

    return synthesize(tmp_path_factory.mktemp("export-data") / "data", n_normal=32, n_defective=32, size=64, seed=11)


@pytest.fixture(scope="session")
def export_run(export_data, tmp_path_factory) -> Path:
    """A tiny S5 run (timm test_efficientnet at 64x64), trained for a few epochs.

    The checkpoint is picked by validation AUROC: a model this brief is often still near a constant
    score, and AUROC picks the epoch that separates the classes best.
    """
    from gain_mtl.config import load_config
    from gain_mtl.train.trainer import train

    config = load_config("tiny", [f"train.epochs={EXPORT_EPOCHS}", "train.strategy=S5"])
    return train(config, export_data, tmp_path_factory.mktemp("export-run") / "run")


@pytest.fixture(scope="session")
def int8_bundle(export_run, export_data, tmp_path_factory) -> Path:
    """The INT8 bundle, written through the CLI as a user would (both INT8 routes).

    ``--accuracy-guard`` takes NNCF's accuracy-control route. Its drop is wide on purpose: a model
    trained for three epochs scores every image within a hair of one value, so a 1e-4 rounding
    flips decisions and a strict gate would refuse it (rightly). The strict gate is tested with a
    forced failure; INT8 agreement is asserted where the FP32 model separates the classes.
    """
    from click.testing import CliRunner

    from gain_mtl.cli import main

    out = tmp_path_factory.mktemp("export-bundle") / "bundle"
    result = CliRunner().invoke(main, [
        "export", "--checkpoint", str(export_run / "checkpoints" / "best.pt"), "--data", str(export_data),
        "--out", str(out), "--int8", "--targets", "onnx,openvino", "--accuracy-guard", str(GUARD),
    ])
    assert result.exit_code == 0, result.output + repr(result.exception)
    return out
