"""``gainctl``: a thin click layer over library functions.

Each subcommand lives in its own module and is imported only when invoked, so ``gainctl run`` on
an inspection camera never imports torch.
"""

from __future__ import annotations

import importlib

import click

from gain_mtl import __version__

# command name -> (module, attribute, one-line help shown in `gainctl --help`)
COMMANDS: dict[str, tuple[str, str, str]] = {
    "data": ("gain_mtl.cli.data", "data", "Make, import and check datasets in the design's layout."),
    "train": ("gain_mtl.cli.train", "train", "Train GAIN-MTL with the multi-stage schedule."),
    "eval": ("gain_mtl.cli.evaluate", "eval_cmd", "Evaluate a checkpoint: classification, CAM, localization."),
    "export": ("gain_mtl.cli.export", "export", "Export a checkpoint to a model bundle (ONNX, OpenVINO, INT8)."),
    "run": ("gain_mtl.cli.run", "run", "Stream camera frames through a bundle to accept/reject decisions."),
    "bench": ("gain_mtl.cli.bench", "bench", "Benchmark a bundle's latency and throughput on this device."),
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        module_name, attr, _ = COMMANDS[name]
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name and exc.name.startswith("gain_mtl.cli"):
                return _not_built(name)
            raise
        return getattr(module, attr)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # Help text from the table, so `gainctl --help` imports nothing heavy.
        with formatter.section("Commands"):
            formatter.write_dl([(name, help_) for name, (_, _, help_) in COMMANDS.items()])


def _not_built(name: str) -> click.Command:
    @click.command(name=name, help=f"{COMMANDS[name][2]} (not built yet)")
    def placeholder() -> None:
        raise click.ClickException(f"'gainctl {name}' is not built yet in this version")

    return placeholder


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="gainctl")
def main() -> None:
    """gain-mtl: train an explainable defect classifier, export it to INT8, run it at the line."""
