"""Signed bundles: a key pair made here signs a tiny bundle; every edit after signing is refused."""

from __future__ import annotations

import json
import os
import shutil
import stat
from pathlib import Path

import pytest

from edge.signing import (
    SIGNATURE_FILE,
    SignatureError,
    generate_key_pair,
    load_private_key,
    load_public_key,
    load_signed_bundle,
    sign_bundle,
)


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return generate_key_pair(tmp_path_factory.mktemp("keys") / "line")


@pytest.fixture()
def signed(tiny_bundle_dir: Path, keys: tuple[Path, Path], tmp_path: Path) -> Path:
    copy = Path(shutil.copytree(tiny_bundle_dir, tmp_path / "bundle"))
    sign_bundle(copy, load_private_key(keys[0]))
    return copy


def test_keygen_writes_a_private_key_only_its_owner_reads(keys: tuple[Path, Path]) -> None:
    private, public = keys
    assert public == private.with_name("line.pub")
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert b"BEGIN PRIVATE KEY" in private.read_bytes() and b"BEGIN PUBLIC KEY" in public.read_bytes()


@pytest.mark.parametrize("existing", ["line", "line.pub"])
def test_keygen_never_overwrites_and_leaves_nothing_half_written(tmp_path: Path, existing: str) -> None:
    (tmp_path / existing).write_text("an old key")
    with pytest.raises(SignatureError, match=f"{existing} already exists"):
        generate_key_pair(tmp_path / "line")
    assert sorted(os.listdir(tmp_path)) == [existing]
    assert (tmp_path / existing).read_text() == "an old key"


def test_keygen_into_a_missing_folder_names_it(tmp_path: Path) -> None:
    with pytest.raises(SignatureError, match="folder not found"):
        generate_key_pair(tmp_path / "nowhere" / "line")


def test_a_signed_bundle_loads_with_its_public_key(signed: Path, keys: tuple[Path, Path]) -> None:
    bundle = load_signed_bundle(signed, keys[1])
    assert bundle.spec.thresholds == {"fp32": {"onnx": 0.5, "openvino": 0.5}}
    assert json.loads((signed / SIGNATURE_FILE).read_text())["algorithm"] == "ed25519"


def test_another_key_is_named_in_the_refusal(signed: Path, tmp_path: Path) -> None:
    _, other = generate_key_pair(tmp_path / "other")
    with pytest.raises(SignatureError, match="signed by key [0-9a-f]{16}, not by the trusted key [0-9a-f]{16}"):
        load_signed_bundle(signed, other)


def test_an_unsigned_bundle_is_refused_with_the_fix(tiny_bundle_dir: Path, keys: tuple[Path, Path]) -> None:
    with pytest.raises(SignatureError, match="bundle.sig: missing; the bundle is not signed.*--sign-key"):
        load_signed_bundle(tiny_bundle_dir, keys[1])


def test_a_threshold_edited_after_signing_is_refused(signed: Path, keys: tuple[Path, Path]) -> None:
    data = json.loads((signed / "bundle.json").read_text())
    data["thresholds"]["fp32"]["onnx"] = 0.9
    (signed / "bundle.json").write_text(json.dumps(data, indent=2))
    with pytest.raises(SignatureError, match="bundle.json was changed after it was signed"):
        load_signed_bundle(signed, keys[1])


def test_a_model_file_replaced_under_a_signed_manifest_is_refused(signed: Path, keys: tuple[Path, Path]) -> None:
    (signed / "model.onnx").write_bytes((signed / "model.onnx").read_bytes() + b"\0")
    with pytest.raises(ValueError, match="model.onnx: artifact does not match the sha256"):
        load_signed_bundle(signed, keys[1])


@pytest.mark.parametrize("content", ["not json", json.dumps({"algorithm": "rsa", "signed_file": "bundle.json"}),
                                     json.dumps({"algorithm": "ed25519", "signed_file": "bundle.json",
                                                 "key_fingerprint": "0", "signature": "***"})])
def test_a_garbage_signature_file_is_refused(signed: Path, keys: tuple[Path, Path], content: str) -> None:
    (signed / SIGNATURE_FILE).write_text(content)
    with pytest.raises(SignatureError, match="bundle.sig: not a bundle signature"):
        load_signed_bundle(signed, keys[1])


@pytest.mark.parametrize("content, message", [
    (b"garbage", "not a PEM private key; make a key pair with 'gainctl keygen KEY'"),
    (None, "private key not found"),
])
def test_an_unusable_private_key_is_named(tmp_path: Path, content: bytes | None, message: str) -> None:
    if content is not None:
        (tmp_path / "key").write_bytes(content)
    with pytest.raises(SignatureError, match=message):
        load_private_key(tmp_path / "key")


def test_each_half_of_a_pair_passed_for_the_other_says_so(keys: tuple[Path, Path]) -> None:
    with pytest.raises(SignatureError, match="it is a public key: pass the private one"):
        load_private_key(keys[1])
    with pytest.raises(SignatureError, match="it is a private key: give the cameras only its public half"):
        load_public_key(keys[0])


def test_a_key_of_another_algorithm_is_refused(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    (tmp_path / "ec").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                    serialization.NoEncryption()))
    with pytest.raises(SignatureError, match="not an Ed25519 private key"):
        load_private_key(tmp_path / "ec")


def test_an_unreadable_key_file_is_named(tmp_path: Path) -> None:
    (tmp_path / "keys").mkdir()  # unreadable as a file, even for root
    with pytest.raises(SignatureError, match="keys: cannot read the private key"):
        load_private_key(tmp_path / "keys")
