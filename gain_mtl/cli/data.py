"""``gainctl data``: make, import and check datasets in the design's layout."""

from __future__ import annotations

from pathlib import Path

import click

from gain_mtl.cli.errors import input_errors


def _summary(out: Path) -> None:
    from gain_mtl.data.check import check_dataset

    report = check_dataset(out)
    click.echo(report.format())


@click.group("data")
def data() -> None:
    """Make, import and check datasets in the design's layout."""


@data.command("synth")
@click.argument("out", type=click.Path(path_type=Path))
@click.option("--n-normal", type=int, default=120, show_default=True, help="defect-free images")
@click.option("--n-defective", type=int, default=80, show_default=True, help="images with defects and masks")
@click.option("--size", type=int, default=128, show_default=True, help="image side in pixels")
@click.option("--seed", type=int, default=0, show_default=True, help="same seed, same bytes")
@click.option("--test-ratio", type=float, default=0.25, show_default=True, help="share of each class in test")
@click.option("--contrast", type=float, default=1.0, show_default=True,
              help="defect strength: 1 is the built-in difficulty, larger is easier (smoke runs)")
@click.option("--force", is_flag=True, help="replace OUT if it exists")
def synth(out: Path, n_normal: int, n_defective: int, size: int, seed: int, test_ratio: float, contrast: float,
          force: bool) -> None:
    """Write procedural inspection images (scratches, spots, cracks) with exact masks to OUT."""
    from gain_mtl.data.synth import synthesize

    with input_errors():
        synthesize(out, n_normal, n_defective, size, seed, test_ratio=test_ratio, force=force, contrast=contrast)
    _summary(out)


@data.group("import")
def import_() -> None:
    """Convert a public dataset to the design's layout (seeded split, manifest import.json)."""


@import_.command("magnetic-tile")
@click.argument("src", type=click.Path(path_type=Path, exists=True, file_okay=False))
@click.argument("out", type=click.Path(path_type=Path))
@click.option("--test-ratio", type=float, default=0.2, show_default=True, help="share of each defect type in test")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--force", is_flag=True, help="replace OUT if it exists")
def magnetic_tile(src: Path, out: Path, test_ratio: float, seed: int, force: bool) -> None:
    """Import the Magnetic Tile dataset (folder SRC holding MT_*/Imgs) into OUT."""
    from gain_mtl.data.importers.magnetic_tile import import_magnetic_tile

    with input_errors():
        import_magnetic_tile(src, out, test_ratio=test_ratio, seed=seed, force=force)
    _summary(out)


@import_.command("mvtec")
@click.argument("src", type=click.Path(path_type=Path, exists=True, file_okay=False))
@click.argument("out", type=click.Path(path_type=Path))
@click.option("--test-ratio", type=float, default=0.5, show_default=True,
              help="share of each test/ folder kept in test (the rest trains: MVTec has no defects in train/)")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--force", is_flag=True, help="replace OUT if it exists")
def mvtec(src: Path, out: Path, test_ratio: float, seed: int, force: bool) -> None:
    """Import one MVTec AD category folder SRC (train/good, test/<type>, ground_truth/) into OUT."""
    from gain_mtl.data.importers.mvtec import import_mvtec

    with input_errors():
        import_mvtec(src, out, test_ratio=test_ratio, seed=seed, force=force)
    _summary(out)


@data.command("check")
@click.argument("root", metavar="DIR", type=click.Path(path_type=Path))
def check(root: Path) -> None:
    """Counts per split and class, and every problem: exit 0 when clean, 2 otherwise."""
    from gain_mtl.data.check import check_dataset

    report = check_dataset(root)
    click.echo(report.format())
    if not report.ok:
        raise SystemExit(2)
