"""overlays.png: one row per sample, columns image | GT mask | CAM | attention | localization.

The localization map is a probability and is drawn as one: on the absolute 0..1 scale, with
the colour and opacity the line's reject pictures use (``edge.sinks.overlay.paint_probability``)
and one colour bar for the whole sheet, so a good part looks calm and two rows compare. Over it,
the boxes of ``edge.decision.defect_regions`` at the localization threshold: the regions a
reject's event reports. They are found here on the map as drawn (the model's map upsampled to the
image), so a component near the minimum size may show here and be dropped on the line.

CAM and attention are shown min-max normalised per image, as their metrics see them; their
titles say so, since a bright spot there is only the brightest part of that image. The ground-
truth mask's outline is drawn over all three maps so the eye can judge the overlap. Drawn with
matplotlib's Agg backend (no display needed); sized for a sheet of a dozen rows as well as two.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge.metrics import minmax_normalise

COLUMNS = ("image", "GT mask", "CAM\nrelative: min-max per image", "attention\nrelative: min-max per image",
           "localization\nprobability, absolute 0..1")
PANEL_INCHES = 2.2
HEADER_INCHES = 1.2
MASK_OUTLINE = "white"
BOX_COLOUR = "#ff00ff"  # magenta: absent from both colormaps and from grey parts


@dataclass
class OverlayRow:
    title: str
    image: np.ndarray  # uint8 (H, W, 3) RGB
    mask: np.ndarray | None  # (H, W) bool, None when the sample has no annotation
    cam: np.ndarray
    attention: np.ndarray
    localization: np.ndarray  # probability (H, W)
    # The line's verdict on the part: only a reject reports regions, so only a reject gets boxes.
    rejected: bool = True


def write_overlays(rows: list[OverlayRow], path: str | Path, localization_threshold: float | None) -> Path:
    """Draw the sheet (a legend and the colour bar on top, then one row per sample) and write it atomically as PNG.

    ``localization_threshold=None``: the strategy never trained the localization head; its map is
    drawn (so the sheet shows it is noise) but boxes no region, as the line reports none.
    """
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from edge.atomic import atomic_write_bytes

    if not rows:
        raise ValueError("no samples to draw in the overlay grid")
    if localization_threshold is not None and not 0.0 < localization_threshold <= 1.0:
        raise ValueError(f"the localization threshold must be in (0, 1], got {localization_threshold}")
    n = len(rows)
    fig = plt.figure(figsize=(PANEL_INCHES * len(COLUMNS), PANEL_INCHES * n + HEADER_INCHES))
    grid = fig.add_gridspec(n + 1, len(COLUMNS), height_ratios=[HEADER_INCHES] + [PANEL_INCHES] * n,
                            left=0.09, right=0.975, top=0.995, bottom=0.005, hspace=0.12, wspace=0.04)
    _legend(fig.add_subplot(grid[0, : len(COLUMNS) - 1]), localization_threshold)
    _colour_bar(fig.add_subplot(grid[0, len(COLUMNS) - 1]), localization_threshold)
    for r, row in enumerate(rows):
        axes = [fig.add_subplot(grid[r + 1, c]) for c in range(len(COLUMNS))]
        _draw_row(axes, row, localization_threshold)
        axes[0].set_ylabel(row.title, fontsize=8)
        if r == 0:
            for ax, name in zip(axes, COLUMNS):
                ax.set_title(name, fontsize=8)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=80)
    plt.close(fig)
    return atomic_write_bytes(path, buffer.getvalue())


def _draw_row(axes: list, row: OverlayRow, localization_threshold: float | None) -> None:
    from edge.decision import defect_regions
    from edge.sinks.overlay import paint_probability

    height, width = row.image.shape[:2]
    mask = row.mask if row.mask is not None else np.zeros((height, width), dtype=bool)
    axes[0].imshow(row.image)
    axes[1].imshow(mask.astype(np.float32), cmap="gray", vmin=0, vmax=1)
    for ax, relative in ((axes[2], row.cam), (axes[3], row.attention)):
        ax.imshow(row.image)
        ax.imshow(minmax_normalise(relative), cmap="jet", vmin=0, vmax=1, alpha=0.5)
    axes[4].imshow(paint_probability(row.image, row.localization, channel_order="RGB"))
    boxed = row.rejected and localization_threshold is not None
    regions = defect_regions(row.localization, (width, height), localization_threshold) if boxed else []
    for region in regions:
        axes[4].add_patch(_box(region))
        above = region.y > height // 8  # else the label would leave the panel: it goes inside the box
        label = axes[4].text(region.x, region.y - 1 if above else region.y + 1, f"{region.peak:.2f}", color=BOX_COLOUR,
                             fontsize=7, va="bottom" if above else "top")
        label.set_path_effects([_dark_rim()])
    if mask.any():
        for ax in axes[2:]:
            _outline(ax, mask)
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])


def _dark_rim():
    """A black stroke under a line or a label, so it reads over any colour of the maps."""
    import matplotlib.patheffects as effects

    return effects.withStroke(linewidth=2.0, foreground="black")


def _outline(ax, mask: np.ndarray) -> None:
    contours = ax.contour(mask.astype(np.float32), levels=[0.5], colors=MASK_OUTLINE, linewidths=0.9)
    contours.set_path_effects([_dark_rim()])


def _box(region):
    from matplotlib.patches import Rectangle

    # Pixel (x, y) covers [x - 0.5, x + 0.5] in imshow's coordinates.
    return Rectangle((region.x - 0.5, region.y - 0.5), region.w, region.h, fill=False, edgecolor=BOX_COLOUR, linewidth=1.2)


def _legend(ax, localization_threshold: float | None) -> None:
    boxes = ("Magenta boxes, on rejected parts only: parts of the localization map >= "
             f"{localization_threshold:.2f}\n(the magenta line on the bar; the regions the reject reports), "
             "with the peak probability inside." if localization_threshold is not None else
             "No boxes: this strategy never trained\nthe localization head, so its map is noise and a reject "
             "reports no regions.")
    ax.axis("off")
    ax.text(0.0, 0.5,
            "localization: the probability itself, one scale for every row (colour and opacity grow with it:\n"
            "a faint tint is a low probability). CAM, attention: min-max per image, so only where, not how much.\n"
            f"White outline: ground-truth mask.  {boxes}",
            fontsize=8, va="center", ha="left", transform=ax.transAxes)


def _colour_bar(ax, localization_threshold: float | None) -> None:
    """The localization colours as they are painted (over mid grey), with the threshold marked."""
    from edge.sinks.overlay import paint_probability

    ramp = np.tile(np.linspace(0.0, 1.0, 256, dtype=np.float32), (12, 1))
    grey = np.full((12, 256, 3), 128, dtype=np.uint8)
    ax.imshow(paint_probability(grey, ramp, channel_order="RGB"), extent=(0.0, 1.0, 0.0, 1.0), aspect="auto")
    if localization_threshold is not None:
        ax.axvline(localization_threshold, color=BOX_COLOUR, linewidth=1.5)
    ax.set_yticks([])
    ax.set_xticks([0.0, 0.25, 0.5, 0.75, 1.0])
    ax.xaxis.tick_top()
    ax.tick_params(labelsize=7)
    ax.set_title("localization P, as painted over grey", fontsize=7, pad=12)
    ax.set_box_aspect(0.12)
