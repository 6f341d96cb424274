"""Ed25519 signatures over a bundle's manifest: who exported it, and that nobody edited it since.

``bundle.json`` lists every artifact with its sha256, which catches a half-copied file but not
someone who edits a threshold and rewrites the list to match. A signature over the exact bytes of
``bundle.json`` closes that: with the manifest signed and each artifact's hash checked against the
signed manifest, every byte the line decides with is covered by one key. The signature lives
beside the manifest in ``bundle.sig`` (the manifest cannot hold its own signature), as JSON that
names the signed file and the signing key's fingerprint, so a refusal can say whose key it was.

Keys are PEM files: the private key (PKCS#8, written 0600) stays with whoever exports; the public
key (SubjectPublicKeyInfo) goes to the cameras. ``cryptography`` is imported only here, and only
when a key is used, so an unsigned workflow never needs it.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import json
import os
from pathlib import Path
from typing import Any

from edge.atomic import atomic_write_json
from edge.bundle import BUNDLE_FILE, Bundle, BundleError, BundleSpec, load_bundle

SIGNATURE_FILE = "bundle.sig"
ALGORITHM = "ed25519"
PUBLIC_SUFFIX = ".pub"
KEYGEN_HINT = "make a key pair with 'gainctl keygen KEY'"


class SignatureError(BundleError):
    """A key or a signature that cannot be used: the message names the file and what to do."""


def _crypto() -> Any:
    """The Ed25519 and serialization modules of ``cryptography`` (in the ``edge`` extra)."""
    try:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ed25519
    except ImportError as exc:
        raise SignatureError("signing and checking bundles needs cryptography: pip install 'gain-mtl[edge]'") from exc
    return ed25519, serialization


def fingerprint(public_key: Any) -> str:
    """First 16 hex digits of the sha256 of the raw public key: enough to tell keys apart in a message."""
    _, serialization = _crypto()
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def generate_key_pair(private_path: str | os.PathLike) -> tuple[Path, Path]:
    """Write a new private key to ``private_path`` (0600) and its public key beside it (``.pub``).

    Refuses when either file exists: overwriting a private key would orphan every bundle it signed.
    Both files are complete or absent: each is written under a temporary name, then hard-linked to
    its final name (which fails rather than replaces), and a failure removes what was placed.
    """
    ed25519, serialization = _crypto()
    private_path = Path(private_path)
    public_path = private_path.with_name(private_path.name + PUBLIC_SUFFIX)
    for path in (private_path, public_path):
        if path.exists():
            raise _exists(path)
    if not private_path.parent.is_dir():
        raise SignatureError(f"{private_path.parent}: folder not found; create it or choose another path for the key")
    key = ed25519.Ed25519PrivateKey.generate()
    private_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
    public_pem = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    placed: list[Path] = []
    try:
        _place_new(private_path, private_pem, 0o600)
        placed.append(private_path)
        _place_new(public_path, public_pem, 0o666)
    except BaseException:
        for path in placed:
            path.unlink()
        raise
    return private_path, public_path


def _place_new(path: Path, data: bytes, mode: int) -> None:
    """Write ``data`` to the new file ``path`` with ``mode`` (less the umask); SignatureError naming it otherwise."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.link(tmp, path)  # unlike a rename, fails when ``path`` appeared meanwhile
    except FileExistsError:
        raise _exists(path) from None
    except OSError as exc:
        raise SignatureError(f"{path}: cannot write the key ({exc.strerror}); check the folder's permissions") from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def _exists(path: Path) -> SignatureError:
    return SignatureError(f"{path} already exists; choose another name or remove the old key pair first")


def _read_pem(path: str | os.PathLike, what: str) -> bytes:
    path = Path(path)
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise SignatureError(f"{path}: {what} not found; {KEYGEN_HINT}") from None
    except OSError as exc:
        raise SignatureError(f"{path}: cannot read the {what} ({exc.strerror}); check the path and its permissions") from None


# What to do with a key file that holds the other half of a pair.
OTHER_HALF = {
    "private": "it is a public key: pass the private one",
    "public": "it is a private key: give the cameras only its public half (KEY.pub)",
}


def load_private_key(path: str | os.PathLike) -> Any:
    """The Ed25519 private key in the PEM file ``path``; SignatureError naming the file otherwise."""
    return _load_key(path, "private")


def load_public_key(path: str | os.PathLike) -> Any:
    """The Ed25519 public key in the PEM file ``path``; SignatureError naming the file otherwise."""
    return _load_key(path, "public")


def _load_key(path: str | os.PathLike, half: str) -> Any:
    ed25519, serialization = _crypto()
    from cryptography.exceptions import UnsupportedAlgorithm

    data = _read_pem(path, f"{half} key")
    try:
        key = (serialization.load_pem_private_key(data, password=None) if half == "private"
               else serialization.load_pem_public_key(data))
    except TypeError:  # the private loader's answer to an encrypted key
        raise SignatureError(f"{path}: the private key is encrypted; export with an unencrypted key "
                             f"kept where only the exporting user can read it ({KEYGEN_HINT})") from None
    except (ValueError, UnsupportedAlgorithm, binascii.Error):
        other = "PUBLIC" if half == "private" else "PRIVATE"
        hint = OTHER_HALF[half] if f"{other} KEY".encode() in data else KEYGEN_HINT
        raise SignatureError(f"{path}: not a PEM {half} key; {hint}") from None
    expected = ed25519.Ed25519PrivateKey if half == "private" else ed25519.Ed25519PublicKey
    if not isinstance(key, expected):
        raise SignatureError(f"{path}: a {type(key).__name__}, not an Ed25519 {half} key; {KEYGEN_HINT}")
    return key


def sign_bundle(folder: str | os.PathLike, private_key: Any) -> Path:
    """Sign ``folder/bundle.json`` as it is on disk; write ``folder/bundle.sig`` atomically."""
    folder = Path(folder)
    manifest = (folder / BUNDLE_FILE).read_bytes()
    signature = {
        "algorithm": ALGORITHM,
        "signed_file": BUNDLE_FILE,
        "key_fingerprint": fingerprint(private_key.public_key()),
        "signature": base64.b64encode(private_key.sign(manifest)).decode("ascii"),
    }
    return atomic_write_json(folder / SIGNATURE_FILE, signature)


def load_signed_bundle(folder: str | os.PathLike, public_key_path: str | os.PathLike) -> Bundle:
    """The bundle in ``folder``, only if ``bundle.json`` is signed by the key in ``public_key_path``
    and every artifact matches the hash the signed manifest records.

    The description is parsed from the very bytes whose signature was checked, so the file cannot
    change between the check and its use.
    """
    public_key = load_public_key(public_key_path)
    from cryptography.exceptions import InvalidSignature
    folder = Path(folder)
    manifest_path, sig_path = folder / BUNDLE_FILE, folder / SIGNATURE_FILE
    if not manifest_path.is_file():
        raise BundleError(f"{manifest_path}: missing; {folder} is not a model bundle (re-export the bundle)")
    if not sig_path.is_file():
        raise SignatureError(f"{sig_path}: missing; the bundle is not signed and --trust-key {public_key_path} accepts only "
                             f"signed bundles: export it again with 'gainctl export --sign-key KEY' (the private half of that key)")
    manifest = manifest_path.read_bytes()
    signature = _read_signature(sig_path)
    trusted = fingerprint(public_key)
    try:
        public_key.verify(signature["signature"], manifest)
    except InvalidSignature:
        signer = signature["key_fingerprint"]
        why = (f"it was signed by key {signer}, not by the trusted key {trusted} ({public_key_path})" if signer != trusted
               else f"{BUNDLE_FILE} was changed after it was signed")
        raise SignatureError(f"{sig_path}: the signature does not match {manifest_path}: {why}; "
                             f"use the bundle as exported, or export and sign it again") from None
    bundle = Bundle(BundleSpec.from_json(manifest.decode("utf-8"), str(manifest_path)), folder)
    bundle.verify()
    return bundle


def _read_signature(path: Path) -> dict[str, Any]:
    """``bundle.sig``'s fields, the signature decoded; SignatureError for anything else."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data["algorithm"] != ALGORITHM or data["signed_file"] != BUNDLE_FILE:
            raise ValueError(f"signs {data['signed_file']!r} with {data['algorithm']!r}, expected {BUNDLE_FILE} with {ALGORITHM}")
        return {"key_fingerprint": str(data["key_fingerprint"]),
                "signature": base64.b64decode(data["signature"], validate=True)}
    except (ValueError, KeyError, TypeError, UnicodeDecodeError, binascii.Error) as exc:
        raise SignatureError(f"{path}: not a bundle signature ({exc}); export and sign the bundle again") from None


def open_bundle(folder: str | os.PathLike, trust_key: str | os.PathLike | None = None) -> Bundle:
    """The bundle in ``folder``, hashes checked; with ``trust_key``, only if signed by that key."""
    return load_signed_bundle(folder, trust_key) if trust_key is not None else load_bundle(folder)
