"""``gainctl train``: a thin click layer over :func:`gain_mtl.train.trainer.train`."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from gain_mtl.cli.errors import input_errors
from gain_mtl.schedule import STAGES, STRATEGIES

if TYPE_CHECKING:
    from gain_mtl.config import Config

# option -> the config key it overrides
FLAG_KEYS = {
    "strategy": "train.strategy",
    "epochs": "train.epochs",
    "image_size": "data.image_size",
    "backbone": "model.backbone",
    "weights": "model.weights",
    "device": "train.device",
}
TYPED_ARGS = "gain_mtl.typed_args"
NPROC = "--nproc"


def build_config(config: str | None, out: Path, resume: bool, sets: tuple[str, ...], extra: tuple[str, ...],
                 flags: dict[str, Any]) -> Config:
    """Config file (or the run's own config.yaml on --resume), then --set / KEY=VALUE, then flags."""
    from gain_mtl.config import load_config

    base = config
    if base is None and resume and (out / "config.yaml").exists():
        base = str(out / "config.yaml")
    overrides = [*sets, *extra]
    overrides += [f"{FLAG_KEYS[k]}={v}" for k, v in flags.items() if v is not None]
    return load_config(base, overrides)


def without_nproc(args: list[str]) -> list[str]:
    """``args`` minus ``--nproc N`` / ``--nproc=N``: what each torchrun process is started with.

    Everything after ``--`` is positional (KEY=VALUE overrides) and passes through untouched.
    """
    kept: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            kept += args[i:]
            break
        if arg == NPROC:
            i += 2
            continue
        if not arg.startswith(NPROC + "="):
            kept.append(arg)
        i += 1
    return kept


class KeepsTypedArgs(click.Command):
    """Keeps the arguments as typed, so that ``--nproc`` hands every other one to torchrun as is
    (a list rebuilt from the parsed options would drop any option it was not taught)."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        ctx.meta[TYPED_ARGS] = list(args)
        return super().parse_args(ctx, args)


def _strategy_help() -> str:
    return "; ".join(f"{s.name} {s.description}" for s in STRATEGIES.values()) + " (design section 4)"


def _stages_epilog() -> str:
    # \b keeps click from re-wrapping the lines into one paragraph.
    lines = [f"  {s.index} [{s.start:.2f}, {s.end:.2f}) {s.purpose}: adds {', '.join(s.adds)}"
             + (f" ({', '.join(s.warmup)} warms up)" if s.warmup else "") for s in STAGES]
    return "\b\nStages (fraction of train.epochs; a strategy uses the losses it weights):\n" + "\n".join(lines)


@click.command(name="train", cls=KeepsTypedArgs, epilog=_stages_epilog())
@click.option("--data", "data", required=True, type=click.Path(path_type=Path), help="dataset root in the design's layout")
@click.option("--out", "out", required=True, type=click.Path(path_type=Path), help="run folder to write (or resume)")
@click.option("--config", "config", default=None, help="YAML file or built-in name (default, tiny)")
@click.option("--strategy", default=None, help=_strategy_help())
@click.option("--epochs", type=int, default=None)
@click.option("--image-size", "image_size", type=int, default=None, help="square input size, a multiple of 32")
@click.option("--backbone", default=None, help="timm backbone name")
@click.option("--weights", default=None,
              help="local backbone weights file or installed weights package (used instead of the hub)")
@click.option("--device", default=None, help="auto, cpu or cuda")
@click.option("--resume", is_flag=True, help="continue the run in --out from checkpoints/last.pt")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE", help="config override, repeatable (train.lr=3e-4)")
@click.option(NPROC, "nproc", type=click.IntRange(min=1), default=1, show_default=True,
              help="processes on this machine (wraps torchrun)")
@click.argument("extra", nargs=-1, metavar="[KEY=VALUE]...")
@click.pass_context
def train(ctx: click.Context, data: Path, out: Path, config: str | None, strategy: str | None, epochs: int | None,
          image_size: int | None, backbone: str | None, weights: str | None, device: str | None, resume: bool,
          sets: tuple[str, ...], nproc: int, extra: tuple[str, ...]) -> None:
    """Train GAIN-MTL with the multi-stage schedule into the run folder --out."""
    if nproc > 1 and "WORLD_SIZE" not in os.environ:
        from gain_mtl.train.distributed import run_torchrun

        raise SystemExit(run_torchrun(nproc, [ctx.info_name, *without_nproc(ctx.meta[TYPED_ARGS])]))

    from gain_mtl.train.trainer import train as run_training

    flags = {"strategy": strategy, "epochs": epochs, "image_size": image_size, "backbone": backbone,
             "weights": weights, "device": device}
    with input_errors():
        cfg = build_config(config, out, resume, sets, extra, flags)
        run_dir = run_training(cfg, data, out, resume=resume)
    if os.environ.get("RANK", "0") == "0":
        click.echo(f"run: {run_dir} (best: {run_dir / 'checkpoints' / 'best.pt'})")
