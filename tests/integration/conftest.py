"""Session fixtures for the export tests: synthetic data, one briefly trained run, one bundle.

Training and exporting are the slow parts (seconds each on 2 cores), so each happens once per
session and every export test reads the same run and the same INT8 bundle.
"""

from __future__ import annotations

from pathlib import Path

import pytest

EXPORT_EPOCHS = 6
GUARD = 0.5


@pytest.fixture(scope="session")
def export_data(tmp_path_factory) -> Path:
    from gain_mtl.data.synth import synthesize

    return synthesize(tmp_path_factory.mktemp("export-data") / "data", n_normal=80, n_defective=80, size=64, seed=11)


@pytest.fixture(scope="session")
def export_run(export_data, tmp_path_factory) -> Path:
    """A short S5 run of the demo config (offline-pretrained EfficientNet-Lite0) at 64x64.

    A pretrained backbone separates the synthetic classes within a few epochs, so INT8 agreement is
    measured on scores that mean something (timm's test_efficientnet from scratch stays near a
    constant score at this budget).
    """
    from gain_mtl.config import load_config
    from gain_mtl.train.trainer import train

    config = load_config("demo", ["data.image_size=64", f"train.epochs={EXPORT_EPOCHS}", "train.strategy=S5"])
    return train(config, export_data, tmp_path_factory.mktemp("export-run") / "run")


@pytest.fixture(scope="session")
def int8_bundle(export_run, export_data, tmp_path_factory) -> Path:
    """The INT8 bundle, written through the CLI as a user would (both INT8 routes).

    ``--accuracy-guard`` takes NNCF's accuracy-control route. The drop is wide so that the bundle is
    written and the INT8 agreement can be measured by the tests (at the export's default of 0.05
    this model's OpenVINO INT8 is refused: agreement 0.90); the gate refusing a bundle is tested
    with a forced failure.
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
