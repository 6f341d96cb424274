"""``gainctl data`` through click: tables, exit codes, --force, errors as messages with exit 2."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from gain_mtl.cli import main

from tests.unit.data.datafiles import mvtec_tree


def _run(*args: str):
    return CliRunner().invoke(main, ["data", *map(str, args)])


def test_synth_then_check_is_clean(tmp_path):
    out = tmp_path / "d"
    result = _run("synth", out, "--n-normal", 6, "--n-defective", 4, "--size", 48, "--seed", 3,
                  "--test-ratio", 0.5)
    assert result.exit_code == 0, result.output
    assert "train  defective       2          2" in result.output
    result = _run("check", out)
    assert result.exit_code == 0 and "no problems found" in result.output


def test_existing_output_needs_force(tmp_path):
    out = tmp_path / "d"
    args = ("synth", out, "--n-normal", 4, "--n-defective", 4, "--size", 32)
    assert _run(*args).exit_code == 0
    refused = _run(*args)
    assert refused.exit_code == 2 and "already exists" in refused.output and "--force" in refused.output
    assert _run(*args, "--force").exit_code == 0


def test_check_names_every_problem_and_exits_2(make_dataset):
    root = make_dataset()
    (root / "images" / "train" / "normal" / "train_normal_0.png").write_bytes(b"")
    masks = root / "masks" / "defective"
    (masks / "ghost.png").write_bytes((masks / "train_defective_0.png").read_bytes())
    result = _run("check", root)
    assert result.exit_code == 2
    assert "2 problem(s)" in result.output
    assert "train_normal_0.png: empty file" in result.output and "ghost.png: mask with no image" in result.output


def test_check_without_images_folder(tmp_path):
    result = _run("check", tmp_path)
    assert result.exit_code == 2 and "missing images/ folder" in result.output


def test_library_errors_become_exit_2_with_the_message(tmp_path):
    result = _run("synth", tmp_path / "d", "--n-normal", 1, "--n-defective", 4)
    assert result.exit_code == 2 and "at least 2 normal" in result.output
    result = _run("import", "magnetic-tile", tmp_path, tmp_path / "out")
    assert result.exit_code == 2 and "not the Magnetic Tile dataset" in result.output
    assert not (tmp_path / "out").exists()


def test_import_mvtec_command(tmp_path: Path):
    src = mvtec_tree(tmp_path / "bottle")
    result = _run("import", "mvtec", src, tmp_path / "out", "--test-ratio", 0.5, "--seed", 1)
    assert result.exit_code == 0, result.output
    assert "test   defective       2" in result.output
    assert (tmp_path / "out" / "import.json").is_file()
