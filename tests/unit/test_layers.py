"""The layering contracts of pyproject.toml ([tool.importlinter]) hold, lazy imports included.

``edge`` runs on cameras without torch, and ``calibration`` sits between training and the edge; a
function-level import that breaks either works on a developer's machine and fails only on the
camera, so the check reads every import statement, not what a test run happens to import.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LINT = "from importlinter.cli import lint_imports; raise SystemExit(lint_imports(no_cache=True, no_logo=True))"


def lint(cwd: Path, pythonpath: Path | None = None) -> subprocess.CompletedProcess:
    env = None if pythonpath is None else {"PYTHONPATH": str(pythonpath), "PATH": ""}
    return subprocess.run([sys.executable, "-c", LINT], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_the_layering_contracts_hold() -> None:
    result = lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_a_function_level_import_of_the_training_side_breaks_the_contract(tmp_path: Path) -> None:
    """The checker sees an import inside a function, the kind that hides a loop or a torch import."""
    shutil.copytree(ROOT / "edge", tmp_path / "edge", ignore=shutil.ignore_patterns("__pycache__"))
    with (tmp_path / "edge" / "metrics.py").open("a") as f:
        f.write("\n\ndef _late() -> None:\n    import gain_mtl.train.trainer  # noqa: F401\n")
    (tmp_path / "pyproject.toml").write_text(
        '[tool.importlinter]\nroot_packages = ["edge"]\ninclude_external_packages = true\n\n'
        '[[tool.importlinter.contracts]]\nname = "edge alone"\ntype = "forbidden"\n'
        'source_modules = ["edge"]\nforbidden_modules = ["gain_mtl"]\n')
    result = lint(tmp_path, pythonpath=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "edge.metrics -> gain_mtl" in result.stdout
