"""``gainctl bench``: the edge's bench command (``edge.cli.bench``) with the PyTorch reference row.

The reference runs the full checkpoint in torch, which the edge never imports; the row is handed
in from here, and its runner imports torch only when the row is measured.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from edge.bench import REFERENCE
from edge.cli.bench import bench_command

if TYPE_CHECKING:
    from edge.bundle import Bundle
    from gain_mtl.bench_reference import TorchReference


def _torch_reference(checkpoint: Path | None, bundle: Bundle) -> TorchReference:
    from gain_mtl.bench_reference import TorchReference

    return TorchReference(checkpoint, bundle)


bench = bench_command({REFERENCE: _torch_reference})
