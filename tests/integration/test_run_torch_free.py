"""`gainctl run` works where torch cannot be imported, and imports no training code."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.tiny_bundle import build_tiny_bundle, write_video

HOOK = '''
import sys

# The CLI plumbing `run` needs; each of these imports click and the standard library alone.
ALLOWED = {"gain_mtl", "gain_mtl.__main__", "gain_mtl.cli", "gain_mtl.cli.errors",
           "gain_mtl.cli.extras", "gain_mtl.cli.library_log"}


class Refuse:
    """Make torch (and any training module) impossible to import in this process."""

    def find_spec(self, name, path=None, target=None):
        root = name.split(".")[0]
        if root in ("torch", "torchvision", "timm") or (root == "gain_mtl" and name not in ALLOWED):
            raise ImportError(f"{name} is not importable on an inspection camera")
        return None


sys.meta_path.insert(0, Refuse())
'''


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("serve", [False, True], ids=["line", "line-with-monitor"])
def test_run_without_torch(tmp_path: Path, serve: bool) -> None:
    """The camera's install: no torch, no training code; the live monitor (--serve) included."""
    bundle = build_tiny_bundle(tmp_path / "bundle")
    labels = write_video(tmp_path / "v.avi", 10)
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(HOOK)
    env = dict(os.environ, PYTHONPATH=str(hook))
    probe = subprocess.run([sys.executable, "-c", "import torch"], env=env, capture_output=True, text=True)
    assert probe.returncode != 0 and "not importable" in probe.stderr   # the hook is active
    journal = tmp_path / "j.jsonl"
    result = subprocess.run([sys.executable, "-m", "gain_mtl", "run", "--model", str(bundle), "--source",
                             str(tmp_path / "v.avi"), "--backend", "onnxruntime", "--sink", f"journal:{journal}",
                             *(["--serve", f"127.0.0.1:{_free_port()}"] if serve else [])],
                            env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert ("gainctl run: monitor on http://127.0.0.1:" in result.stderr) == serve
    decisions = [json.loads(l) for l in journal.read_text().splitlines() if '"decision"' in l and '"kind":"decision"' in l]
    assert [d["decision"] == "reject" for d in decisions] == labels
