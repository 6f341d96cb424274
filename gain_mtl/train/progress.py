"""Console output of training: a progress bar per epoch with the running losses, a summary line."""

from __future__ import annotations

import sys
from typing import Any, Iterable, Iterator

from tqdm import tqdm


class EpochProgress:
    """Wraps an epoch's batches; ``update`` shows the running mean of each active loss."""

    def __init__(self, batches: Iterable[Any], epoch: int, epochs: int, total: int, enabled: bool):
        self._bar = tqdm(
            batches, total=total, desc=f"epoch {epoch}/{epochs}", leave=False, disable=not enabled,
            dynamic_ncols=True, file=sys.stderr,
        )

    def __iter__(self) -> Iterator[Any]:
        return iter(self._bar)

    def update(self, running: dict[str, float]) -> None:
        shown = {k.removeprefix("loss_"): f"{v:.4f}" for k, v in running.items() if v}
        self._bar.set_postfix(shown, refresh=False)

    def close(self) -> None:
        self._bar.close()


def summary_line(row: dict[str, Any], best_metric: str, seconds: float) -> str:
    """One line per epoch: stage, lr, total loss, the active terms, validation, time."""
    terms = " ".join(
        f"{k.removeprefix('loss_')}={row[k]:.4f}"
        for k in row
        if k.startswith("loss_") and k != "loss_total" and row[k]
    )
    val = " ".join(
        f"{k.removeprefix('val_')}={v:.4f}" for k, v in row.items() if k.startswith("val_") and v is not None
    )
    return (
        f"epoch {row['epoch']} stage {row['stage']} lr {row['lr']:.2e} loss {row['loss_total']:.4f} "
        f"[{terms}] val: {val} (best by val_{best_metric}) {seconds:.1f}s"
    )
