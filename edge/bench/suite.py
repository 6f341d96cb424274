"""``gainctl bench``'s engine: every (backend, precision, batch) of a bundle measured in one process.

Rows of one batch size are loaded together and their latency runs interleaved in rounds, so that a
machine that drifts (thermal, other tenants) moves every row alike and the ratios stay honest.
Anything a row cannot do (library missing, no GPU, precision absent from the bundle) becomes a
skipped row with the reason; an error while measuring becomes a failed row. Neither stops the run.

A reference backend that the edge cannot provide itself (PyTorch eager on the full checkpoint) is
passed in as a ``ReferenceBackend``, so this module stays free of torch and gain_mtl.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Protocol, Sequence

from edge.backends import BACKEND_NAMES, select
from edge.bench import measure
from edge.bench.accuracy import load_test_split, predict, prepare_frame, scores
from edge.bench.fingerprint import device_fingerprint
from edge.bench.modes import LATENCY, THROUGHPUT, mode_options
from edge.bench.schema import BenchError, Report, Row
from edge.bench.stats import summarize
from edge.bench.stream import bench_stream
from edge.bundle import BUNDLE_FILE, Bundle, BundleError, sha256_file, utc_now
from edge.decision import flagged
from edge.metrics import LOC_THRESHOLD

# The row everyone else is compared with.
REFERENCE = "torch"


class ReferenceBackend(Protocol):
    """A backend the bench cannot build from the bundle alone (e.g. PyTorch eager FP32).

    ``open`` returns an activatable runner with ``infer``, ``input_spec`` and optionally
    ``submit``/``jobs`` and ``artifact_bytes()``; it raises ``BenchError`` or ``ImportError`` with
    the reason when it cannot run here.
    """

    name: str
    precisions: tuple[str, ...]

    def open(self, precision: str, threads: int | None) -> Any: ...


@dataclass
class BenchSettings:
    backends: tuple[str, ...] = ("openvino", "onnxruntime", "tensorrt", REFERENCE)
    precisions: tuple[str, ...] = ("fp32", "fp16", "int8")
    batches: tuple[int, ...] = (1,)
    runs: int | None = None
    duration_s: float | None = None
    warmup: int = 3
    rounds: int = 5
    threads: int | None = None
    data: Path | None = None
    stream: Path | None = None
    stream_frames: int | None = None
    serve: bool = False  # with stream: the stream again with the `gainctl run --serve` monitor and one client
    robustness: bool = False  # with data: each row's decisions under the camera perturbations

    def budget(self, share: int = 1) -> measure.Budget:
        """The budget of one round (``share`` = number of rounds), at least one run each."""
        if self.runs is None and self.duration_s is None:
            return measure.Budget(runs=max(1, 100 // share), warmup=0)
        if self.runs is not None:
            return measure.Budget(runs=max(1, -(-self.runs // share)), warmup=0, min_runs=1)
        return measure.Budget(duration_s=self.duration_s / share, warmup=0, min_runs=1)

    def describe(self) -> dict[str, Any]:
        return {"backends": list(self.backends), "precisions": list(self.precisions),
                "batches": list(self.batches), "runs": self.runs, "duration_s": self.duration_s,
                "warmup": self.warmup, "rounds": self.rounds, "threads": self.threads,
                "data": str(self.data) if self.data else None, "stream": str(self.stream) if self.stream else None,
                "robustness": self.robustness, "serve": self.serve}


@dataclass
class _Live:
    """A row being measured and the runner that serves it."""

    row: Row
    runner: Any
    opener: Callable[[dict[str, Any]], Any]
    samples: list[float] = field(default_factory=list)
    decisions: Any = None


def _edge_opener(bundle: Bundle, backend: str, precision: str, threads: int | None) -> Callable[[dict[str, Any]], Any]:
    """A function opening a runner for (backend, precision) with extra options; BackendError if impossible."""
    selection = select(bundle, backend, precision)
    base = selection.backend.options_for(threads=threads)

    def opener(options: dict[str, Any]) -> Any:
        return selection.open(bundle, **{**base, **options})

    return opener


def _artifact_mb(bundle: Bundle, runner: Any) -> float | None:
    """Size of every file the runner's artifact consists of (IR xml + bin, say)."""
    if hasattr(runner, "artifact_bytes"):
        return runner.artifact_bytes() / 2**20
    path = getattr(runner, "model_path", None)
    if path is None:
        return None
    try:
        rel = Path(path).resolve().relative_to(bundle.folder.resolve()).as_posix()
    except ValueError:
        return Path(path).stat().st_size / 2**20 if Path(path).is_file() else None
    match = next((a for a in bundle.spec.artifacts if a.path == rel), None)
    if match is None:
        return None
    return sum(a.bytes for a in bundle.spec.artifacts
               if a.format == match.format and a.precision == match.precision) / 2**20


def _rss_now() -> int:
    try:
        import psutil
    except ImportError:
        return 0
    return psutil.Process(os.getpid()).memory_info().rss


def run_bench(bundle: Bundle, settings: BenchSettings, references: Sequence[ReferenceBackend] = (),
              command: str = "", log: Callable[[str], None] = lambda _: None) -> Report:
    """Measure every requested row of ``bundle``; the Report is returned, not written."""
    known = set(BACKEND_NAMES) | {REFERENCE} | {r.name for r in references}
    unknown = [b for b in settings.backends if b not in known]
    if unknown:
        raise BenchError(f"unknown backend(s) {unknown}; choose from {sorted(known)}")
    reference_by_name = {r.name: r for r in references}
    split = None
    if settings.data is not None:
        spec = bundle.spec.input
        split = load_test_split(settings.data, spec.height, spec.width, spec.channel_order)
        log(f"test split: {len(split.labels)} images from {settings.data}")
    base_rss = _rss_now()
    rows: list[Row] = []
    for batch in settings.batches:
        rows += _bench_batch(bundle, settings, batch, reference_by_name, split, base_rss, log)
    _speedups(rows)
    report = Report(device=device_fingerprint(), bundle=describe_bundle(bundle), settings=settings.describe(),
                    rows=rows, command=command, created=utc_now())
    if settings.stream is not None:
        report.stream = bench_stream(bundle, settings, rows, log)
    report.notes.append(f"{os.cpu_count()} logical cores; other processes on this machine were not stopped, "
                        "so absolute numbers drift between runs: compare ratios within one report.")
    report.notes += [f"{row.label}: {row.accuracy['faults']} of {row.accuracy['images']} test images got an invalid "
                     "score (NaN, inf or outside [0, 1]); the line faults on those, so they count as not accepted"
                     for row in rows if row.accuracy and row.accuracy["faults"]]
    return report


def describe_bundle(bundle: Bundle) -> dict[str, Any]:
    spec = bundle.spec
    return {"name": bundle.folder.name, "sha256": sha256_file(bundle.folder / BUNDLE_FILE),
            "backbone": spec.backbone, "strategy": spec.strategy, "image_size": spec.input.height,
            "input": [spec.input.height, spec.input.width], "available": bundle.available(),
            "thresholds": spec.thresholds, "versions": spec.versions, "created": spec.created}


def _open_row(bundle: Bundle, backend: str, precision: str, batch: int, settings: BenchSettings,
              references: dict[str, ReferenceBackend], base_rss: int) -> _Live:
    row = Row(backend=backend, precision=precision, batch=batch)
    try:
        if backend in references:
            ref = references[backend]
            if precision not in ref.precisions:
                raise BenchError(f"{backend} runs the full checkpoint in {'/'.join(ref.precisions)} only")
            opener = lambda options: ref.open(precision, settings.threads)  # noqa: E731
        elif backend == REFERENCE:
            raise BenchError("no PyTorch reference: run from `gainctl bench` with the train extra "
                             "(pip install 'gain-mtl[train]') and a checkpoint")
        else:
            opener = _edge_opener(bundle, backend, precision, settings.threads)
        runner = opener(mode_options(backend, LATENCY))
    except (BenchError, BundleError, ImportError, ValueError) as exc:
        row.status, row.reason = "skipped", str(exc)
        return _Live(row, None, lambda options: None)
    before = _rss_now()
    try:
        with measure.PeakRSS() as rss:
            row.load_s = measure.time_call(runner.activate)
            feed = _feed(runner, batch)
            for _ in range(settings.warmup):
                runner.infer(feed)
            row.warmup_runs = settings.warmup
    except Exception as exc:  # a runtime that fails to load or run this model: reported, not fatal
        row.status, row.reason = "failed", f"{type(exc).__name__}: {exc}"
        _close(runner)
        return _Live(row, None, opener)
    # What this row would hold alone: the process at start plus this row's own growth.
    row.peak_rss_mb = (base_rss + max(0, rss.peak_bytes - before)) / 2**20 if before else rss.peak_mb
    row.artifact_mb = _artifact_mb(bundle, runner)
    return _Live(row, runner, opener)


def _feed(runner: Any, batch: int) -> dict[str, Any]:
    spec = runner.input_spec
    return measure.random_feed(spec.name, spec.shape(batch))


def _close(runner: Any) -> None:
    try:
        runner.deactivate()
    except Exception:  # closing a runtime that already failed must not hide the first error
        pass


def _bench_batch(bundle: Bundle, settings: BenchSettings, batch: int, references: dict[str, ReferenceBackend],
                 split: Any, base_rss: int, log: Callable[[str], None]) -> list[Row]:
    live = [_open_row(bundle, b, p, batch, settings, references, base_rss)
            for b in settings.backends for p in settings.precisions]
    for item in live:
        log(f"{item.row.label}: {'loaded in %.2f s' % item.row.load_s if item.row.ok else item.row.status + ': ' + str(item.row.reason)}")
    measured = [item for item in live if item.row.ok]
    try:
        for _ in range(settings.rounds):
            for item in measured:
                if item.row.ok:
                    _guard(item, lambda: item.samples.extend(
                        measure.latency(item.runner, _feed(item.runner, batch), settings.budget(settings.rounds))[1]))
        for item in measured:
            if item.row.ok:
                item.row.samples_ms = item.samples
                item.row.latency_ms = summarize(item.samples)
                _guard(item, lambda: _throughput(item, batch, settings))
                log(f"{item.row.label}: p50 {item.row.latency_ms['p50']:.2f} ms, "
                    f"{(item.row.throughput or {}).get('fps', 0):.1f} img/s")
        if split is not None:
            _accuracy(bundle, measured, split, batch)
            if settings.robustness:
                _robustness(bundle, measured, split, batch, log)
    finally:
        for item in measured:
            _close(item.runner)
    return [item.row for item in live]


def _guard(item: _Live, step: Callable[[], Any]) -> None:
    try:
        step()
    except Exception as exc:  # one row's runtime error is that row's result
        item.row.status, item.row.reason = "failed", f"{type(exc).__name__}: {exc}"


def _throughput(item: _Live, batch: int, settings: BenchSettings) -> None:
    options = mode_options(item.row.backend, THROUGHPUT)
    budget = settings.budget()
    if not options:
        item.row.throughput = measure.throughput(item.runner, _feed(item.runner, batch), budget)
        return
    runner = item.opener(options)
    with runner:
        item.row.throughput = {**measure.throughput(runner, _feed(runner, batch), budget),
                               "hint": options.get("hint")}


def _accuracy(bundle: Bundle, measured: list[_Live], split: Any, batch: int) -> None:
    loc_threshold = bundle.spec.localization_threshold or LOC_THRESHOLD
    for item in measured:
        if item.row.ok:
            _guard(item, lambda: setattr(item, "decisions",
                                         predict(item.runner, split.images, batch, item.runner.input_spec.name)))
    by_key = {(i.row.backend, i.row.precision): i for i in measured if i.decisions is not None}
    for item in measured:
        if item.decisions is None:
            continue
        key = (item.row.backend, item.row.precision)
        ref_key = (REFERENCE, "fp32") if item.row.precision == "fp32" else (item.row.backend, "fp32")
        ref = by_key.get(ref_key) if ref_key != key else None
        threshold = _threshold(bundle, *key)
        reference = None
        if ref is not None:
            reference = flagged(ref.decisions[0], _threshold(bundle, *ref_key))
        prob, maps = item.decisions
        item.row.accuracy = scores(prob, maps, split, threshold, loc_threshold, reference,
                                   " ".join(ref_key) if ref else None)


def _robustness(bundle: Bundle, measured: list[_Live], split: Any, batch: int, log: Callable[[str], None]) -> None:
    """Each row's decisions on the test split under the export's camera perturbations (edge/bench/robustness.py)."""
    import cv2

    from edge.bench.robustness import measure_robustness

    spec = bundle.spec.input
    # As stored, at their own resolution: the perturbations act before the edge's resize.
    originals = [cv2.imread(str(path), cv2.IMREAD_COLOR) for path in split.paths]

    def prepare(frame: Any) -> Any:
        return prepare_frame(frame, spec.width, spec.height, spec.channel_order)

    for item in measured:
        if not item.row.ok:
            continue
        runner = item.runner

        def score(frames: Any) -> Any:
            return predict(runner, frames, batch, runner.input_spec.name)[0]

        _guard(item, lambda: setattr(item.row, "robustness", measure_robustness(
            score, originals, split.labels, _threshold(bundle, item.row.backend, item.row.precision),
            prepare).to_dict()))
        if item.row.robustness:
            worst = min(item.row.robustness["perturbations"].items(), key=lambda kv: kv[1]["agreement"])
            log(f"{item.row.label}: lowest agreement under the camera {worst[1]['agreement']:.3f} ({worst[0]})")


def _threshold(bundle: Bundle, backend: str, precision: str) -> float:
    """The deployed threshold of a row; the PyTorch reference runs the graph the FP32 ONNX holds."""
    return bundle.threshold("fp32", "onnx") if backend == REFERENCE else select(bundle, backend, precision).threshold


def _speedups(rows: list[Row]) -> None:
    """Each ok row's speed-up: PyTorch eager FP32 p50 / the row's p50, at the same batch size."""
    for row in rows:
        ref = next((r for r in rows if r.backend == REFERENCE and r.precision == "fp32"
                    and r.batch == row.batch and r.ok), None)
        if row.ok and ref is not None:
            row.speedup_vs_torch = ref.latency_ms["p50"] / row.latency_ms["p50"]

