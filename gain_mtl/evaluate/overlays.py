"""overlays.png: one row per sample, columns image | GT mask | CAM | attention | localization.

CAM and attention are shown min-max normalised per image, as the metrics see them; localization
is shown as the probability it is. Drawn with matplotlib's Agg backend (no display needed).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gain_mtl.evaluate.metrics import minmax_normalise

COLUMNS = ("image", "GT mask", "CAM", "attention", "localization")


@dataclass
class OverlayRow:
    title: str
    image: np.ndarray  # uint8 (H, W, 3) RGB
    mask: np.ndarray | None  # (H, W) bool, None when the sample has no annotation
    cam: np.ndarray
    attention: np.ndarray
    localization: np.ndarray


def write_overlays(rows: list[OverlayRow], path: str | Path) -> Path:
    """Draw the grid and write it atomically as PNG."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from edge.atomic import atomic_write_bytes

    if not rows:
        raise ValueError("no samples to draw in the overlay grid")
    fig, axes = plt.subplots(len(rows), len(COLUMNS), figsize=(2.2 * len(COLUMNS), 2.2 * len(rows)), squeeze=False)
    for r, row in enumerate(rows):
        mask = row.mask if row.mask is not None else np.zeros(row.image.shape[:2], dtype=bool)
        panels = [
            (row.image, {}),
            (mask.astype(np.float32), {"cmap": "gray", "vmin": 0, "vmax": 1}),
            (minmax_normalise(row.cam), {"cmap": "jet", "vmin": 0, "vmax": 1}),
            (minmax_normalise(row.attention), {"cmap": "jet", "vmin": 0, "vmax": 1}),
            (row.localization, {"cmap": "jet", "vmin": 0, "vmax": 1}),
        ]
        for c, (data, style) in enumerate(panels):
            ax = axes[r, c]
            if c >= 2:  # heat maps over a faded image, so the eye can place them
                ax.imshow(row.image, alpha=1.0)
                ax.imshow(data, alpha=0.5, **style)
            else:
                ax.imshow(data, **style)
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(COLUMNS[c], fontsize=9)
        axes[r, 0].set_ylabel(row.title, fontsize=8)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=80)
    plt.close(fig)
    return atomic_write_bytes(path, buffer.getvalue())
