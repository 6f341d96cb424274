"""`make bench-train`: images/s of a full training step on this machine, and what bf16 does to quality.

A step is the trainer's own (:func:`gain_mtl.train.trainer.train_step`): the data loader (decode or
cache lookup, augmentation, collation), forward, the seven losses of :class:`GainMTLLoss` with S5's
final-stage weights (all on), backward and Adam. Cases: EfficientNet-Lite0 @224 with
``freeze_stages: 3`` and EfficientNetV2-S @256 and @512 with nothing frozen, batch 16, the default
config's widths and ``channels_last``. Each case runs its variants (today: float32 and decoding per
item, as main trained before bf16 and the cache; float32 + cache; bf16; bf16 + cache, the new
default; bf16 with and without the cache but no loader workers, as on one core; the new default
without ``channels_last``) one after another, and the whole set repeats for
``--rounds`` rounds: medians of images/s, and ratios to today taken within each round, so a load
that changes between rounds moves both sides of a ratio.

Data: a fixed, seeded subset of the Magnetic Tile train split (real images of varied sizes,
imported with ``gain_mtl.data.importers.magnetic_tile`` into a temporary folder); synthetic parts
(``gain_mtl.data.synth``) when that dataset is absent.

Quality (``--quality``, on by default): the demo's data and config (``gainctl data synth`` with the
demo's arguments, ``gainctl train --config demo``, ``gainctl eval`` on test), once in float32 and
once in bf16, same seed and budget; the metrics side by side.

Writes ``benchmarks/reports/<device>/train-speed.md`` and ``train-speed.json``.

    python benchmarks/train_speed.py [--rounds 3] [--no-quality] [--source DIR] [--reports DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import torch  # noqa: E402
from torch.utils.data import DataLoader, RandomSampler  # noqa: E402

from edge.atomic import atomic_write_json, atomic_write_text  # noqa: E402
from edge.bench.fingerprint import device_fingerprint  # noqa: E402

MAGNETIC_TILE = REPO.parent / "shared" / "datasets" / "magnetic-tile"
BATCH = 16
QUALITY_TOLERANCE = 0.01  # AUROC, bf16 against float32 at the same seed
# Each seed trains the demo twice (float32, bf16): the seeds' spread is the yardstick for a gap.
QUALITY_SEEDS = (42, 43, 44)
QUALITY_METRICS = ("auroc", "accuracy", "precision", "recall", "f1", "cam_iou", "attention_iou", "loc_iou")


@dataclass(frozen=True)
class Case:
    backbone: str
    size: int
    freeze: int
    steps: int  # timed steps per variant and round, after one warm-up step
    target: float | None  # the speed-up of the new default over today
    variants: tuple[str, ...]


@dataclass(frozen=True)
class Variant:
    amp: str
    cache: bool
    workers: int  # -1: the trainer's rule (cores - 1)
    channels_last: bool = True  # the default config's, then and now


VARIANTS = {
    "today: fp32, decode per item": Variant("off", False, -1),
    "fp32 + cache": Variant("off", True, -1),
    "bf16, decode per item": Variant("bf16", False, -1),
    "bf16 + cache (new default)": Variant("bf16", True, -1),
    "bf16 + cache, 0 workers": Variant("bf16", True, 0),
    "bf16, decode per item, 0 workers": Variant("bf16", False, 0),
    "bf16 + cache, no channels_last": Variant("bf16", True, -1, channels_last=False),
}
TODAY, NEW = "today: fp32, decode per item", "bf16 + cache (new default)"
ALL = tuple(VARIANTS)
CASES = (
    Case("tf_efficientnet_lite0", 224, 3, 2, 3.0, ALL),
    Case("efficientnetv2_s", 256, 0, 2, 2.0, ALL),
    # @512 (about 14 GiB at the float32 peak): one timed step, today against the new default only.
    Case("efficientnetv2_s", 512, 0, 1, None, (TODAY, NEW)),
)


def case_name(case: Case) -> str:
    return f"{case.backbone} @{case.size}, freeze_stages {case.freeze}"


def prepare_samples(source: Path, work: Path, count: int) -> tuple[list, str]:
    """``count`` train samples (seeded) of Magnetic Tile, or of synthetic parts without it."""
    from gain_mtl.data.layout import scan_dataset

    root = work / "data"
    if source.is_dir():
        from gain_mtl.data.importers.magnetic_tile import import_magnetic_tile

        import_magnetic_tile(source, root)
        what = f"Magnetic Tile (imported from {source.name}/), {count} seeded train images"
    else:
        from gain_mtl.data.synth import synthesize

        synthesize(root, 60, 40, 512, 0)
        what = f"synthetic parts at 512 px (Magnetic Tile absent), {count} seeded train images"
    train = [s for s in scan_dataset(root) if s.split == "train"]
    return random.Random(0).sample(train, count), what


class Setup:
    """One case's loaders (one per cache setting and worker count), model and optimizer, kept
    across rounds.

    The loaders' workers start before any model exists: a forked worker keeps the pages of its
    parent as they were at the fork, so workers started after a training step would each hold a
    copy of the memory the step wrote (gigabytes at 512 px)."""

    def __init__(self, case: Case, samples: list) -> None:
        from gain_mtl.data.cache import DecodedCache
        from gain_mtl.data.dataset import DefectDataset
        from gain_mtl.data.transforms import build_train_transform
        from gain_mtl.train.loaders import available_cores, worker_count

        self.case = case
        started = time.perf_counter()
        self.cache = DecodedCache(samples, case.size, threads=available_cores())
        self.fill_seconds = time.perf_counter() - started
        self.loaders = {}
        for variant in {(VARIANTS[name].cache, VARIANTS[name].workers) for name in case.variants}:
            cache, workers = variant
            dataset = DefectDataset(samples, case.size, build_train_transform(), cache=self.cache if cache else None)
            workers = worker_count(workers)
            self.loaders[variant] = DataLoader(
                dataset, batch_size=BATCH, sampler=RandomSampler(dataset, generator=torch.Generator().manual_seed(0)),
                drop_last=True, num_workers=workers, persistent_workers=workers > 0)
            iter(self.loaders[variant])  # start the workers now

    def build_models(self) -> None:
        """A model and its optimizer per memory format the case's variants use."""
        from gain_mtl.config import LossConfig, ModelConfig
        from gain_mtl.losses import GainMTLLoss
        from gain_mtl.models.network import GainMTL
        from gain_mtl.schedule import loss_weights

        self.models = {}
        for channels_last in {VARIANTS[name].channels_last for name in self.case.variants}:
            torch.manual_seed(0)
            model = GainMTL(ModelConfig(backbone=self.case.backbone, pretrained=False, freeze_stages=self.case.freeze))
            model = (model.to(memory_format=torch.channels_last) if channels_last else model).train()
            optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-4)
            self.models[channels_last] = (model, optimizer)
        self.loss_fn = GainMTLLoss(LossConfig())
        self.weights = loss_weights("S5", 1.0 - 1e-6, 0.5)

    def measure(self, name: str, steps: int) -> float:
        """Images/s over ``steps`` steps after a warm-up step (oneDNN primitives, the first batch)."""
        from gain_mtl.train.trainer import Amp, train_step

        variant = VARIANTS[name]
        amp = Amp.for_device(torch.device("cpu"), variant.amp)
        batches = iter(self.loaders[(variant.cache, variant.workers)])
        model, optimizer = self.models[variant.channels_last]
        step_args = (optimizer, amp, self.loss_fn, self.weights, None, torch.device("cpu"), variant.channels_last)
        train_step(model, next(batches), *step_args)
        started = time.perf_counter()
        for _ in range(steps):
            train_step(model, next(batches), *step_args)
        return steps * BATCH / (time.perf_counter() - started)


def run_speed(rounds: int, source: Path, work: Path) -> dict:
    samples, data = prepare_samples(source, work, BATCH * (1 + max(c.steps for c in CASES)))
    setups = {case: Setup(case, samples) for case in CASES}
    for setup in setups.values():
        print(f"building {case_name(setup.case)}", flush=True)
        setup.build_models()
    speed: dict[str, dict[str, list[float]]] = {case_name(c): {v: [] for v in c.variants} for c in CASES}
    loads = [os.getloadavg()[0]]
    for index in range(rounds):
        for case in CASES:
            for name in case.variants:
                value = setups[case].measure(name, case.steps)
                speed[case_name(case)][name].append(value)
                print(f"round {index + 1}/{rounds} {case_name(case)} | {name}: {value:.2f} img/s", flush=True)
        loads.append(os.getloadavg()[0])
    fills = {case_name(c): {"seconds": setups[c].fill_seconds, "mib": setups[c].cache.nbytes / 2**20,
                            "in_memory": setups[c].cache.in_memory} for c in CASES}
    return {"data": data, "images": len(samples), "speed": speed, "cache_fill": fills, "load_1min": loads,
            "threads": torch.get_num_threads(), "cases": [asdict(c) for c in CASES]}


def gainctl(args: list[str], work: Path, log: list[str]) -> float:
    """Run one gainctl command (logged as typed, with the temporary folder as $WORK); returns its
    wall time."""
    log.append("gainctl " + shlex.join(args).replace(str(work), "$WORK"))
    print("$", log[-1], flush=True)
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "gain_mtl", *args], check=True, cwd=REPO)
    return time.perf_counter() - started


def run_quality(work: Path) -> dict:
    """The demo's data and config, trained in float32 and in bf16 for each of QUALITY_SEEDS and
    evaluated on test: {seed: {amp: {"train_seconds", "metrics"}}}."""
    log: list[str] = []
    data = work / "demo-data"
    gainctl(["data", "synth", str(data), "--n-normal", "160", "--n-defective", "120", "--size", "96",
             "--seed", "7"], work, log)
    results: dict[int, dict] = {}
    for seed in QUALITY_SEEDS:
        for amp in ("off", "bf16"):
            run, evaluation = work / f"demo-{seed}-{amp}", work / f"eval-{seed}-{amp}"
            seconds = gainctl(["train", "--data", str(data), "--out", str(run), "--config", "demo", "--strategy",
                               "S5", "--device", "cpu", "--set", f"train.seed={seed}", "--set", f"train.amp={amp}"],
                              work, log)
            gainctl(["eval", "--checkpoint", str(run / "checkpoints" / "best.pt"), "--data", str(data),
                     "--split", "test", "--out", str(evaluation)], work, log)
            metrics = json.loads((evaluation / "metrics.json").read_text().replace(str(work), "$WORK"))
            results.setdefault(seed, {})[amp] = {"train_seconds": seconds, "metrics": metrics}
    return {"commands": log, "results": results}


def _ratios(values: dict[str, list[float]], name: str) -> list[float]:
    return [a / b for a, b in zip(values[name], values[TODAY])]


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    return "-" if value is None else str(value)


def quality_section(quality: dict) -> list[str]:
    """The demo in float32 and bf16, seed by seed, and whether the same-seed AUROC gaps stay within
    QUALITY_TOLERANCE; the float32 seeds' spread says how large a gap seed noise alone makes."""
    results = {int(seed): runs for seed, runs in quality["results"].items()}
    header = "| seed | precision | train s | " + " | ".join(QUALITY_METRICS) + " |"
    lines = ["## bf16 against float32 on the demo config", "",
             "The demo's data and config, each seed trained once in float32 and once in bf16 (same data, seed "
             "and budget), evaluated on the test split. Commands (the first seed shown; the others differ "
             "only in `train.seed`):", "",
             *[f"    {c}" for c in quality["commands"][:5]], "",
             header, "|" + "---|" * 2 + "---:|" * (len(QUALITY_METRICS) + 1)]
    for seed, runs in results.items():
        for amp, name in (("off", "float32"), ("bf16", "bf16")):
            metrics = runs[amp]["metrics"]
            cells = " | ".join(_fmt(metrics.get(key)) for key in QUALITY_METRICS)
            lines.append(f"| {seed} | {name} | {runs[amp]['train_seconds']:.0f} | {cells} |")
    gaps = [runs["bf16"]["metrics"]["auroc"] - runs["off"]["metrics"]["auroc"] for runs in results.values()]
    fp32 = [runs["off"]["metrics"]["auroc"] for runs in results.values()]
    worst = max(abs(g) for g in gaps)
    verdict = "met" if worst <= QUALITY_TOLERANCE else f"missed by {worst - QUALITY_TOLERANCE:.4f}"
    return lines + [
        "", f"AUROC bf16 - float32 at the same seed: {', '.join(f'{g:+.4f}' for g in gaps)} (mean "
        f"{statistics.mean(gaps):+.4f}); the largest, {worst:.4f}, against the target of {QUALITY_TOLERANCE}: "
        f"**{verdict}**. Seed noise for scale: float32 alone spans {max(fp32) - min(fp32):.4f} AUROC over "
        f"the seeds.", ""]


def report(speed: dict, quality: dict | None, fingerprint: dict, command: str, wall: float) -> str:
    cpu = fingerprint["cpu"]
    lib = fingerprint["libraries"]
    from gain_mtl.train.trainer import cpu_bf16_feature

    lines = [
        f"# Training speed: {fingerprint['slug']}",
        "",
        f"- Device: {cpu['model']}, {cpu['usable_cores']} usable cores, {fingerprint['memory_gib']} GiB; ISA: "
        f"{', '.join(cpu['isa'])}; bf16 for training: {cpu_bf16_feature() or 'none (float32)'}",
        "- GPU: none lent to this machine; no CUDA row was measured.",
        f"- Versions: python {fingerprint['python']}, torch {lib.get('torch')}, timm {lib.get('timm')}, "
        f"torchvision {lib.get('torchvision')}, numpy {lib.get('numpy')}; torch threads {speed['threads']}",
        f"- Command: `{command}`; wall time {wall / 60:.1f} min",
        f"- Data: {speed['data']}; batch {BATCH}; loader workers by the trainer's rule (cores - 1) unless the "
        "variant says 0",
        "- Shared machine: other work ran beside this one (1-minute load average "
        f"{', '.join(f'{v:.1f}' for v in speed['load_1min'])} at the start and after each round), so "
        "absolute images/s move with it; the ratios compare variants measured within the same round.",
        "- What was tried to reach the targets, and why they stay out of reach here: "
        "`benchmarks/README.md`, section Training speed.",
        "",
        "## Images/s of a full training step",
        "",
        "Median over rounds (min-max), and the median of the per-round ratios to today.",
        "",
    ]
    for case in speed["cases"]:
        name = case_name(Case(**{**case, "variants": tuple(case["variants"])}))
        values = speed["speed"][name]
        fill = speed["cache_fill"][name]
        lines += [f"### {name} ({case['steps']} timed steps per round)", "",
                  "| variant | images/s | min-max | x today |", "|---|---:|---:|---:|"]
        for variant, runs in values.items():
            lines.append(f"| {variant} | {statistics.median(runs):.2f} | {min(runs):.2f}-{max(runs):.2f} | "
                         f"{statistics.median(_ratios(values, variant)):.2f} |")
        ratio = statistics.median(_ratios(values, NEW))
        if case["target"]:
            verdict = "met" if ratio >= case["target"] else f"missed by {case['target'] - ratio:.2f}x"
            lines += ["", f"Target {case['target']:.0f}x for the new default: {ratio:.2f}x, **{verdict}**."]
        lines += ["", f"Cache fill: {fill['mib']:.0f} MiB {'in memory' if fill['in_memory'] else 'on disk'} "
                  f"in {fill['seconds']:.1f} s (once per run).", ""]
    if quality:
        lines += quality_section(quality)
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--source", type=Path, default=MAGNETIC_TILE, help="Magnetic Tile folder (MT_*/Imgs)")
    parser.add_argument("--reports", type=Path, default=REPO / "benchmarks" / "reports")
    parser.add_argument("--quality", action=argparse.BooleanOptionalAction, default=True,
                        help="also train the demo config in float32 and bf16 and compare the metrics")
    args = parser.parse_args()
    if args.rounds < 1:
        parser.error(f"--rounds must be at least 1, got {args.rounds}")
    started = time.perf_counter()
    fingerprint = device_fingerprint()
    with tempfile.TemporaryDirectory(prefix="train-speed-") as tmp:
        speed = run_speed(args.rounds, args.source, Path(tmp))
        quality = run_quality(Path(tmp)) if args.quality else None
    wall = time.perf_counter() - started
    command = "python benchmarks/train_speed.py " + shlex.join(sys.argv[1:])
    out = args.reports / fingerprint["slug"]
    atomic_write_json(out / "train-speed.json", {"fingerprint": fingerprint, "speed": speed, "quality": quality,
                                                 "command": command, "wall_seconds": wall})
    atomic_write_text(out / "train-speed.md", report(speed, quality, fingerprint, command.strip(), wall))
    print(f"wrote {out / 'train-speed.md'} ({wall / 60:.1f} min)")


if __name__ == "__main__":
    main()
