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


def write_line_video(data_root: Path, path: Path, size: int, fps: float = 10.0, min_frames: int = 0) -> list[str]:
    """Write the test images as one video, a part per frame, as a line camera would see them.

    The parts repeat until the video has at least ``min_frames`` frames. Returns the true class of
    each frame, in order, so the decisions can be scored.
    """
    import cv2

    frames: list[tuple[str, Path]] = []
    for label in CLASS_NAMES:
        frames += [(label, p) for p in sorted((data_root / "images" / "test" / label).iterdir())]
    # Interleave normal and defective parts deterministically, as on a real line.
    frames.sort(key=lambda item: item[1].stem[::-1])
    frames = frames * max(1, -(-min_frames // max(1, len(frames))))
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (size, size))
    if not writer.isOpened():
        raise SystemExit(f"demo: OpenCV cannot write {path} (MJPG)")
    for _, image_path in frames:
        image = cv2.imread(str(image_path), cv2.IMREAD_COLOR)
        writer.write(cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA))
    writer.release()
    return [label for label, _ in frames]


def score_decisions(journal: Path, truth: list[str]) -> dict[str, float]:
    events = [json.loads(line) for line in journal.read_text().splitlines() if line.strip()]
    # The journal also records status events (source lost, sink errors); decisions carry "decision".
    decisions = [e["decision"] for e in events if "decision" in e]
    rejected_defects = sum(d == "reject" and t == "defective" for d, t in zip(decisions, truth))
    defects = truth.count("defective")
    return {
        "frames": len(truth),
        "decisions": len(decisions),
        "faults": decisions.count("fault"),
        "defects_rejected": rejected_defects,
        "defects": defects,
        "normals_accepted": sum(d == "accept" and t == "normal" for d, t in zip(decisions, truth)),
        "normals": truth.count("normal"),
    }


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
    parser.add_argument("--epochs", type=int, default=12)
    args = parser.parse_args(argv)

    out = Path(args.out)
    prepare_out(out)
    data, run, bundle = out / "data", out / "run", out / "bundle"

    _gainctl("data", "synth", str(data), "--n-normal", "160", "--n-defective", "120",
             "--size", "96", "--seed", "7")
    _gainctl("data", "check", str(data))
    _gainctl("train", "--data", str(data), "--out", str(run), "--config", "demo",
             "--strategy", "S5", "--epochs", str(args.epochs))
    _gainctl("eval", "--checkpoint", str(run / "checkpoints" / "best.pt"), "--data", str(data),
             "--split", "test", "--out", str(out / "eval"))
    # INT8 of this small model at 96 px is fragile: within the default guard (0.05) OpenVINO needs one
    # layer in float, but the ONNX Q/DQ route needs nearly all of them, which the export refuses
    # (rightly). The demo allows a drop of 0.25 so that both routes ship; a production line would
    # keep the default, export with more validation images, or leave ONNX in FP32.
    _gainctl("export", "--checkpoint", str(run / "checkpoints" / "best.pt"), "--data", str(data),
             "--out", str(bundle), "--int8", "--accuracy-guard", "0.25")

    video = out / "line.avi"
    truth = write_line_video(data, video, size=96)
    journal = out / "decisions.jsonl"
    _gainctl("run", "--model", str(bundle), "--source", str(video), "--precision", "int8",
             "--sink", f"journal:{journal}", "--save-rejects", str(out / "rejects"))
    summary = score_decisions(journal, truth)
    print(f"\nline decisions (INT8): {json.dumps(summary)}")

    _gainctl("bench", "--model", str(bundle), "--checkpoint", str(run / "checkpoints" / "best.pt"),
             "--backends", "openvino,onnxruntime,torch",
             "--precisions", "fp32,int8", "--runs", "30", "--data", str(data),
             "--stream", str(video), "--out", str(out / "bench"))
    print(f"\ndemo complete: {out}/ holds data, run, eval, bundle, decisions.jsonl, bench/report.md")


if __name__ == "__main__":
    main()
