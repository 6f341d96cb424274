"""`gainctl export` publishes a bundle only complete: signed and with its log, or not at all.

The slow part (the builder) is replaced by one that writes a tiny bundle, so what is checked is
what the export does around it: the log, the signature, the rename.
"""

from __future__ import annotations

import logging
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from click.testing import CliRunner

from edge.bench.synthetic import build_tiny_bundle
from edge.signing import SignatureError, generate_key_pair, load_signed_bundle
from gain_mtl.cli import main

LIBRARY_MESSAGE = "a library's advice during the build"


class TinyBuilder:
    """Stands for ``BundleBuilder``: a tiny bundle, and one library message on the way."""

    def __init__(self, run: Any, data_root: Path, folder: Path, options: dict[str, Any]) -> None:
        self.folder = folder

    def build(self) -> None:
        logging.getLogger("nncf").info(LIBRARY_MESSAGE)
        build_tiny_bundle(self.folder, openvino=False)


@pytest.fixture()
def tiny_export(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, Path]:
    """``gainctl export`` with the tiny builder and a run that needs no checkpoint; a key pair to sign with."""
    from gain_mtl.export import exporter

    settings = SimpleNamespace(calib_size=8, calib_method="minmax", target_recall=0.95, recall_confidence=0.9)
    run = SimpleNamespace(meta={}, config=SimpleNamespace(export=settings, train=settings))
    monkeypatch.setattr(exporter, "load_run", lambda checkpoint, data_root: run)
    monkeypatch.setattr(exporter, "BundleBuilder", TinyBuilder)
    private, public = generate_key_pair(tmp_path / "line")
    return {"key": private, "pub": public, "out": tmp_path / "b"}


def _export(tiny_export: dict[str, Path]):
    return CliRunner().invoke(main, ["export", "--checkpoint", "best.pt", "--data", "data", "--targets", "onnx",
                                     "--out", str(tiny_export["out"]), "--sign-key", str(tiny_export["key"])])


def test_a_signed_export_appears_signed_and_with_its_log(tiny_export: dict[str, Path]) -> None:
    out = tiny_export["out"]
    result = _export(tiny_export)
    assert result.exit_code == 0, result.output
    assert f"library messages: {out / 'export.log'}" in result.output and f"signed: {out / 'bundle.sig'}" in result.output
    load_signed_bundle(out, tiny_export["pub"])
    assert LIBRARY_MESSAGE in (out / "export.log").read_text()


def test_a_failed_signature_leaves_no_bundle(tiny_export: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    import edge.signing

    def failing(folder: Path, private_key: Any) -> Path:
        raise SignatureError(f"{folder}: cannot write the signature (disk full)")

    monkeypatch.setattr(edge.signing, "sign_bundle", failing)
    result = _export(tiny_export)
    assert result.exit_code == 2 and "cannot write the signature (disk full)" in result.output
    out = tiny_export["out"]
    assert not out.exists() and not list(out.parent.glob(".b.*"))
