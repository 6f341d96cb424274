"""``gainctl run``: stream frames through a model bundle to accept/reject events.

Imports only ``edge`` (never torch or the training code), so it runs on an inspection camera with
the ``edge`` extra alone.
"""

from __future__ import annotations

import math
import signal
import sys
import threading
from dataclasses import replace
from pathlib import PurePosixPath
from typing import Any, List, Optional, Sequence, Tuple

import click

from edge.backends import BACKEND_NAMES
from edge.bundle import PRECISIONS
from edge.cli.errors import InputError
from edge.cli.line_file import StationEntry, read_line_file

# The monitor's live view is a glance at the line, not a video: --serve-fps may lower its default 5
# frames a second or raise it this far.
MAX_LIVE_FPS = 30.0


@click.command("run")
@click.option("--model", "model", required=True, help="Bundle folder written by 'gainctl export'.")
@click.option("--camera", "cameras", type=int, multiple=True,
              help="OpenCV camera index; repeatable: several cameras on one model, each a station named camera-N.")
@click.option("--source", "sources", multiple=True,
              help="Video file, image folder, rtsp:// URL or GStreamer pipeline (with '!'); repeatable, like --camera "
                   "(a station named after the file or stream).")
@click.option("--line", "line_file", type=click.Path(dir_okay=False), default=None,
              help="TOML file naming each station: its camera or source, own sinks, deadline, fps and size "
                   "(docs/line.example.toml); instead of --camera/--source.")
@click.option("--recursive", is_flag=True, help="With an image folder: its subfolders' images too (events name each file).")
@click.option("--backend", type=click.Choice(["auto", *BACKEND_NAMES]), default="auto", show_default=True)
@click.option("--precision", type=click.Choice(["auto", *PRECISIONS]), default="auto", show_default=True,
              help="auto: the fastest precision the backend can run from the bundle whose model passed its gates.")
@click.option("--threshold", "threshold_override", type=click.FloatRange(0.0, 1.0), default=None,
              help="Decide at this threshold instead of the bundle's; every decision event then says it was overridden.")
@click.option("--trust-key", type=click.Path(dir_okay=False), default=None,
              help="Ed25519 public key (gainctl keygen): run only a bundle signed by its private half.")
@click.option("--mode", type=click.Choice(["every-frame", "latest"]), default="every-frame", show_default=True,
              help="every-frame: one decision per frame, in order (inspection). latest: newest frame wins (monitoring).")
@click.option("--deadline-ms", type=float, default=None, help="A frame without a decision this long after capture is a fault (timeout).")
@click.option("--sink", "sinks", multiple=True,
              help="stdout | journal:PATH | mqtt[s]://HOST:PORT/TOPIC[?OPTIONS] | http(s)://URL[?OPTIONS] | gpio:CHIP:LINE[:dry-run]; "
                   "repeatable (default stdout). Options (timeout, retries, spool, queue, TLS files, secrets): README, Sinks.")
@click.option("--save-rejects", type=click.Path(file_okay=False), default=None, help="Write each rejected frame and its heatmap overlay here.")
@click.option("--show", is_flag=True, help="Show the overlay and counters in a window (needs OpenCV with a GUI).")
@click.option("--max-frames", type=click.IntRange(min=1), default=None, help="Stop after this many frames.")
@click.option("--width", type=int, default=0, help="Camera frame width to request.")
@click.option("--height", type=int, default=0, help="Camera frame height to request.")
@click.option("--fps", type=float, default=0.0, help="Camera fps to request; nominal fps of a live source (counts frames lost while it is away).")
@click.option("--fourcc", default="", help="Camera pixel format to request, e.g. MJPG.")
@click.option("--device", default="CPU", show_default=True, help="OpenVINO device: CPU, GPU, NPU or AUTO.")
@click.option("--hint", type=click.Choice(["LATENCY", "THROUGHPUT"], case_sensitive=False), default=None,
              help="OpenVINO performance hint (default: LATENCY for one station, one inference on every core; "
                   "THROUGHPUT for several, an inference per core so that their frames run side by side).")
@click.option("--jobs", type=int, default=None, help="Inferences in flight (default: the backend's choice).")
@click.option("--queue-size", type=click.IntRange(min=1), default=8, show_default=True, help="Frames buffered between capture and inference.")
@click.option("--serve", default=None, metavar="[HOST:]PORT",
              help="Serve a live web monitor, /events, /healthz and /metrics here (host 127.0.0.1 unless given; needs the monitor extra).")
@click.option("--serve-token", envvar="GAINCTL_SERVE_TOKEN", default=None, show_envvar=True,
              help="Secret the monitor asks of every request but /healthz; required to serve beyond localhost.")
@click.option("--serve-linger", type=click.FloatRange(min=0), default=0.0, show_default=True, metavar="SECONDS",
              help="Keep the monitor up this long after the source ends (Ctrl-C ends it sooner).")
@click.option("--serve-fps", type=click.FloatRange(min=0, min_open=True, max=MAX_LIVE_FPS), default=None, metavar="FPS",
              help=f"Frames a second of the monitor's live view while someone watches (default 5, at most "
                   f"{MAX_LIVE_FPS:g}). Each one drawn shows in the line's tail on a device without a core to spare: "
                   "lower it there.")
def run(model: str, cameras: Tuple[int, ...], sources: Tuple[str, ...], line_file: Optional[str], recursive: bool, backend: str, precision: str, mode: str,
        deadline_ms: Optional[float], sinks: Tuple[str, ...], save_rejects: Optional[str], show: bool,
        max_frames: Optional[int], width: int, height: int, fps: float, fourcc: str, device: str, hint: Optional[str],
        jobs: Optional[int], queue_size: int, serve: Optional[str], serve_token: Optional[str], serve_linger: float,
        serve_fps: Optional[float], threshold_override: Optional[float], trust_key: Optional[str]) -> None:
    """Stream camera frames through a bundle to accept/reject decisions."""
    from edge.backends import select
    from edge.mirror import check_mirror
    from edge.pipeline import Line, StationSpec, console
    from edge.signing import open_bundle
    from edge.sinks import open_sink
    from edge.sources import open_source

    if deadline_ms is not None and deadline_ms <= 0:
        raise InputError(f"--deadline-ms must be positive, got {deadline_ms}")
    if serve_fps is not None and serve is None:
        raise InputError("--serve-fps sets the rate of the monitor's live view: give --serve too")
    if serve_fps is not None and math.isnan(serve_fps):  # click's range lets NaN through
        raise InputError(f"--serve-fps must be a number of frames a second in (0, {MAX_LIVE_FPS:g}], got nan")
    if line_file is not None and (cameras or sources):
        raise InputError("give either --line FILE or --camera/--source, not both")
    if line_file is None and not cameras and not sources:
        raise InputError("give --camera N or --source S (either repeatable: one model for several stations), or --line FILE")
    entries = read_line_file(line_file) if line_file is not None else _entries(cameras, sources)
    opened: list = []
    frames: list = []
    own: List[list] = [[] for _ in entries]
    monitor = None
    try:
        if serve is not None:
            from edge.monitor import Monitor

            monitor = Monitor(serve, serve_token, live_fps=serve_fps)  # the address and the token rule, checked before anything opens
        bundle = open_bundle(model, trust_key)
        selection = select(bundle, backend, precision)
        check_mirror(bundle, selection.artifact, selection.backend.artifact_format, threshold_given=threshold_override is not None)
        info = selection.backend
        threshold = selection.threshold if threshold_override is None else threshold_override
        for entry in entries:
            frames.append(open_source(entry.camera, entry.source, width=_given(entry.width, width),
                                      height=_given(entry.height, height), fps=_given(entry.fps, fps), fourcc=fourcc,
                                      recursive=recursive))
        for entry, station_sinks in zip(entries, own):
            station_sinks.extend(open_sink(spec) for spec in entry.sinks)
        for spec in sinks or ("stdout",):
            opened.append(open_sink(spec))
        if save_rejects:
            from edge.sinks.overlay import SaveRejectsSink

            opened.append(SaveRejectsSink(save_rejects, localizes=bundle.spec.localizes))
        if show:
            from edge.sinks.overlay import ShowSink

            opened.append(ShowSink(localizes=bundle.spec.localizes))
        hint = (hint or ("THROUGHPUT" if len(entries) > 1 else "LATENCY")).upper()
        runner = selection.open(bundle, **info.options_for(device=device, hint=hint, jobs=jobs))
        runner.activate()
    except ValueError as exc:  # BundleError, BackendError, SourceError, SinkError, MonitorError, a device not present
        _close_all(_all_sinks(opened, own) + frames)
        if monitor is not None:
            monitor.close()  # its bound port too
        raise InputError(str(exc)) from exc
    if monitor is not None:
        opened.append(monitor.sink)

    for sink in _all_sinks(opened, own):
        for note in sink.notes():
            click.echo(f"gainctl run: {note}", err=True)
    loc_threshold = bundle.spec.localization_threshold
    regions = (f"regions at localization >= {loc_threshold:g}" if bundle.spec.localizes else
               f"no regions: strategy {bundle.spec.strategy} did not train the localization head")
    names = [entry.name for entry in entries]
    described = ", ".join(f"{name}: {src.name}" if name else src.name for name, src in zip(names, frames))
    hinted = f", {hint} hint, {runner.jobs} job(s)" if info.takes("hint") else ""
    click.echo(f"gainctl run: {described} -> {selection.describe()}{hinted}, {regions}, mode {mode}", err=True)
    overridden = None
    if threshold_override is not None:
        overridden = {"threshold_overridden": True, "bundle_threshold": selection.threshold}
        click.echo(f"gainctl run: deciding at --threshold {threshold:.4f} instead of the bundle's {selection.threshold:.4f}; "
                   "every decision event says so", err=True)
    try:
        pipeline = Line([StationSpec(src, entry.name, mode, _given(entry.deadline_ms, deadline_ms), queue_size, max_frames,
                                     sinks=station_sinks)
                         for entry, src, station_sinks in zip(entries, frames, own)],
                        runner, threshold, opened, localization_threshold=loc_threshold, decision_detail=overridden,
                        status_handlers=(console,))
        if monitor is not None:
            monitor.start({"model": bundle.folder.name, "file": selection.artifact.name, "backend": info.name,
                           "precision": selection.precision, "source": described, "mode": mode, "run": pipeline.run_id},
                          threshold, pipeline.queue_depth, opened, localizes=bundle.spec.localizes,
                          station_sinks={entry.name: station_sinks for entry, station_sinks in zip(entries, own)})
    except ValueError as exc:
        runner.deactivate()
        _close_all(_all_sinks(opened, own) + frames)
        if monitor is not None:
            monitor.close()
        raise InputError(str(exc)) from exc
    if monitor is not None:
        click.echo(f"gainctl run: monitor on {monitor.url(with_token=serve_token is not None)}", err=True)
    previous = _install_stop_handlers(pipeline)
    try:
        summary = pipeline.run()
    except BaseException:
        if monitor is not None:
            monitor.close(wait_s=0)  # stopping now: the page is not worth a wait
        raise
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        runner.deactivate()
        _close_all(_all_sinks(opened, own))
    click.echo(f"gainctl run: summary: {summary.format()}", err=True)
    if monitor is not None:
        _linger(serve_linger)
        monitor.close()


def _close_all(things: list) -> None:
    """Close sinks (and sources opened before a later one failed)."""
    for thing in things:
        try:
            thing.close()
        except Exception as exc:  # closing one sink must not keep the others from flushing
            click.echo(f"gainctl run: closing {thing.name} failed: {exc!r}", err=True)


def _entries(cameras: Sequence[int], sources: Sequence[str]) -> List[StationEntry]:
    """The stations the repeated options name: cameras first, then sources; one source is unnamed."""
    names: Sequence[Optional[str]] = station_names(cameras, sources) if len(cameras) + len(sources) > 1 else [None]
    given = [StationEntry(None, camera=camera) for camera in cameras] + [StationEntry(None, source=s) for s in sources]
    return [replace(entry, name=name) for entry, name in zip(given, names)]


def _given(value: Any, default: Any) -> Any:
    """A station's own setting where the line file gives one, else the command line's."""
    return default if value is None else value


def _all_sinks(line_sinks: list, own: List[list]) -> list:
    """Every sink opened: the line's and each station's own, to close and to print notes of."""
    return line_sinks + [sink for station_sinks in own for sink in station_sinks]


def station_names(cameras: Sequence[int], sources: Sequence[str]) -> List[str]:
    """A name per station of a line, for its events: camera-N, or the file's or stream's last part.

    Names repeat-proof (a second ``a.mp4`` is ``a-2``), in the order the stations are opened:
    cameras first, then sources. A stream's login never takes part, and characters a file name
    cannot hold become ``_`` (saved rejects are named after the station).
    """
    from edge.events import file_safe
    from edge.sources import without_credentials

    names: List[str] = []
    wanted = [f"camera-{index}" for index in cameras]
    wanted += [file_safe(PurePosixPath(without_credentials(source, shown="").split("?")[0].rstrip("/")).stem) or "source"
               for source in sources]
    for name in wanted:
        unique, n = name, 1
        while unique in names:
            n += 1
            unique = f"{name}-{n}"
        names.append(unique)
    return names


def _linger(seconds: float) -> None:
    """Keep serving the finished run's page for ``seconds``; Ctrl-C or SIGTERM ends the wait."""
    if seconds <= 0:
        return
    click.echo(f"gainctl run: the source has ended; the monitor stays up {seconds:g} s (Ctrl-C to quit)", err=True)
    done = threading.Event()
    previous = {sig: signal.signal(sig, lambda signum, frame: done.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        done.wait(seconds)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _install_stop_handlers(pipeline: Any) -> dict:
    """First Ctrl-C / SIGTERM: stop capturing and deliver what is queued. Second: exit at once."""
    previous = {}

    def handler(signum: int, frame: Any) -> None:
        if pipeline.stopping:
            click.echo("gainctl run: stopping now", err=True)
            sys.exit(130)
        click.echo("gainctl run: stopping; delivering queued decisions (again to quit at once)", err=True)
        pipeline.stop()

    for sig in (signal.SIGINT, signal.SIGTERM):
        previous[sig] = signal.signal(sig, handler)
    return previous
