"""Soak: a long run through the tiny bundle with camera drops, broker outages and slow frames.

Drives the real pipeline (OpenVINO runner, journal + MQTT sinks, a real mosquitto on a loopback
port) with a synthetic camera at a high frame rate, and checks the one number that must be zero:
decisions lost, i.e. frame slots the source produced without a decision in the journal, or
decisions the MQTT subscriber never received. Reports faults by reason, MQTT duplicates and the
process RSS at start and end.

    python benchmarks/soak.py --frames 10000 --fps 400 --out benchmarks/reports/soak.md
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import psutil  # noqa: E402

from edge.atomic import atomic_write_text  # noqa: E402
from edge.backends import open_runner  # noqa: E402
from edge.pipeline import Pipeline  # noqa: E402
from edge.sinks.journal import JournalSink  # noqa: E402
from edge.sinks.mqtt import MQTTSink  # noqa: E402
from edge.sources import Backoff, CaptureSource  # noqa: E402
from tests.helpers.mqtt_broker import MOSQUITTO, Broker, Subscriber, free_port  # noqa: E402
from tests.helpers.tiny_bundle import SlowRunner, SyntheticCamera, build_tiny_bundle  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=10_000)
    ap.add_argument("--fps", type=float, default=400.0)
    ap.add_argument("--camera-drops", type=int, default=5, help="camera outages of --drop-s each")
    ap.add_argument("--drop-s", type=float, default=0.3)
    ap.add_argument("--broker-outages", type=int, default=3, help="mosquitto stopped for --outage-s each")
    ap.add_argument("--outage-s", type=float, default=1.5)
    ap.add_argument("--slow-frames", type=int, default=10, help="inferences stalled by --slow-s each")
    ap.add_argument("--slow-s", type=float, default=0.3)
    ap.add_argument("--deadline-ms", type=float, default=200.0)
    ap.add_argument("--out", type=Path, default=None, help="write a Markdown report here")
    args = ap.parse_args()
    if not MOSQUITTO.exists():
        print(f"{MOSQUITTO} is missing: apt-get install mosquitto (make setup does)", file=sys.stderr)
        return 2

    proc = psutil.Process()
    work = Path(tempfile.mkdtemp(prefix="gain-soak-"))
    bundle = build_tiny_bundle(work / "bundle")
    broker = Broker(work, free_port())
    broker.start()
    subscriber = Subscriber(broker.port, "soak/decisions")
    time.sleep(0.3)

    n = args.frames
    drops = {int(n * (i + 1) / (args.camera_drops + 1)): args.drop_s for i in range(args.camera_drops)}
    slow = {int(n * (i + 0.5) / args.slow_frames) for i in range(args.slow_frames)}
    outage_at = [int(n * (i + 0.5) / (args.broker_outages + 0.5)) for i in range(args.broker_outages)]
    cam = SyntheticCamera(n, fps=args.fps, outages=drops)
    source = CaptureSource(cam.open, "synthetic camera", live=True, fps=args.fps, backoff=Backoff(0.05, 0.2))
    cam.on_exhausted = source.stop
    journal = work / "journal.jsonl"
    sinks = [JournalSink(journal), MQTTSink("127.0.0.1", broker.port, "soak/decisions", work / "spool.sqlite",
                                            reconnect_max_s=1, close_timeout_s=30)]

    def broker_chaos() -> None:
        for at in outage_at:
            while cam.produced < at and not source.stopped:
                time.sleep(0.01)
            if source.stopped:
                return
            broker.stop()
            time.sleep(args.outage_s)
            broker.start()

    chaos = threading.Thread(target=broker_chaos, daemon=True)
    started = time.monotonic()
    with SlowRunner(open_runner(bundle, "openvino", jobs=2), args.slow_s, slow) as runner:
        rss_start = proc.memory_info().rss
        chaos.start()
        summary = Pipeline(source, runner, 0.5, sinks, deadline_ms=args.deadline_ms).run()
    chaos.join()
    for sink in sinks:
        sink.close()
    rss_end = proc.memory_info().rss
    deadline = time.monotonic() + 30
    while len(set(subscriber.frames)) < summary.frames and time.monotonic() < deadline:
        time.sleep(0.2)
    subscriber.close()
    broker.stop()
    wall = time.monotonic() - started

    events = [json.loads(line) for line in journal.read_text().splitlines()]
    decided = [e["frame"] for e in events if e["kind"] == "decision"]
    slots = max(decided) + 1 if decided else 0
    lost_journal = slots - len(set(decided))
    lost_mqtt = len(set(decided) - set(subscriber.frames))
    result = {
        "frames_captured": cam.produced, "frame_slots": slots, "decisions": len(decided),
        "decisions_lost_journal": lost_journal, "decisions_lost_mqtt": lost_mqtt,
        "mqtt_duplicates": len(subscriber.frames) - len(set(subscriber.frames)),
        "out_of_order": sum(1 for a, b in zip(decided, decided[1:]) if b != a + 1),
        "accepts": summary.accepts, "rejects": summary.rejects, "faults": summary.faults,
        "fault_reasons": summary.fault_reasons, "sink_errors": summary.sink_errors,
        "mqtt_reconnects": sinks[1].reconnects, "latency_ms": summary.latency_ms, "fps": summary.fps,
        "rss_start_mib": round(rss_start / 2**20, 1), "rss_end_mib": round(rss_end / 2**20, 1),
        "wall_s": round(wall, 1),
    }
    print(json.dumps(result, indent=2))
    if args.out:
        command = "python benchmarks/soak.py " + " ".join(sys.argv[1:])
        atomic_write_text(args.out, report(command, args, result))
    return 0 if lost_journal == 0 and lost_mqtt == 0 and result["out_of_order"] == 0 else 1


def report(command: str, args: argparse.Namespace, r: dict) -> str:
    reasons = ", ".join(f"{k}: {v}" for k, v in sorted(r["fault_reasons"].items())) or "none"
    lat = ", ".join(f"{k} {v:.1f} ms" for k, v in r["latency_ms"].items())
    return f"""# Soak run

Command (from the repository root):

```
{command}
```

Machine: {platform.machine()}, {psutil.cpu_count()} CPUs, Python {platform.python_version()}, {platform.system()}.
Pipeline: synthetic camera at {args.fps:g} fps -> every-frame mode, deadline {args.deadline_ms:g} ms -> tiny bundle
on OpenVINO CPU (2 requests) -> journal + MQTT (QoS 1, disk spool) to mosquitto on loopback.
Injected: {args.camera_drops} camera drops of {args.drop_s:g} s, {args.broker_outages} broker outages of
{args.outage_s:g} s (mosquitto stopped and restarted), {args.slow_frames} inferences stalled by {args.slow_s:g} s.

| measure | value |
|---|---|
| frames captured | {r['frames_captured']} |
| frame slots (captured + lost while the camera was away) | {r['frame_slots']} |
| decisions in the journal | {r['decisions']} |
| **decisions lost (journal)** | **{r['decisions_lost_journal']}** |
| **decisions lost (MQTT subscriber)** | **{r['decisions_lost_mqtt']}** |
| decisions out of order | {r['out_of_order']} |
| MQTT duplicates (at-least-once resends) | {r['mqtt_duplicates']} |
| MQTT reconnects | {r['mqtt_reconnects']} |
| accepts / rejects | {r['accepts']} / {r['rejects']} |
| faults raised | {r['faults']} ({reasons}) |
| sink errors | {r['sink_errors']} |
| latency of inspected frames | {lat} |
| throughput | {r['fps']:.1f} frames/s |
| RSS at start / end | {r['rss_start_mib']} MiB / {r['rss_end_mib']} MiB |
| wall time | {r['wall_s']} s |

RSS is of the whole process (the soak harness, OpenVINO and the tiny model), measured after the
runner was built (start) and after all sinks were closed (end).
"""


if __name__ == "__main__":
    sys.exit(main())
