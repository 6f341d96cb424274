"""On a camera with the edge extra only, train, eval and export say in one line which extra they need."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

# Makes the `train` extra's libraries absent from the process, as on an edge-only install.
HOOK = '''
import sys

ABSENT = {"torch", "torchvision", "timm", "yaml", "onnx", "onnxscript", "nncf", "scipy", "sklearn", "matplotlib"}


class Absent:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ABSENT:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


sys.meta_path.insert(0, Absent())
'''


@pytest.mark.parametrize("command", [
    ["train", "--data", "DATA", "--out", "OUT"],
    ["eval", "--checkpoint", "DATA/best.pt", "--data", "DATA", "--out", "OUT"],
    ["export", "--checkpoint", "DATA/best.pt", "--data", "DATA", "--out", "OUT"],
])
def test_a_command_without_its_extra_names_it(tmp_path: Path, command: list[str]) -> None:
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(HOOK)
    (tmp_path / "data").mkdir()
    args = [a.replace("DATA", str(tmp_path / "data")).replace("OUT", str(tmp_path / "out")) for a in command]
    result = subprocess.run([sys.executable, "-m", "gain_mtl", *args], env=dict(os.environ, PYTHONPATH=str(hook)),
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stderr
    one_line = rf"Error: gainctl {command[0]} needs the 'train' extra \(\w+ is not installed here\): pip install 'gain-mtl\[train\]'"
    assert re.fullmatch(one_line, result.stderr.strip()), result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "out").exists()
