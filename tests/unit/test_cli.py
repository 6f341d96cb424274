"""The CLI lists every command and stays cheap to import; the demo deletes only its own folders."""

from __future__ import annotations

import subprocess
import sys

import pytest
from click.testing import CliRunner

from gain_mtl.cli import COMMANDS, main


def test_help_lists_every_command() -> None:
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    for name in ("data", "train", "eval", "export", "run", "bench", "keygen"):
        assert name in result.output
    assert set(COMMANDS) == {"data", "train", "eval", "export", "run", "bench", "keygen"}


def test_help_imports_no_torch() -> None:
    code = "import sys; from gain_mtl.cli import main; import gain_mtl; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_train_help_lists_the_strategies_and_stages() -> None:
    from gain_mtl.schedule import STAGES, STRATEGIES

    result = CliRunner().invoke(main, ["train", "--help"])
    assert result.exit_code == 0
    text = " ".join(result.output.split())  # click wraps the option help
    for strategy in STRATEGIES.values():
        assert f"{strategy.name} {strategy.description}" in text
    for stage in STAGES:
        assert stage.purpose in text


def test_demo_refuses_a_folder_it_did_not_write(tmp_path) -> None:
    from gain_mtl.demo import prepare_out

    mine = tmp_path / "data"
    (mine / "notes.txt").parent.mkdir()
    (mine / "notes.txt").write_text("keep me")
    with pytest.raises(SystemExit, match="not a previous demo's output"):
        prepare_out(mine)
    assert (mine / "notes.txt").read_text() == "keep me"
    with pytest.raises(SystemExit, match="is a file"):
        prepare_out(mine / "notes.txt")
    assert (mine / "notes.txt").read_text() == "keep me"


def test_demo_replaces_its_own_previous_output(tmp_path) -> None:
    from gain_mtl.demo import MARKER, prepare_out

    out = tmp_path / "demo"
    prepare_out(out)
    (out / "run").mkdir()
    prepare_out(out)
    assert [p.name for p in out.iterdir()] == [MARKER]
    empty = tmp_path / "empty"
    empty.mkdir()
    prepare_out(empty)
    assert (empty / MARKER).is_file()
