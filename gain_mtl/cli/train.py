"""``gainctl train``: a thin click layer over :func:`gain_mtl.train.trainer.train`."""

from __future__ import annotations

import os
from pathlib import Path

import click


class InputError(click.ClickException):
    """Bad input named by a library ValueError: the message and exit code 2."""

    exit_code = 2


# option -> the config key it overrides
FLAG_KEYS = {
    "strategy": "train.strategy",
    "epochs": "train.epochs",
    "image_size": "data.image_size",
    "backbone": "model.backbone",
    "weights": "model.weights",
    "device": "train.device",
}


def build_config(config: str | None, out: Path, resume: bool, sets: tuple[str, ...], extra: tuple[str, ...], flags: dict):
    """Config file (or the run's own config.yaml on --resume), then --set / KEY=VALUE, then flags."""
    from gain_mtl.config import load_config

    base = config
    if base is None and resume and (out / "config.yaml").exists():
        base = str(out / "config.yaml")
    overrides = [*sets, *extra]
    overrides += [f"{FLAG_KEYS[k]}={v}" for k, v in flags.items() if v is not None]
    if flags.get("weights") is not None:  # a local weights file replaces the hub download
        overrides.append("model.pretrained=false")
    return load_config(base, overrides)


@click.command(name="train")
@click.option("--data", "data", required=True, type=click.Path(path_type=Path), help="dataset root in the design's layout")
@click.option("--out", "out", required=True, type=click.Path(path_type=Path), help="run folder to write (or resume)")
@click.option("--config", "config", default=None, help="YAML file or built-in name (default, tiny)")
@click.option("--strategy", default=None, help="S1..S6 (design section 4)")
@click.option("--epochs", type=int, default=None)
@click.option("--image-size", "image_size", type=int, default=None, help="square input size, a multiple of 32")
@click.option("--backbone", default=None, help="timm backbone name")
@click.option("--weights", default=None, help="local backbone weights file or installed weights package")
@click.option("--device", default=None, help="auto, cpu or cuda")
@click.option("--resume", is_flag=True, help="continue the run in --out from checkpoints/last.pt")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE", help="config override, repeatable (train.lr=3e-4)")
@click.option("--nproc", type=int, default=1, show_default=True, help="processes on this machine (wraps torchrun)")
@click.argument("extra", nargs=-1, metavar="[KEY=VALUE]...")
def train(data, out, config, strategy, epochs, image_size, backbone, weights, device, resume, sets, nproc, extra):
    """Train GAIN-MTL with the multi-stage schedule into the run folder --out."""
    flags = {"strategy": strategy, "epochs": epochs, "image_size": image_size, "backbone": backbone,
             "weights": weights, "device": device}
    if nproc > 1 and "WORLD_SIZE" not in os.environ:
        from gain_mtl.train.distributed import run_torchrun

        args = ["train", "--data", str(data), "--out", str(out)]
        if config is not None:
            args += ["--config", config]
        for key, value in flags.items():
            if value is not None:
                args += [f"--{key.replace('_', '-')}", str(value)]
        if resume:
            args.append("--resume")
        for item in sets:
            args += ["--set", item]
        raise SystemExit(run_torchrun(nproc, [*args, *extra]))

    from gain_mtl.train.trainer import train as run_training

    try:
        cfg = build_config(config, out, resume, sets, extra, flags)
        run_dir = run_training(cfg, data, out, resume=resume)
    except ValueError as exc:
        raise InputError(str(exc)) from None
    if os.environ.get("RANK", "0") == "0":
        click.echo(f"run: {run_dir} (best: {run_dir / 'checkpoints' / 'best.pt'})")
