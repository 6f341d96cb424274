"""`make bench`: the committed latency reports of this device, end to end through gainctl.

For each preset: synth data -> a brief training run -> `gainctl export --int8` -> `gainctl bench`
(OpenVINO, ONNX Runtime and the PyTorch eager reference, FP32 and INT8, with accuracy on the synth
test split and the run pipeline on a video of it) -> OpenVINO per-layer profiles -> a summary that
states each target of the benchmark issue as met or missed, and by how much.

Speed does not depend on the weights; the accuracy columns do, and they come from a model trained
for one to three epochs on a few dozen synthetic parts: they show INT8 against FP32, not the
method's quality.

    python benchmarks/latency.py [--presets tiny,efficientnetv2_s-512,efficientnet_lite0-512] [--duration 8] [--calib-size 64]
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from edge.atomic import atomic_write_json, atomic_write_text  # noqa: E402
from edge.bench import read_report  # noqa: E402
from edge.bench.fingerprint import device_fingerprint  # noqa: E402
from edge.bench.profile import openvino_profile, profile_markdown  # noqa: E402

# name -> how to make its model; `speedup` is the target for OpenVINO INT8 vs PyTorch eager FP32,
# `heads` the most the GAIN-MTL heads may cost over a bare classifier of the same backbone (INT8).
PRESETS: dict[str, dict] = {
    "tiny": {"config": "tiny", "size": 64, "backbone": None, "epochs": 3, "synth": (40, 30), "speedup": None,
             "heads": None},
    "efficientnetv2_s-512": {"config": "default", "size": 512, "backbone": "efficientnetv2_s", "epochs": 1,
                             "synth": (24, 16), "speedup": 5.0, "heads": 1.25},
    "efficientnet_lite0-512": {"config": "default", "size": 512, "backbone": "tf_efficientnet_lite0", "epochs": 1,
                               "synth": (24, 16), "speedup": 4.5, "heads": None},
}
PIPELINE_RATIO, TAIL_RATIO, PROCESSES_RATIO = 0.95, 1.5, 1.3
HEADS_FILE = "heads-cost.json"
STREAM_FRAMES = 120  # the test parts repeat until the line video is this long


def gainctl(*args: str, log: list[str]) -> None:
    command = ["gainctl", *args]
    log.append(shlex.join(command))
    print("$", log[-1], flush=True)
    subprocess.run([sys.executable, "-m", "gain_mtl", *args], check=True, cwd=REPO)


def make_bundle(name: str, work: Path, calib_size: int, log: list[str]) -> tuple[Path, Path, Path, Path]:
    """(data, checkpoint, bundle, video) for a preset, made through the CLI."""
    preset = PRESETS[name]
    data, run, bundle = work / "data", work / "run", work / "bundle"
    normal, defective = preset["synth"]
    gainctl("data", "synth", str(data), "--size", str(preset["size"]), "--n-normal", str(normal),
            "--n-defective", str(defective), "--force", log=log)
    train = ["train", "--data", str(data), "--out", str(run), "--config", preset["config"],
             "--epochs", str(preset["epochs"]), "--image-size", str(preset["size"]), "--device", "cpu",
             "--set", "model.pretrained=false", "--set", "train.amp=false", "--set", "train.batch_size=4",
             "--set", "data.num_workers=0"]
    if preset["backbone"]:
        train += ["--backbone", preset["backbone"]]
    gainctl(*train, log=log)
    checkpoint = run / "checkpoints" / "best.pt"
    # A model trained this briefly scores most parts near its threshold, where INT8 rounding flips
    # decisions: the export's accuracy and robustness gates are loosened here because these bundles
    # measure speed.
    gainctl("export", "--checkpoint", str(checkpoint), "--data", str(data), "--out", str(bundle), "--int8",
            "--calib-size", str(calib_size), "--accuracy-guard", "0.99", "--robustness-guard", "0", "--force", log=log)
    from gain_mtl.demo import write_line_video

    video = work / "line.avi"
    write_line_video(data, video, size=preset["size"], min_frames=STREAM_FRAMES)
    return data, checkpoint, bundle, video


def targets(name: str, out: Path) -> list[str]:
    """Each target of the issue for this preset, met or missed, from one report's numbers."""
    report = read_report(out / "report.json")
    lines = []
    torch_row = report.row("torch", "fp32", 1)
    ov8 = report.row("openvino", "int8", 1)
    goal = PRESETS[name]["speedup"]
    if ov8 and ov8.ok and torch_row and torch_row.ok:
        ratio = ov8.speedup_vs_torch
        line = (f"OpenVINO INT8 p50 {ov8.latency_ms['p50']:.1f} ms vs PyTorch eager FP32 "
                f"{torch_row.latency_ms['p50']:.1f} ms: {ratio:.2f}x")
        if goal:
            line += f" ({_verdict(ratio >= goal, f'>= {goal}x')})"
        lines.append(line)
    elif goal:
        lines.append("OpenVINO INT8 vs PyTorch: not measured (" + ", ".join(
            f"{r.label}: {r.reason}" for r in (ov8, torch_row) if r and not r.ok) + ")")
    stream = report.stream or {}
    if stream.get("status") == "ok":
        ratio, tail = stream["fps_over_throughput"], stream["p99_over_p50"]
        lines.append(f"Pipeline {stream['fps']:.1f} fps = {ratio:.2f} of standalone throughput "
                     f"{stream['standalone_fps']:.1f} img/s ({_verdict(ratio >= PIPELINE_RATIO, f'>= {PIPELINE_RATIO}')})")
        lines.append(f"Frame-to-decision (frames paced at {stream['paced_fps']:.1f} fps, 0.8 of the line's capacity) "
                     f"p50 {stream['frame_to_decision_ms']['p50']:.1f} ms, p99 {stream['frame_to_decision_ms']['p99']:.1f} ms: "
                     f"p99/p50 {tail:.2f} ({_verdict(tail <= TAIL_RATIO, f'<= {TAIL_RATIO}')})")
        for row in stream.get("cameras") or []:
            f2d, tail = row["frame_to_decision_ms"], row["p99_over_p50"]
            lines.append(f"{row['cameras']} camera(s) on one line at {row['paced_fps_per_camera']:.1f} fps each: p50 "
                         f"{f2d['p50']:.1f} ms, p99 {f2d['p99']:.1f} ms, p99/p50 {tail:.2f} "
                         f"({_verdict(tail <= TAIL_RATIO, f'<= {TAIL_RATIO}')}), {row['decisions_lost']} decisions lost")
        processes = stream.get("processes")
        if processes and processes.get("ratio"):
            ratio = processes["ratio"]
            runs = [run for outcomes in processes["runs"].values() for run in outcomes]
            lines.append(f"{processes['sources']} sources in one `gainctl run` {processes['one_process_fps']:.1f} decisions/s "
                         f"against {processes['sources']} processes {processes['processes_fps']:.1f} (medians of "
                         f"{processes['rounds']} rounds): {ratio:.2f}x ({_verdict(ratio >= PROCESSES_RATIO, f'>= {PROCESSES_RATIO}x')}), "
                         f"{sum(run['decisions_lost'] for run in runs)} decisions lost, order "
                         f"{'kept' if all(run['in_order'] for run in runs) else 'BROKEN'}")
    heads = out / HEADS_FILE
    goal = PRESETS[name]["heads"]
    if goal and heads.is_file():
        cost = json.loads(heads.read_text())
        lines.append(f"Heads: the bundle's OpenVINO INT8 p50 {cost['median_p50_ms']['bundle']:.1f} ms against a bare "
                     f"{cost['backbone']} classifier's {cost['median_p50_ms']['bare']:.1f} ms (medians of {cost['rounds']} "
                     f"interleaved rounds, `benchmarks/heads_cost.py`): {cost['ratio']:.2f}x ({_verdict(cost['ratio'] <= goal, f'<= {goal}x')})")
    return lines


def _verdict(met: bool, target: str) -> str:
    return f"target {target}: {'met' if met else 'missed'}"


PROFILE_HEADING = "## Profile"


def write_profile(name: str, bundle: Path, out: Path) -> None:
    """OpenVINO per-layer profiles of the bundle's FP32 and INT8 IR into profile.json and summary.md."""
    size = PRESETS[name]["size"]
    profiles = [openvino_profile(bundle / "openvino" / f"{stem}.xml", (1, size, size, 3))
                for stem in ("model", "model-int8") if (bundle / "openvino" / f"{stem}.xml").is_file()]
    atomic_write_json(out / "profile.json", profiles)
    summary = (out / "summary.md").read_text().split(PROFILE_HEADING)[0].rstrip("\n")
    atomic_write_text(out / "summary.md", "\n".join([summary, "", PROFILE_HEADING, ""]
                                                    + [profile_markdown(p) for p in profiles]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    # The defaults are the settings the committed reports were made with.
    parser.add_argument("--presets", default=",".join(PRESETS))
    parser.add_argument("--duration", type=float, default=8.0, help="seconds of latency runs per row")
    parser.add_argument("--batch", default="1,4")
    parser.add_argument("--calib-size", type=int, default=64)
    parser.add_argument("--reports", type=Path, default=REPO / "benchmarks" / "reports")
    parser.add_argument("--work", type=Path, default=None, help="scratch folder (default: a temporary one)")
    parser.add_argument("--profile-only", action="store_true",
                        help="only re-profile the bundles left in --work by an earlier run")
    args = parser.parse_args()
    slug = device_fingerprint()["slug"]
    if args.profile_only:
        if args.work is None:
            parser.error("--profile-only needs --work, the scratch folder of an earlier run")
        for name in args.presets.split(","):
            write_profile(name, args.work / name / "bundle", args.reports / slug / name)
        return
    with tempfile.TemporaryDirectory(prefix="gain-bench-") as tmp:
        for name in args.presets.split(","):
            if name not in PRESETS:
                parser.error(f"unknown preset {name!r}; choose from {', '.join(PRESETS)}")
            work = (args.work or Path(tmp)) / name
            log: list[str] = []
            data, checkpoint, bundle, video = make_bundle(name, work, args.calib_size, log)
            out = args.reports / slug / name
            gainctl("bench", "--model", str(bundle), "--checkpoint", str(checkpoint), "--backends",
                    "openvino,onnxruntime,torch", "--precisions", "fp32,int8", "--batch", args.batch,
                    "--duration", str(args.duration), "--data", str(data), "--stream", str(video),
                    "--out", str(out), log=log)
            if PRESETS[name]["heads"]:
                from heads_cost import heads_cost

                log.append(f"python benchmarks/heads_cost.py {bundle} {data}")
                print("$", log[-1], flush=True)
                atomic_write_json(out / HEADS_FILE, heads_cost(bundle, data))
            for path in (out / "report.json", out / "report.md"):  # no paths of this machine in the repo
                text = path.read_text().replace(str(work), "$WORK").replace(str(out), "$OUT")
                atomic_write_text(path, text)
            summary = [f"# {name} on {slug}", "", "Made by `python benchmarks/latency.py --presets "
                       f"{name} --duration {args.duration} --batch {args.batch} --calib-size {args.calib_size}`, "
                       "which ran (scratch paths shortened):", "", "```"]
            summary += [line.replace(str(work), "$WORK").replace(str(out), "$OUT") for line in log]
            summary += ["```", "", "## Targets", ""] + [f"- {line}" for line in targets(name, out)] + [""]
            atomic_write_text(out / "summary.md", "\n".join(summary))
            write_profile(name, bundle, out)
            print(f"{name}: {out}")
    print(json.dumps({"device": slug, "reports": str(args.reports / slug)}))


if __name__ == "__main__":
    main()
