"""`gainctl keygen`, `run/bench --trust-key` and `run --threshold` on a tiny signed bundle.

Every refusal: exit code 2, a message naming the file and the fix, nothing written.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from edge.signing import load_private_key, sign_bundle
from gain_mtl.cli import main
from tests.helpers.tiny_bundle import build_tiny_bundle, write_video


@pytest.fixture(scope="module")
def line(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """An unsigned and a signed bundle, the key pair that signed it, a short video."""
    root = tmp_path_factory.mktemp("signed")
    result = CliRunner().invoke(main, ["keygen", str(root / "line")])
    assert result.exit_code == 0, result.output
    unsigned = build_tiny_bundle(root / "unsigned")
    signed = Path(shutil.copytree(unsigned, root / "signed"))
    sign_bundle(signed, load_private_key(root / "line"))
    write_video(root / "v.avi", 5)
    return {"unsigned": unsigned, "signed": signed, "key": root / "line", "pub": root / "line.pub", "video": root / "v.avi"}


def _run(line: dict[str, Path], bundle: Path, *args: str, journal: Path | None = None):
    sink = ["--sink", f"journal:{journal}"] if journal else []
    return CliRunner().invoke(main, ["run", "--model", str(bundle), "--source", str(line["video"]),
                                     "--backend", "onnxruntime", *sink, *args])


def _edit_threshold(bundle: Path, tmp_path: Path, value: float = 0.9) -> Path:
    copy = Path(shutil.copytree(bundle, tmp_path / "edited"))
    data = json.loads((copy / "bundle.json").read_text())
    data["thresholds"]["fp32"]["onnx"] = value
    (copy / "bundle.json").write_text(json.dumps(data, indent=2))
    return copy


def _decisions(journal: Path) -> list[dict]:
    return [e for e in map(json.loads, journal.read_text().splitlines()) if e["kind"] == "decision"]


def test_keygen_refuses_to_overwrite(line: dict[str, Path]) -> None:
    before = line["key"].read_bytes()
    result = CliRunner().invoke(main, ["keygen", str(line["key"])])
    assert result.exit_code == 2 and "already exists" in result.output
    assert line["key"].read_bytes() == before


def test_a_bundle_signed_by_the_trusted_key_runs(line: dict[str, Path], tmp_path: Path) -> None:
    result = _run(line, line["signed"], "--trust-key", str(line["pub"]), journal=tmp_path / "j.jsonl")
    assert result.exit_code == 0, result.output
    assert len(_decisions(tmp_path / "j.jsonl")) == 5


def test_an_unsigned_bundle_is_refused_under_a_trust_key(line: dict[str, Path], tmp_path: Path) -> None:
    result = _run(line, line["unsigned"], "--trust-key", str(line["pub"]), journal=tmp_path / "j.jsonl")
    assert result.exit_code == 2
    assert "bundle.sig: missing; the bundle is not signed" in result.output and "--sign-key" in result.output
    assert not (tmp_path / "j.jsonl").exists()


def test_a_bundle_signed_by_another_key_is_refused(line: dict[str, Path], tmp_path: Path) -> None:
    assert CliRunner().invoke(main, ["keygen", str(tmp_path / "other")]).exit_code == 0
    result = _run(line, line["signed"], "--trust-key", str(tmp_path / "other.pub"))
    assert result.exit_code == 2 and "not by the trusted key" in result.output


@pytest.mark.parametrize("trusted", [True, False])
def test_an_edited_threshold_is_refused(line: dict[str, Path], tmp_path: Path, trusted: bool) -> None:
    edited = _edit_threshold(line["signed"], tmp_path)
    args = ["--trust-key", str(line["pub"])] if trusted else []
    result = _run(line, edited, *args, journal=tmp_path / "j.jsonl")
    assert result.exit_code == 2
    if trusted:
        assert "bundle.json was changed after it was signed" in result.output
    else:
        assert "disagrees with the description the export mirrored into" in result.output
        assert "model.onnx" in result.output and "pass --threshold" in result.output
    assert not (tmp_path / "j.jsonl").exists()


def test_a_threshold_given_by_hand_runs_and_every_event_says_so(line: dict[str, Path], tmp_path: Path) -> None:
    edited = _edit_threshold(line["unsigned"], tmp_path)
    result = _run(line, edited, "--threshold", "0.7", journal=tmp_path / "j.jsonl")
    assert result.exit_code == 0, result.output
    assert "deciding at --threshold 0.7000 instead of the bundle's 0.9000" in result.output
    decisions = _decisions(tmp_path / "j.jsonl")
    assert decisions and all(d["threshold"] == 0.7 for d in decisions)
    assert all(d["detail"] == {"threshold_overridden": True, "bundle_threshold": 0.9} for d in decisions)


def test_events_of_a_plain_run_carry_no_override(line: dict[str, Path], tmp_path: Path) -> None:
    assert _run(line, line["unsigned"], journal=tmp_path / "j.jsonl").exit_code == 0
    assert all("detail" not in d for d in _decisions(tmp_path / "j.jsonl"))


def test_an_edited_localization_threshold_is_refused_even_with_a_threshold(line: dict[str, Path], tmp_path: Path) -> None:
    copy = Path(shutil.copytree(line["unsigned"], tmp_path / "edited"))
    data = json.loads((copy / "bundle.json").read_text())
    data["localization_threshold"] = 0.1
    (copy / "bundle.json").write_text(json.dumps(data))
    result = _run(line, copy, "--threshold", "0.5")
    assert result.exit_code == 2 and "localization_threshold" in result.output and "pass --threshold" not in result.output


def test_a_model_file_edited_under_a_signed_manifest_is_refused(line: dict[str, Path], tmp_path: Path) -> None:
    copy = Path(shutil.copytree(line["signed"], tmp_path / "edited"))
    (copy / "model.onnx").write_bytes((copy / "model.onnx").read_bytes() + b"\0")
    result = _run(line, copy, "--trust-key", str(line["pub"]))
    assert result.exit_code == 2 and "model.onnx: artifact does not match the sha256" in result.output


@pytest.mark.parametrize("content, message", [(None, "public key not found"), (b"garbage", "not a PEM public key")])
def test_an_unusable_trust_key_is_named(line: dict[str, Path], tmp_path: Path, content: bytes | None, message: str) -> None:
    key = tmp_path / "trusted.pub"
    if content is not None:
        key.write_bytes(content)
    result = _run(line, line["signed"], "--trust-key", str(key))
    assert result.exit_code == 2 and f"trusted.pub: {message}" in result.output


def test_the_private_key_as_trust_key_is_refused(line: dict[str, Path]) -> None:
    result = _run(line, line["signed"], "--trust-key", str(line["key"]))
    assert result.exit_code == 2 and "give the cameras only its public half" in result.output


@pytest.mark.parametrize("case", ["unsigned-trusted", "edited"])
def test_bench_refuses_as_run_does(line: dict[str, Path], tmp_path: Path, case: str) -> None:
    bundle = line["unsigned"] if case == "unsigned-trusted" else _edit_threshold(line["unsigned"], tmp_path)
    args = ["--trust-key", str(line["pub"])] if case == "unsigned-trusted" else []
    result = CliRunner().invoke(main, ["bench", "--model", str(bundle), "--out", str(tmp_path / "report"),
                                       "--backends", "onnxruntime", "--precisions", "fp32", "--runs", "1", *args])
    assert result.exit_code == 2
    assert ("bundle is not signed" if case == "unsigned-trusted" else "disagrees with the description") in result.output
    assert not (tmp_path / "report").exists()


def test_export_refuses_an_unusable_signing_key_before_exporting(line: dict[str, Path], tmp_path: Path) -> None:
    (tmp_path / "key").write_text("garbage")
    result = CliRunner().invoke(main, ["export", "--checkpoint", str(tmp_path / "best.pt"), "--data", str(tmp_path),
                                       "--out", str(tmp_path / "bundle"), "--sign-key", str(tmp_path / "key")])
    assert result.exit_code == 2 and "key: not a PEM private key" in result.output
    assert not (tmp_path / "bundle").exists()
