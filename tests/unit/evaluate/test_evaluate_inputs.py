"""`gainctl eval` refuses bad input with exit code 2 and a message naming the value, before it
writes a file (a metrics.json left by a refused evaluation would read as a result)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from gain_mtl.cli import main
from gain_mtl.evaluation import EvalError, evaluate_checkpoint


def _eval(tmp_path, *args):
    return CliRunner().invoke(main, ["eval", "--checkpoint", str(tmp_path / "best.pt"), "--data", str(tmp_path),
                                     "--out", str(tmp_path / "eval"), *args])


@pytest.mark.parametrize(("args", "fragment"), [
    (["--samples", "0"], "'--samples': 0 is not in the range x>=1"),
    (["--device", "foo"], "device 'foo' is not one of: auto, cpu, cuda"),
    (["--device", "cuda:x"], "device 'cuda:x' is not one of"),
])
def test_bad_options_exit_2_naming_the_value(tmp_path, args, fragment):
    result = _eval(tmp_path, *args)
    assert result.exit_code == 2, result.output
    assert fragment in result.output
    assert isinstance(result.exception, SystemExit)  # a message, no traceback
    assert not (tmp_path / "eval").exists()


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"overlay_samples": 0}, "overlay samples must be at least 1 per class, got 0"),
    ({"device": "foo"}, "device 'foo' is not one of"),
])
def test_the_library_checks_before_writing(tmp_path, kwargs, message):
    with pytest.raises(EvalError, match=message):
        evaluate_checkpoint(tmp_path / "best.pt", tmp_path, "test", tmp_path / "eval", **kwargs)
    assert not (tmp_path / "eval").exists()
