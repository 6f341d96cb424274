"""Library log records go to the log file, the kit's warnings to the console too; -v keeps all on the console."""

from __future__ import annotations

import logging
from pathlib import Path

import click
import pytest

from gain_mtl.cli.library_log import VERBOSE, libraries_logged, libraries_to_file


def test_library_records_go_to_the_file_and_the_kits_warnings_to_the_console_too(
        tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    log = tmp_path / "export.log"
    root_handlers = list(logging.getLogger().handlers)
    with libraries_to_file(log):
        logging.warning("Please consider to run pre-processing before quantization.")  # ONNX Runtime's way
        logging.getLogger("torch.utils.cpp_extension").warning("No CUDA runtime is found")
        logging.getLogger("gain_mtl.export.build").warning("onnx FP32 differs from the torch graph")
        logging.getLogger("gain_mtl.export.exporter").info("bundle written")
    text = log.read_text()
    for line in ("pre-processing", "No CUDA runtime", "differs from the torch graph", "bundle written"):
        assert line in text
    assert capsys.readouterr().err == "onnx FP32 differs from the torch graph\n"
    assert logging.getLogger().handlers == root_handlers  # all put back


def test_the_log_is_a_temporary_file_the_command_copies_and_is_gone_after(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError), libraries_logged() as log:
        logging.warning("a library's advice")
        raise RuntimeError("the export failed")
    assert log is not None and not log.exists()
    with libraries_logged() as log:
        logging.warning("a library's advice")
        assert log is not None and "a library's advice" in log.read_text()
    assert not log.exists()


def test_verbose_redirects_nothing() -> None:
    with click.Context(click.Command("gainctl")) as ctx:
        ctx.meta[VERBOSE] = True
        with libraries_logged() as log:
            assert log is None
