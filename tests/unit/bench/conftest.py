"""A tiny bundle, a small test split in the design's layout, and one bench run shared by the tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.helpers.tiny_bundle import PATCH, build_tiny_bundle, synth_frame


@pytest.fixture(scope="session")
def tiny_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("onnx", reason="building the tiny bundle needs onnx")
    return build_tiny_bundle(tmp_path_factory.mktemp("bench") / "bundle")


@pytest.fixture(scope="session")
def test_split(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """images/test/{normal,defective} and masks/defective, written through OpenCV."""
    import cv2

    root = tmp_path_factory.mktemp("bench-data")
    for label in ("normal", "defective"):
        (root / "images" / "test" / label).mkdir(parents=True)
    (root / "masks" / "defective").mkdir(parents=True)
    for i in range(5):
        cv2.imwrite(str(root / "images" / "test" / "normal" / f"n{i}.png"), synth_frame(False, seed=i))
        frame = synth_frame(True, seed=100 + i)
        cv2.imwrite(str(root / "images" / "test" / "defective" / f"d{i}.png"), frame)
        mask = np.where(frame[..., 0] >= PATCH - 1, 255, 0).astype(np.uint8)
        cv2.imwrite(str(root / "masks" / "defective" / f"d{i}.png"), mask)
    return root


@pytest.fixture(scope="session")
def line_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A short MJPG video of the line: every third frame defective."""
    import cv2

    path = tmp_path_factory.mktemp("bench-video") / "line.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25.0, (96, 72))
    assert writer.isOpened(), "OpenCV cannot write MJPG video here"
    for i in range(30):
        writer.write(synth_frame(i % 3 == 0, seed=i))
    writer.release()
    return path
