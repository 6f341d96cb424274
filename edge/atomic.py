"""Atomic writes: a reader sees the old file or the new one, never half of either.

Used for everything the kit leaves behind (checkpoints, bundles, reports, journals' rotations):
write to a temporary sibling, flush to disk, then rename over the target.

Files and folders are created with the modes the umask allows (0644/0755 under the usual 022), as
``open`` and ``mkdir`` would: ``tempfile``'s private 0600/0700 would survive the rename and keep
a service user from reading a bundle or a run.

``--force`` replaces only a folder this kit wrote, recognised by the caller (a bundle by its
bundle.json and the files an export writes, a dataset by its layout), or an empty one: pointed at
the wrong folder by mistake, or at one the user added files to, it refuses rather than deleting
someone's files. The old folder is moved aside under a name made for it, never one that may be
the user's.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
from pathlib import Path
from typing import Any, Callable, Iterator, Optional, Tuple


def _sibling_file(path: Path) -> Tuple[int, str]:
    """A new, uniquely named file beside ``path``, mode 0666 less the umask."""
    while True:
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
        try:
            return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), str(tmp)
        except FileExistsError:
            continue


def _sibling_folder(target: Path, suffix: str = "partial") -> Path:
    """A new, uniquely named folder beside ``target``, mode 0777 less the umask.

    Created here (``mkdir`` fails on an existing name), so removing it later removes nothing of anyone else's.
    """
    while True:
        tmp = target.with_name(f".{target.name}.{secrets.token_hex(4)}.{suffix}")
        try:
            tmp.mkdir()
            return tmp
        except FileExistsError:
            continue


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = _sibling_file(path)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike, obj: Any) -> Path:
    return atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=False) + "\n")


def read_json(path: str | os.PathLike, error: Callable[[str], Exception], missing: str, fix: str = "") -> Any:
    """The JSON document in ``path``; a missing or garbled file raises ``error`` naming the file.

    ``missing`` says what the file should have been and where it comes from; ``fix`` what to do
    about a file that is not JSON. Reports, manifests and bundles read back their own files so.
    """
    path = Path(path)
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise error(f"{path}: {missing}") from None
    except json.JSONDecodeError as exc:
        raise error(f"{path}: not valid JSON ({exc}){'; ' + fix if fix else ''}") from None


def holds_json(path: Path, key: str) -> bool:
    """Whether ``path`` is a JSON object with ``key``: how a caller recognises a manifest it wrote."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return False
    return isinstance(data, dict) and key in data


def check_replaceable(target: str | os.PathLike, force: bool, recognise: Optional[Callable[[Path], bool]] = None,
                      what: str = "a folder this kit wrote") -> None:
    """Refuse (FileExistsError) to write over ``target`` unless it is absent, or ``force`` and it is empty or ``what``.

    Called before any work, so a refusal leaves nothing behind, and again by ``atomic_directory``.
    """
    target = Path(target)
    if not target.exists() and not target.is_symlink():
        return
    if not force:
        raise FileExistsError(f"{target} already exists; choose another folder or pass --force to replace it")
    if not target.is_dir():
        raise FileExistsError(f"--force replaces only {what}, and {target} is not a folder; remove it yourself "
                              f"or choose another folder")
    if any(target.iterdir()) and not (recognise is not None and recognise(target)):
        raise FileExistsError(f"--force replaces only {what} (or an empty folder); {target} is neither, so it is "
                              f"left as it is: remove it yourself or choose another folder")


@contextlib.contextmanager
def atomic_directory(target: str | os.PathLike, force: bool = False, recognise: Optional[Callable[[Path], bool]] = None,
                     what: str = "a folder this kit wrote") -> Iterator[Path]:
    """Build a folder in a temporary sibling and rename it to ``target`` only on success.

    On an exception the temporary folder is removed and an existing ``target`` is untouched.
    ``force`` replaces an existing target that ``recognise`` says this kit wrote (see
    ``check_replaceable``); without it an existing target is an error.
    """
    target = Path(target)
    check_replaceable(target, force, recognise, what)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = _sibling_folder(target)
    try:
        yield tmp
        check_replaceable(target, force, recognise, what)  # again: files may have been added while ``tmp`` was built
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if target.exists():
        old = _sibling_folder(target, "old")  # empty, so the rename may replace it
        os.replace(target, old)
        try:
            os.replace(tmp, target)
        except BaseException:
            os.replace(old, target)
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, target)
