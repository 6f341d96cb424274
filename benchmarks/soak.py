"""Soak: a long run through the tiny bundle with camera drops, broker outages and slow frames.

Drives the real pipeline (OpenVINO runner, journal + MQTT sinks, a real mosquitto on a loopback
port) with a synthetic camera at a high frame rate, and checks the one number that must be zero:
decisions lost, i.e. frame slots the source produced without a decision in the journal, or
decisions the MQTT subscriber never received. Reports faults by reason, MQTT duplicates and the
process RSS at start and end.

It runs two variants, the same way, the second with two more sinks: a webhook at a closed port and
a webhook that takes ``--slow-webhook-s`` per event, ``--rounds`` times each, interleaved. Sinks
that can wait must not be felt by the line: the median frame-to-decision p99 of the second within
10% of the first's.

    python benchmarks/soak.py --frames 10000 --fps 400 --out benchmarks/reports/soak.md
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Dict

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import psutil  # noqa: E402

from edge.atomic import atomic_write_text  # noqa: E402
from edge.backends import open_runner  # noqa: E402
from edge.bench.loopback import MOSQUITTO, Broker, Subscriber, free_port  # noqa: E402
from edge.bench.synthetic import SlowRunner, SyntheticCamera, build_tiny_bundle  # noqa: E402
from edge.pipeline import Pipeline  # noqa: E402
from edge.sinks import open_sink  # noqa: E402
from edge.sinks.journal import JournalSink  # noqa: E402
from edge.sinks.mqtt import MQTTSink  # noqa: E402
from edge.sources import Backoff, CaptureSource  # noqa: E402

P99_TOLERANCE = 0.10


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
    ap.add_argument("--slow-webhook-s", type=float, default=0.05, help="how long the slow webhook takes per event")
    ap.add_argument("--deadline-ms", type=float, default=200.0)
    ap.add_argument("--rounds", type=int, default=3,
                    help="runs of each variant, interleaved (which goes first alternates); p99s compared by their medians")
    ap.add_argument("--out", type=Path, default=None, help="write a Markdown report here")
    args = ap.parse_args()
    if not MOSQUITTO.exists():
        print(f"{MOSQUITTO} is missing: apt-get install mosquitto (make setup does)", file=sys.stderr)
        return 2

    work = Path(tempfile.mkdtemp(prefix="gain-soak-"))
    bundle = build_tiny_bundle(work / "bundle")
    started = time.monotonic()
    # One run of each differs from the next by more than the 10 % asked (p99 15-73 ms for the same
    # run on a shared 2-core machine): the variants alternate, and their medians are compared.
    variants = (("plain", False), ("webhooks", True))
    rounds: Dict[str, list] = {name: [] for name, _ in variants}
    for i in range(args.rounds):
        for name, webhooks in (variants if i % 2 == 0 else variants[::-1]):
            rounds[name].append(soak(args, bundle, work / f"{name}-{i}", webhooks))
    wall = round(time.monotonic() - started, 1)
    p99s = {name: [r["latency_ms"].get("p99", float("nan")) for r in runs] for name, runs in rounds.items()}
    median = {name: statistics.median(values) for name, values in p99s.items()}
    within = median["webhooks"] <= median["plain"] * (1 + P99_TOLERANCE)
    # The table shows each variant's run whose p99 is its median (the lower middle one for an even count).
    runs = {name: sorted(rounds[name], key=lambda r: r["latency_ms"].get("p99", float("nan")))[(len(rounds[name]) - 1) // 2]
            for name in rounds}
    print(json.dumps({"p99_ms": p99s, "p99_median_ms": median, "p99_within_tolerance": within, "wall_s": wall}, indent=2))
    if args.out:
        command = "python benchmarks/soak.py " + " ".join(sys.argv[1:])
        atomic_write_text(args.out, report(command, args, runs, p99s, within, wall))
    lost = any(r["decisions_lost_journal"] or r["decisions_lost_mqtt"] or r["out_of_order"]
               for runs_of in rounds.values() for r in runs_of)
    return 0 if not lost and within else 1


class SlowEndpoint:
    """The slow webhook's server in a process of its own, as a real endpoint is on another machine:
    served in the soak's process it would compete with the line for the interpreter, and its cost
    would be counted against the sinks."""

    def __init__(self, delay_s: float) -> None:
        code = ("import time; from edge.bench.loopback import Endpoint; "
                f"e = Endpoint(delay_s={delay_s!r}); print(e.url(), flush=True); time.sleep(10 ** 6)")
        self.proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, cwd=REPO)
        self._url = self.proc.stdout.readline().strip()
        if not self._url:
            raise RuntimeError("the slow webhook's server did not start")

    def url(self) -> str:
        return self._url

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


def soak(args: argparse.Namespace, bundle: Path, work: Path, webhooks: bool) -> Dict[str, Any]:
    """One run of the soak in ``work``; with ``webhooks``, a dead and a slow webhook sink join the journal and MQTT."""
    work.mkdir()
    proc = psutil.Process()
    broker = Broker(work, free_port())
    broker.start()
    subscriber = Subscriber(broker.port, "soak/decisions")
    subscriber.subscribed.wait(10)

    n = args.frames
    drops = {int(n * (i + 1) / (args.camera_drops + 1)): args.drop_s for i in range(args.camera_drops)}
    slow = {int(n * (i + 0.5) / args.slow_frames) for i in range(args.slow_frames)}
    outage_at = [int(n * (i + 0.5) / (args.broker_outages + 0.5)) for i in range(args.broker_outages)]
    cam = SyntheticCamera(n, fps=args.fps, outages=drops)
    source = CaptureSource(cam.open, "synthetic camera", live=True, fps=args.fps, backoff=Backoff(0.05, 0.2))
    cam.on_exhausted = source.stop
    journal = work / "journal.jsonl"
    mqtt = MQTTSink("127.0.0.1", broker.port, "soak/decisions", work / "spool.sqlite", reconnect_max_s=1, close_timeout_s=30)
    sinks = [JournalSink(journal), mqtt]
    endpoint = SlowEndpoint(args.slow_webhook_s) if webhooks else None
    if endpoint is not None:
        sinks += [open_sink(f"http://127.0.0.1:{free_port()}/dead?close_timeout=0&spool={work / 'dead.sqlite'}"),
                  open_sink(f"{endpoint.url()}?close_timeout=0&spool={work / 'slow.sqlite'}")]

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
    if endpoint is not None:
        endpoint.close()
    wall = time.monotonic() - started

    events = [json.loads(line) for line in journal.read_text().splitlines()]
    decided = [e["frame"] for e in events if e["kind"] == "decision"]
    slots = max(decided) + 1 if decided else 0
    result = {
        "frames_captured": cam.produced, "frame_slots": slots, "decisions": len(decided),
        "decisions_lost_journal": slots - len(set(decided)), "decisions_lost_mqtt": len(set(decided) - set(subscriber.frames)),
        "mqtt_duplicates": len(subscriber.frames) - len(set(subscriber.frames)),
        "out_of_order": sum(1 for a, b in zip(decided, decided[1:]) if b != a + 1),
        "accepts": summary.accepts, "rejects": summary.rejects, "faults": summary.faults,
        "fault_reasons": summary.fault_reasons, "sink_errors": summary.sink_errors,
        "sinks_behind_events": sum(1 for e in events if e.get("reason") == "sink_behind"),
        "mqtt_reconnects": mqtt.reconnects, "latency_ms": summary.latency_ms, "fps": summary.fps,
        "rss_start_mib": round(rss_start / 2**20, 1), "rss_end_mib": round(rss_end / 2**20, 1),
        "wall_s": round(wall, 1),
        "webhooks": {sink.name: sink.counters() for sink in sinks[2:]},  # after close: pending stays spooled
    }
    return result


def cpu_model() -> str:
    """The processor's name (Linux), for the report: p99 depends on it."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown processor"


def versions() -> str:
    """Python, the libraries on the measured path, and mosquitto."""
    from importlib.metadata import PackageNotFoundError, version

    found = [f"Python {platform.python_version()}"]
    for name in ("openvino", "numpy", "opencv-python-headless", "paho-mqtt"):
        try:
            found.append(f"{name} {version(name)}")
        except PackageNotFoundError:
            pass
    probe = subprocess.run([str(MOSQUITTO), "-h"], capture_output=True, text=True)
    first = (probe.stdout or probe.stderr).splitlines()[:1]
    return ", ".join(found + [line.strip() for line in first])


def report(command: str, args: argparse.Namespace, runs: Dict[str, Dict[str, Any]], p99s: Dict[str, list],
           within: bool, wall: float) -> str:
    """The Markdown report: each variant's median-p99 run in the table, every round's p99 below it."""
    plain, hooks = runs["plain"], runs["webhooks"]
    median = {name: statistics.median(values) for name, values in p99s.items()}

    def row(label: str, key: str, fmt: Any = str) -> str:
        return f"| {label} | {fmt(plain[key])} | {fmt(hooks[key])} |"

    def reasons(r: Dict[str, Any]) -> str:
        return f"{r['faults']} ({', '.join(f'{k}: {v}' for k, v in sorted(r['fault_reasons'].items())) or 'none'})"

    def latency(r: Dict[str, Any]) -> str:
        return ", ".join(f"{k} {v:.1f} ms" for k, v in r["latency_ms"].items())

    hook_rows = "\n".join(
        f"| {name} | {sum(c[k] for k in ('delivered', 'pending', 'refused', 'overflowed'))} | {c['delivered']} | "
        f"{c['pending']} | {c['failures']} | {c['overflowed']} |"
        for name, c in hooks["webhooks"].items())
    limit = median["plain"] * (1 + P99_TOLERANCE)
    noise = ("\nThe runs with the webhooks were the faster at p99: the difference is run-to-run noise, not a gain."
             if median["webhooks"] < median["plain"] else "")
    if hooks["latency_ms"]["p90"] > plain["latency_ms"]["p90"]:
        noise += (f"\np90 rose from {plain['latency_ms']['p90']:.1f} to {hooks['latency_ms']['p90']:.1f} ms: the queued sinks' "
                  f"threads share the CPUs and the interpreter with the line (the slow endpoint runs in a process of its own).")
    return f"""# Soak run

Command (from the repository root):

```
{command}
```

Machine: {cpu_model()}, {psutil.cpu_count()} CPUs, {platform.system()} {platform.machine()}; {versions()}.
Wall time of all {2 * args.rounds} runs ({args.rounds} of each variant, interleaved): {wall} s.
Pipeline: synthetic camera at {args.fps:g} fps -> every-frame mode, deadline {args.deadline_ms:g} ms -> tiny bundle
on OpenVINO CPU (2 requests) -> journal + MQTT (QoS 1, disk spool) to mosquitto on loopback.
Injected: {args.camera_drops} camera drops of {args.drop_s:g} s, {args.broker_outages} broker outages of
{args.outage_s:g} s (mosquitto stopped and restarted), {args.slow_frames} inferences stalled by {args.slow_s:g} s.
The second run adds two webhook sinks: one at a closed port, one that answers after {args.slow_webhook_s:g} s per event
(both with `close_timeout=0`: what they have not delivered stays in their spool for the next run).

| measure | journal + MQTT | + dead and slow webhooks |
|---|---|---|
{row("frames captured", "frames_captured")}
{row("frame slots (captured + lost while the camera was away)", "frame_slots")}
{row("decisions in the journal", "decisions")}
{row("**decisions lost (journal)**", "decisions_lost_journal", lambda v: f"**{v}**")}
{row("**decisions lost (MQTT subscriber)**", "decisions_lost_mqtt", lambda v: f"**{v}**")}
{row("decisions out of order", "out_of_order")}
{row("MQTT duplicates (at-least-once resends)", "mqtt_duplicates")}
{row("MQTT reconnects", "mqtt_reconnects")}
| accepts / rejects | {plain['accepts']} / {plain['rejects']} | {hooks['accepts']} / {hooks['rejects']} |
| faults raised | {reasons(plain)} | {reasons(hooks)} |
{row("sink errors", "sink_errors")}
{row("sink_behind status events", "sinks_behind_events")}
| latency of inspected frames (frame to decision) | {latency(plain)} | {latency(hooks)} |
{row("throughput (frames/s)", "fps", lambda v: f"{v:.1f}")}
| RSS at start / end | {plain['rss_start_mib']} / {plain['rss_end_mib']} MiB | {hooks['rss_start_mib']} / {hooks['rss_end_mib']} MiB |
{row("wall time (s)", "wall_s")}

The table shows, for each variant, the run whose p99 is the variant's median. p99 of every run:
journal + MQTT {', '.join(f'{v:.1f}' for v in p99s['plain'])} ms; with the webhooks
{', '.join(f'{v:.1f}' for v in p99s['webhooks'])} ms. Decisions lost and out of order are 0 in every run
unless the table says otherwise (the script exits 1 when any run lost one).

**Frame-to-decision p99 with the webhooks, median of {args.rounds}: {median['webhooks']:.1f} ms against
{median['plain']:.1f} ms without (limit {limit:.1f} ms, +{P99_TOLERANCE:.0%}): {'met' if within else 'missed'}.**{noise}

Webhook sinks in the run with them shown above, after they were closed (events: decisions and status events):

| sink | events given | delivered | still spooled | failed attempts | lost to a full queue |
|---|---|---|---|---|---|
{hook_rows}

RSS is of the whole process (the soak harness, OpenVINO and the tiny model), measured after the
runner was built (start) and after all sinks were closed (end).
"""


if __name__ == "__main__":
    sys.exit(main())
