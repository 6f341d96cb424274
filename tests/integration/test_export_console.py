"""An INT8 export's console holds the kit's messages; the libraries' go to OUT/export.log. Signed on request.

Run in a subprocess: NNCF's handler writes to the process's real stdout, which CliRunner does not capture.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from edge.mirror import check_mirrors
from edge.signing import SIGNATURE_FILE, generate_key_pair, load_signed_bundle
from gain_mtl.export.exporter import unknown_entries

pytestmark = pytest.mark.slow

LIBRARY_LINES = ("INFO:nncf", "pre-processing", "No CUDA runtime")


def test_int8_export_keeps_library_messages_off_the_console_and_signs(tmp_path: Path, export_run: Path,
                                                                     export_data: Path) -> None:
    private, public = generate_key_pair(tmp_path / "line")
    out = tmp_path / "bundle"
    # The robustness guard is off as in conftest's int8_bundle: the seconds-trained network is not what it is for.
    result = subprocess.run([
        sys.executable, "-m", "gain_mtl", "export", "--checkpoint", str(export_run / "checkpoints" / "best.pt"),
        "--data", str(export_data), "--out", str(out), "--int8", "--targets", "onnx,openvino",
        "--robustness-guard", "0", "--sign-key", str(private),
    ], capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout + result.stderr
    console = result.stdout + result.stderr
    assert not [line for line in LIBRARY_LINES if line in console], console
    assert f"library messages: {out / 'export.log'}" in console and f"signed: {out / SIGNATURE_FILE}" in console
    log = (out / "export.log").read_text()
    assert "nncf" in log and "pre-processing" in log
    check_mirrors(load_signed_bundle(out, public))  # every model file agrees with the signed manifest
    assert unknown_entries(out) == []  # everything an export writes is known, so --force may replace it
