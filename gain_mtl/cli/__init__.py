"""``gainctl``: a thin click layer over library functions.

Each subcommand lives in its own module and is imported only when invoked, so ``gainctl run`` on
an inspection camera never imports torch. The camera's commands (``run``, ``bench``, ``keygen``)
live in ``edge.cli``; ``bench`` is mounted through ``gain_mtl.cli.bench``, which adds the PyTorch
reference row.
"""

from __future__ import annotations

import importlib

import click

from gain_mtl import __version__
from gain_mtl.cli.extras import missing_extra
from gain_mtl.cli.library_log import VERBOSE, show_everything

# command name -> (module, attribute, one-line help shown in `gainctl --help`)
COMMANDS: dict[str, tuple[str, str, str]] = {
    "data": ("gain_mtl.cli.data", "data", "Make, import and check datasets in the design's layout."),
    "train": ("gain_mtl.cli.train", "train", "Train GAIN-MTL with the multi-stage schedule."),
    "eval": ("gain_mtl.cli.evaluate", "eval_cmd", "Evaluate a checkpoint: classification, CAM, localization."),
    "export": ("gain_mtl.cli.export", "export", "Export a checkpoint to a model bundle (ONNX, OpenVINO, INT8)."),
    "run": ("edge.cli.run", "run", "Stream camera frames through a bundle to accept/reject decisions."),
    "bench": ("gain_mtl.cli.bench", "bench", "Benchmark a bundle's latency and throughput on this device."),
    "keygen": ("edge.cli.keygen", "keygen", "Make an Ed25519 key pair to sign bundles (export) and check them (run, bench)."),
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
            if exc.name and exc.name.startswith(("gain_mtl.cli", "edge.cli")):
                return _not_built(name)
            raise missing_extra(name, exc) or exc
        return getattr(module, attr)

    def invoke(self, ctx: click.Context) -> object:
        # A library missing from this install surfaces where a command first imports it.
        try:
            return super().invoke(ctx)
        except ModuleNotFoundError as exc:
            raise missing_extra(ctx.invoked_subcommand, exc) or exc

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
@click.option("-v", "--verbose", is_flag=True,
              help="Show the libraries' own messages (NNCF, ONNX Runtime, torch) on the console instead of a log file.")
@click.pass_context
def main(ctx: click.Context, verbose: bool) -> None:
    """gain-mtl: train an explainable defect classifier, export it to INT8, run it at the line."""
    ctx.meta[VERBOSE] = verbose
    if verbose:
        show_everything()
