"""Safe files: ``--force`` replaces only what this kit wrote, and written files follow the umask."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Iterator

import pytest
from click.testing import CliRunner

from edge.atomic import atomic_directory, atomic_write_text, check_replaceable, holds_json
from edge.bench.synthetic import build_tiny_bundle
from gain_mtl.cli import main


@pytest.fixture()
def umask_027() -> Iterator[None]:
    previous = os.umask(0o027)
    yield
    os.umask(previous)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_written_files_and_folders_follow_the_umask(tmp_path: Path) -> None:
    previous = os.umask(0o022)
    try:
        atomic_write_text(tmp_path / "report.md", "x")
        with atomic_directory(tmp_path / "bundle") as folder:
            atomic_write_text(folder / "bundle.json", "{}")
    finally:
        os.umask(previous)
    assert _mode(tmp_path / "report.md") == 0o644
    assert _mode(tmp_path / "bundle") == 0o755 and _mode(tmp_path / "bundle" / "bundle.json") == 0o644


def test_a_stricter_umask_is_kept(tmp_path: Path, umask_027: None) -> None:
    with atomic_directory(tmp_path / "run") as folder:
        atomic_write_text(folder / "meta.json", "{}")
    assert _mode(tmp_path / "run") == 0o750 and _mode(tmp_path / "run" / "meta.json") == 0o640


def _user_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "holiday.jpg").write_bytes(b"not ours")
    return folder


def test_force_refuses_a_folder_it_does_not_recognise(tmp_path: Path) -> None:
    folder = _user_folder(tmp_path)
    with pytest.raises(FileExistsError, match="--force replaces only a bundle .* left as it is"):
        with atomic_directory(folder, force=True, recognise=lambda p: holds_json(p / "bundle.json", "schema_version"),
                              what="a bundle"):
            raise AssertionError("never reached: refused before anything is written")
    assert [p.name for p in tmp_path.iterdir()] == ["photos"] and (folder / "holiday.jpg").read_bytes() == b"not ours"


def test_force_refuses_a_file(tmp_path: Path) -> None:
    (tmp_path / "out").write_text("a file")
    with pytest.raises(FileExistsError, match="is not a folder"):
        check_replaceable(tmp_path / "out", True)


def test_force_replaces_an_empty_folder_and_a_recognised_one(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    check_replaceable(tmp_path / "empty", True)
    (tmp_path / "ours").mkdir()
    (tmp_path / "ours" / "bundle.json").write_text('{"schema_version": 5}')
    check_replaceable(tmp_path / "ours", True, lambda p: holds_json(p / "bundle.json", "schema_version"))


@pytest.mark.parametrize("content", ["not json", "[1, 2]", '{"name": "someone else\'s"}'])
def test_a_bundle_json_without_the_schema_is_not_recognised(tmp_path: Path, content: str) -> None:
    (tmp_path / "bundle.json").write_text(content)
    assert not holds_json(tmp_path / "bundle.json", "schema_version")


def test_export_force_on_a_folder_that_is_no_bundle_exits_2_and_touches_nothing(tmp_path: Path) -> None:
    folder = _user_folder(tmp_path)
    result = CliRunner().invoke(main, ["export", "--checkpoint", str(tmp_path / "run" / "best.pt"), "--data",
                                       str(tmp_path / "data"), "--out", str(folder), "--force"])
    assert result.exit_code == 2, result.output
    assert "--force replaces only a bundle written by gainctl export" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["photos"] and (folder / "holiday.jpg").exists()


def test_export_force_passes_the_check_on_a_bundle(tmp_path: Path) -> None:
    from gain_mtl.export.exporter import holds_bundle

    assert holds_bundle(build_tiny_bundle(tmp_path / "bundle", openvino=False))
    assert not holds_bundle(_user_folder(tmp_path))


def test_data_force_on_a_folder_that_is_no_dataset_exits_2(tmp_path: Path) -> None:
    folder = _user_folder(tmp_path)
    result = CliRunner().invoke(main, ["data", "synth", str(folder), "--n-normal", "4", "--n-defective", "4",
                                       "--size", "32", "--force"])
    assert result.exit_code == 2 and "--force replaces only a dataset written by gainctl data" in result.output
    assert sorted(p.name for p in folder.iterdir()) == ["holiday.jpg"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["photos"]


def test_force_keeps_a_sibling_named_like_the_old_folder(tmp_path: Path) -> None:
    """The replaced folder is moved aside under a name made for it, not onto the user's ``.NAME.old``."""
    (tmp_path / "bundle").mkdir()
    (tmp_path / ".bundle.old").mkdir()
    (tmp_path / ".bundle.old" / "mine.txt").write_text("the user's")
    with atomic_directory(tmp_path / "bundle", force=True, recognise=lambda p: True) as folder:
        atomic_write_text(folder / "bundle.json", "{}")
    assert (tmp_path / ".bundle.old" / "mine.txt").read_text() == "the user's"
    assert sorted(p.name for p in tmp_path.iterdir()) == [".bundle.old", "bundle"]


def test_force_checks_the_target_again_before_replacing_it(tmp_path: Path) -> None:
    """A file added while the new folder was built is not deleted with the old one."""
    (tmp_path / "bundle").mkdir()
    with pytest.raises(FileExistsError, match="left as it is"):
        with atomic_directory(tmp_path / "bundle", force=True) as folder:
            atomic_write_text(folder / "bundle.json", "{}")
            (tmp_path / "bundle" / "notes.txt").write_text("written meanwhile")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bundle"]
    assert (tmp_path / "bundle" / "notes.txt").read_text() == "written meanwhile"


def _full_bundle(tmp_path: Path) -> Path:
    """A tiny bundle with every file an export may write besides its model files."""
    bundle = build_tiny_bundle(tmp_path / "bundle", openvino=False)
    for name in ("bundle.sig", "report.md", "export.log", "calibration/manifest.json", "engines/model-ab12.engine"):
        (bundle / name).parent.mkdir(exist_ok=True)
        (bundle / name).write_text("written by the kit")
    return bundle


def test_a_bundle_with_only_what_an_export_writes_is_recognised(tmp_path: Path) -> None:
    from gain_mtl.export.exporter import holds_bundle, unknown_entries

    bundle = _full_bundle(tmp_path)
    assert unknown_entries(bundle) == [] and holds_bundle(bundle)


@pytest.mark.parametrize("added, named", [
    ("notes.txt", "notes.txt"), (".git/config", ".git/"), ("openvino/mine.xml", "openvino/mine.xml"),
    ("calibration/extra.png", "calibration/extra.png"),
])
def test_export_force_refuses_a_bundle_the_user_added_to(tmp_path: Path, added: str, named: str) -> None:
    bundle = _full_bundle(tmp_path)
    (bundle / added).parent.mkdir(exist_ok=True)
    (bundle / added).write_text("the user's")
    result = CliRunner().invoke(main, ["export", "--checkpoint", str(tmp_path / "run" / "best.pt"), "--data",
                                       str(tmp_path / "data"), "--out", str(bundle), "--force"])
    assert result.exit_code == 2, result.output
    assert f"besides a bundle it holds what no export writes: {named} (move them out" in result.output
    assert (bundle / added).read_text() == "the user's" and (bundle / "bundle.json").exists()


def test_a_dataset_with_hidden_entries_is_not_replaced(tmp_path: Path) -> None:
    from gain_mtl.data.layout import written_dataset

    dataset = tmp_path / "data"
    (dataset / "images").mkdir(parents=True)
    (dataset / "synth.json").write_text("{}")
    assert written_dataset(dataset)
    for hidden in (".git", ".dvc"):
        (dataset / hidden).mkdir()
        assert not written_dataset(dataset)
        (dataset / hidden).rmdir()
