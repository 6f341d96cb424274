"""The CLI lists every command and stays cheap to import."""

from __future__ import annotations

import subprocess
import sys

from click.testing import CliRunner

from gain_mtl.cli import COMMANDS, main


def test_help_lists_every_command() -> None:
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    for name in ("data", "train", "eval", "export", "run", "bench"):
        assert name in result.output
    assert set(COMMANDS) == {"data", "train", "eval", "export", "run", "bench"}


def test_help_imports_no_torch() -> None:
    code = "import sys; from gain_mtl.cli import main; import gain_mtl; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
