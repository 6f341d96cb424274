"""``gainctl bench``: latency, throughput, memory and accuracy of a bundle on this device.

A thin layer over ``edge.bench``. Rows the edge cannot build itself (the PyTorch reference needs
torch and the checkpoint, which the edge never imports) come from reference factories given to
:func:`bench_command` by whoever mounts it (``gainctl`` gives the torch row).
``gainctl bench compare`` merges reports.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Mapping

import click

from edge.cli.errors import InputError

if TYPE_CHECKING:
    from edge.bench import ReferenceBackend
    from edge.bundle import Bundle

# backend name -> factory(checkpoint, bundle) of the reference row for that name
ReferenceFactories = Mapping[str, Callable[["Path | None", "Bundle"], "ReferenceBackend"]]


def _csv(kind: type = str):
    def parse(ctx: click.Context, param: click.Parameter, value: str | None) -> tuple:
        if value is None:
            return ()
        try:
            return tuple(kind(v.strip()) for v in value.split(",") if v.strip())
        except ValueError:
            raise click.BadParameter(f"{value!r} is not a comma-separated list of {kind.__name__}") from None

    return parse


def bench_command(references: ReferenceFactories | None = None) -> click.Group:
    """The ``bench`` group; ``references`` adds the rows the edge cannot build from a bundle alone."""
    factories = dict(references or {})

    @click.group("bench", invoke_without_command=True)
    @click.option("--model", "model", type=click.Path(path_type=Path), help="Bundle folder written by `gainctl export`.")
    @click.option("--backends", default="openvino,onnxruntime,tensorrt,torch", show_default=True, callback=_csv(),
                  help="Backends to measure; torch is the PyTorch eager FP32 reference of the full checkpoint.")
    @click.option("--precisions", default="fp32,fp16,int8", show_default=True, callback=_csv())
    @click.option("--batch", "batches", default="1", show_default=True, callback=_csv(int), help="Batch sizes, e.g. 1,4.")
    @click.option("--threads", type=click.IntRange(min=1), help="Inference threads (backends that take it).")
    @click.option("--data", type=click.Path(path_type=Path, file_okay=False), help="Dataset folder: accuracy per row on its test split.")
    @click.option("--robustness", is_flag=True,
                  help="With --data: each row's decisions under the export's camera perturbations (JPEG, brightness, ...).")
    @click.option("--stream", type=click.Path(path_type=Path, dir_okay=False), help="Video: the end-to-end `gainctl run` pipeline on it.")
    @click.option("--serve", is_flag=True, help="With --stream: compare the stream without and with the `gainctl run --serve` monitor and one client.")
    @click.option("--duration", "duration_s", type=click.FloatRange(min=0, min_open=True), help="Seconds of latency runs per row.")
    @click.option("--runs", type=click.IntRange(min=1), help="Latency runs per row (default 100 when --duration is not given).")
    @click.option("--warmup", default=3, show_default=True, type=click.IntRange(min=0), help="Warm-up runs per row.")
    @click.option("--rounds", default=5, show_default=True, type=click.IntRange(min=1),
                  help="Latency runs are split into rounds interleaved across rows, so drift hits every row alike; "
                       "--serve compares without and with the monitor in as many rounds.")
    @click.option("--checkpoint", type=click.Path(path_type=Path, dir_okay=False),
                  help="Checkpoint the bundle was exported from, for the torch reference row.")
    @click.option("--out", type=click.Path(path_type=Path, file_okay=False), help="Folder for report.json/.md and the plots.")
    @click.option("--trust-key", type=click.Path(path_type=Path, dir_okay=False),
                  help="Ed25519 public key (gainctl keygen): measure only a bundle signed by its private half.")
    @click.pass_context
    def bench(ctx: click.Context, model: Path | None, backends: tuple[str, ...], precisions: tuple[str, ...],
              batches: tuple[int, ...], threads: int | None, data: Path | None, robustness: bool, stream: Path | None, serve: bool,
              duration_s: float | None, runs: int | None, warmup: int, rounds: int, checkpoint: Path | None,
              out: Path | None, trust_key: Path | None) -> None:
        """Benchmark a bundle on this device (or `gainctl bench compare A/report.json B/report.json ...`)."""
        if ctx.invoked_subcommand is not None:
            return
        if model is None or out is None:
            raise click.UsageError("gainctl bench needs --model BUNDLE and --out DIR (or the `compare` subcommand)")
        if duration_s is not None and runs is not None:
            raise click.UsageError("give --duration or --runs, not both")
        if robustness and data is None:
            raise click.UsageError("--robustness measures on a test split: give --data DIR too")
        if serve and stream is None:
            raise click.UsageError("--serve compares stream runs: give --stream VIDEO too")
        from edge.backends import BackendError
        from edge.bench import BenchError, BenchSettings, run_bench, write_outputs
        from edge.bundle import BundleError
        from edge.mirror import check_mirrors
        from edge.signing import open_bundle

        try:
            bundle = open_bundle(model, trust_key)
            check_mirrors(bundle)
            settings = BenchSettings(backends=backends, precisions=precisions, batches=batches, runs=runs,
                                     duration_s=duration_s, warmup=warmup, rounds=rounds, threads=threads,
                                     data=data, stream=stream, robustness=robustness, serve=serve)
            references = [factory(checkpoint, bundle) for name, factory in factories.items() if name in backends]
            command = "gainctl " + shlex.join(sys.argv[1:])
            report = run_bench(bundle, settings, references, command=command, log=lambda m: click.echo(m, err=True))
            write_outputs(report, out)
        except (BenchError, BundleError, BackendError) as exc:
            raise InputError(str(exc)) from exc
        click.echo(f"report: {out / 'report.md'}")

    @bench.command("compare")
    @click.argument("reports", nargs=-1, required=True, type=click.Path(path_type=Path, dir_okay=False))
    @click.option("--out", required=True, type=click.Path(path_type=Path, file_okay=False))
    def compare(reports: tuple[Path, ...], out: Path) -> None:
        """One table and one pair of plots across report.json files (devices or versions)."""
        from edge.bench import BenchError, compare_reports

        try:
            compare_reports(reports, out)
        except BenchError as exc:
            raise InputError(str(exc)) from exc
        click.echo(f"comparison: {out / 'compare.md'}")

    return bench
