"""``make demo``: the whole job on built-in sample data, as the commands a user would type.

synthetic data -> check -> train (demo config: offline-pretrained EfficientNet-Lite0) -> eval -> export --int8 -> a video of the test
parts -> gainctl run (accept/reject per frame) -> gainctl bench. Each step prints its command, so
the demo doubles as a walk-through; the outputs land in one folder (``demo/`` by default).
"""

from __future__ import annotations

import argparse
import json
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

from gain_mtl.data.layout import CLASS_NAMES

# Written into every demo folder: the only kind of folder a later demo run deletes to start over.
MARKER = ".gain-mtl-demo"


def _gainctl(*args: str) -> None:
    cmd = [sys.executable, "-m", "gain_mtl", *args]
    print(f"\n$ gainctl {shlex.join(args)}", flush=True)
    start = time.perf_counter()
    result = subprocess.run(cmd)
    if result.returncode != 0:
        raise SystemExit(f"demo: 'gainctl {args[0]}' failed with exit code {result.returncode}")
    print(f"  ({time.perf_counter() - start:.1f} s)", flush=True)


# The export's robustness guard in the demo (the default is 0.97; see the export step).
DEMO_ROBUSTNESS_GUARD = 0.85
# The line's own tolerance: compression may move this many of the demo's parts across the threshold.
LINE_TOLERANCE = 2
# The camera's frame side: parts are rendered, stored and filmed at three times the model's input
# (the demo config's 96 px), as a line camera sees more pixels than the model reads, and the line
# and the training shrink them the same way (edge.preprocess.resize_frame). Rendered at 96 px, the
# MJPG compression's 8x8 blocks fell on the model's own pixels: over four trainings the video and
# the PNGs differed on 0-6 of the 70 parts and OpenVINO's INT8 kept 0.90-1.00 of its decisions
# under JPEG 75 (README says what 288 px gives).
CAMERA_SIZE = 288


def write_line_video(data_root: Path, path: Path, size: int, fps: float = 10.0, min_frames: int = 0) -> list[str]:
    """Write the test images as one MJPG video, a part per frame, as a line camera sends them.

    The parts repeat until the video has at least ``min_frames`` frames. Returns each frame's part
    as its path under ``images/test`` (``defective/part_00003.png``), in order, so the decisions can
    be scored and matched with the same part read from the PNG folder.
    """
    import cv2

    test = data_root / "images" / "test"
    frames = [p.relative_to(test).as_posix() for label in CLASS_NAMES for p in sorted((test / label).iterdir())]
    # Interleave normal and defective parts deterministically, as on a real line.
    frames.sort(key=lambda rel: Path(rel).stem[::-1])
    frames = frames * max(1, -(-min_frames // max(1, len(frames))))
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (size, size))
    if not writer.isOpened():
        raise SystemExit(f"demo: OpenCV cannot write {path} (MJPG)")
    for rel in frames:
        image = cv2.imread(str(test / rel), cv2.IMREAD_COLOR)
        writer.write(cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA))
    writer.release()
    return frames


def journal_decisions(journal: Path) -> list[dict]:
    """The decision events of a journal, in order (status events left out)."""
    events = [json.loads(line) for line in journal.read_text().splitlines() if line.strip()]
    return [e for e in events if e.get("kind") == "decision"]


def score_decisions(decisions: dict[str, str]) -> dict[str, int]:
    """Counts of one path's decisions per part (``label/name`` -> accept | reject | fault)."""
    truth = {part: part.split("/")[0] for part in decisions}
    return {
        "parts": len(decisions),
        "faults": sum(d == "fault" for d in decisions.values()),
        "defects_rejected": sum(d != "accept" and truth[p] == "defective" for p, d in decisions.items()),
        "defects": sum(t == "defective" for t in truth.values()),
        "normals_accepted": sum(d == "accept" and truth[p] == "normal" for p, d in decisions.items()),
        "normals": sum(t == "normal" for t in truth.values()),
    }


def compare_paths(paths: dict[str, dict[str, str]]) -> list[str]:
    """Lines that set the evaluation's decisions beside the line's and explain each difference.

    ``paths`` holds, per path, each part's decision: ``eval`` (FP32 in PyTorch on the PNGs), ``png``
    (the bundle's line model on the same PNGs) and ``video`` (the same model on the MJPG video).
    eval against png isolates the export (INT8, its own threshold); png against video isolates the
    camera's compression; eval against video is what the line adds up to. Said plainly when the
    line and the PNGs, or the line and the evaluation, differ beyond LINE_TOLERANCE.
    """
    lines = []
    for name, decisions in paths.items():
        s = score_decisions(decisions)
        lines.append(f"  {name:<6} defects rejected {s['defects_rejected']}/{s['defects']}, good parts accepted "
                     f"{s['normals_accepted']}/{s['normals']}, faults {s['faults']}")

    def differ(a: str, b: str) -> list[str]:
        return sorted(p for p in paths[a] if paths[a][p] != paths[b].get(p))

    export = differ("eval", "png")
    lines.append(f"  eval vs png (the export: INT8 and its own threshold): {len(export)} of {len(paths['eval'])} parts "
                 f"decided differently{': ' + ', '.join(export) if export else ''}")
    camera = differ("png", "video")
    verdict = ("within" if len(camera) <= LINE_TOLERANCE else "BEYOND")
    lines.append(f"  png vs video (the camera's MJPG compression): {len(camera)} of {len(paths['png'])} parts decided "
                 f"differently{': ' + ', '.join(camera) if camera else ''}; {verdict} the line's tolerance of "
                 f"{LINE_TOLERANCE}")
    if verdict == "BEYOND":
        lines.append("  the line does NOT agree with the evaluation on these compressed frames: train longer with the "
                     "camera augmentations (augment.jpeg) or export with a stricter --robustness-guard")
    line = differ("eval", "video")
    lines.append(f"  eval vs video (the line against the evaluation, both causes together): {len(line)} of "
                 f"{len(paths['eval'])} parts decided differently{': ' + ', '.join(line) if line else ''}; "
                 f"{'within' if len(line) <= LINE_TOLERANCE else 'BEYOND'} the tolerance of {LINE_TOLERANCE}")
    return lines


def robustness_summary(bundle: Path) -> str:
    """Each shipped model's decision agreement under the guarded camera perturbations (bundle.json)."""
    robustness = json.loads((bundle / "bundle.json").read_text())["robustness"]
    rows = [f"  {precision} ({fmt}): " + ", ".join(f"{name} {r['perturbations'][name]['agreement']:.3f}"
                                                  for name in r["guarded"])
            for precision, by_format in robustness.items() for fmt, r in by_format.items()]
    return (f"decisions kept under camera perturbations (test split; the demo's guard {DEMO_ROBUSTNESS_GUARD}, "
            "the default 0.97):\n" + "\n".join(rows))


def eval_decisions(predictions: Path) -> dict[str, str]:
    """``label/name`` -> decision from ``gainctl eval``'s predictions.csv."""
    import csv

    with predictions.open() as f:
        return {f"{CLASS_NAMES[int(row['label'])]}/{row['image']}": row["decision"] for row in csv.DictReader(f)}


def prepare_out(out: Path) -> None:
    """Start ``out`` empty, with the marker in it.

    A rerun replaces its own previous output, but ``--out`` may name any folder: one without the
    marker (a dataset, a home folder mistyped) is refused, never deleted.
    """
    if out.exists():
        if not out.is_dir():
            raise SystemExit(f"demo: --out {out} is a file; give a folder for the demo's outputs")
        if any(out.iterdir()) and not (out / MARKER).is_file():
            raise SystemExit(
                f"demo: {out} is not empty and holds no {MARKER}, so it is not a previous demo's output; "
                "give another --out (the demo replaces only its own folders), or empty this one yourself"
            )
        shutil.rmtree(out)
    out.mkdir(parents=True)
    (out / MARKER).write_text("written by gain_mtl.demo; a demo run with this --out replaces the folder\n")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="demo", help="folder for everything the demo writes")
    # 20, not 12: at 12 the FP32 model flipped 3 of 70 decisions under brightness +15 %, at 20 none.
    parser.add_argument("--epochs", type=int, default=20)
    args = parser.parse_args(argv)

    out = Path(args.out)
    prepare_out(out)
    data, run, bundle = out / "data", out / "run", out / "bundle"

    _gainctl("data", "synth", str(data), "--n-normal", "160", "--n-defective", "120",
             "--size", str(CAMERA_SIZE), "--seed", "7")
    _gainctl("data", "check", str(data))
    _gainctl("train", "--data", str(data), "--out", str(run), "--config", "demo",
             "--strategy", "S5", "--epochs", str(args.epochs))
    _gainctl("eval", "--checkpoint", str(run / "checkpoints" / "best.pt"), "--data", str(data),
             "--split", "test", "--out", str(out / "eval"))
    # INT8 of this small model is fragile on the ONNX Q/DQ route: with 18 validation defects its
    # all-INT8 graph scored 0.88 against FP32's 1.00 in one of four trainings (OpenVINO's INT8
    # took FP32's test decision on 0.97-1.00 of the parts in all four), and within the default
    # guard (0.05) the export would refuse it (rightly). The demo allows a drop of 0.25 so that
    # both routes ship; a production line would keep the default, export with more validation
    # images, or leave ONNX in FP32. The
    # robustness guard sits below the 0.93-1.00 of decisions the shipped models kept under JPEG 75
    # and brightness +-15 % over those trainings, so that a machine whose arithmetic trains a
    # slightly different model still finishes the demo; the summary printed below shows each
    # model's numbers against the default 0.97.
    _gainctl("export", "--checkpoint", str(run / "checkpoints" / "best.pt"), "--data", str(data),
             "--out", str(bundle), "--int8", "--accuracy-guard", "0.25", "--robustness-guard", str(DEMO_ROBUSTNESS_GUARD))

    print("\n" + robustness_summary(bundle))
    video = out / "line.avi"
    parts = write_line_video(data, video, size=CAMERA_SIZE)
    journal, png_journal = out / "decisions.jsonl", out / "decisions-png.jsonl"
    # No --precision: the line takes the bundle's fastest model that passed its gates (INT8 here).
    _gainctl("run", "--model", str(bundle), "--source", str(video),
             "--sink", f"journal:{journal}", "--save-rejects", str(out / "rejects"))
    _gainctl("run", "--model", str(bundle), "--source", str(data / "images" / "test"), "--recursive",
             "--sink", f"journal:{png_journal}")
    paths = {
        "eval": eval_decisions(out / "eval" / "predictions.csv"),
        "png": {e["file"]: e["decision"] for e in journal_decisions(png_journal)},
        "video": {part: e["decision"] for part, e in zip(parts, journal_decisions(journal))},
    }
    print("\nthe same 70 test parts, three ways (eval: FP32 in PyTorch on the PNGs; png: the line's model on "
          "the PNGs; video: the line's model on the MJPG video a camera would send):")
    print("\n".join(compare_paths(paths)))

    _gainctl("bench", "--model", str(bundle), "--checkpoint", str(run / "checkpoints" / "best.pt"),
             "--backends", "openvino,onnxruntime,torch",
             "--precisions", "fp32,int8", "--runs", "30", "--data", str(data),
             "--stream", str(video), "--out", str(out / "bench"))
    print(f"\ndemo complete: {out}/ holds data, run, eval, bundle, decisions.jsonl, bench/report.md")


if __name__ == "__main__":
    main()
