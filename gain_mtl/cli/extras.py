"""Which extra a command needs, said in one line when a library it imports is not installed.

An inspection camera installs the ``edge`` extra only (no torch), and there ``gainctl train``,
``eval`` and ``export`` used to end in a ``ModuleNotFoundError`` traceback. The commands import
lazily, so the missing library surfaces wherever it is first imported; the group turns that into
the name of the extra to install.
"""

from __future__ import annotations

from gain_mtl.cli.errors import InputError

# command -> the extra that installs what it imports beyond the base install
NEEDS = {"train": "train", "eval": "train", "export": "train"}
# Packages of this project: a missing one is a broken install, not a missing extra.
OWN_PACKAGES = ("gain_mtl", "calibration", "edge")


def missing_extra(command: str | None, exc: ModuleNotFoundError) -> InputError | None:
    """The one-line error for ``command`` lacking the module of ``exc``; None when no extra explains it."""
    extra = NEEDS.get(command or "")
    module = (exc.name or "").split(".")[0]
    if extra is None or not module or module in OWN_PACKAGES:
        return None
    return InputError(f"gainctl {command} needs the '{extra}' extra ({module} is not installed here): "
                      f"pip install 'gain-mtl[{extra}]'")
