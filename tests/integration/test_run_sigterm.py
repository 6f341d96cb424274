"""SIGTERM to a running `gainctl run`: it stops capturing, decides every frame it captured, and
prints the summary; nothing captured is left without a decision."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.helpers.tiny_bundle import build_tiny_bundle, write_video


def _decisions(journal: Path) -> list[dict]:
    if not journal.exists():
        return []
    lines = journal.read_text().splitlines()
    return [e for e in (json.loads(line) for line in lines if line.strip()) if "decision" in e]


def test_sigterm_delivers_every_captured_frame_and_summarises(tmp_path: Path) -> None:
    bundle = build_tiny_bundle(tmp_path / "bundle")
    frames = 4000
    write_video(tmp_path / "long.avi", frames)
    journal = tmp_path / "j.jsonl"
    # A long video, stopped while it is still being read.
    proc = subprocess.Popen([sys.executable, "-m", "gain_mtl", "run", "--model", str(bundle), "--source",
                             str(tmp_path / "long.avi"), "--backend", "onnxruntime", "--sink", f"journal:{journal}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while len(_decisions(journal)) < 50 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert proc.poll() is None, "the run ended before it could be stopped; make the video longer"
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr
    assert "stopping; delivering queued decisions" in stderr and "summary: frames=" in stderr
    decided = [e["frame"] for e in _decisions(journal)]
    assert 50 <= len(decided) < frames                      # stopped mid-stream ...
    assert decided == list(range(len(decided)))             # ... with every captured frame decided, in order
    summary = stderr.split("summary: ", 1)[1]
    assert f"frames={len(decided)} " in summary
