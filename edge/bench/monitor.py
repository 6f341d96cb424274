"""``gainctl bench --stream --serve``: what the ``--serve`` monitor and one watching client cost the line.

The stream runs alternately without and with the monitor (rounds interleaved, so drift on a shared
machine hits both alike). With it, one client does what the page does: it reads the live MJPEG
stream and ``/events`` and asks for ``/api/state`` every second, from a process of its own as a
browser would. Compared: unpaced throughput, p99 frame-to-decision paced as a camera, and
decisions lost (frames without a decision in the journal, or counted differently by the monitor).

    python -m edge.bench.monitor URL   # the client alone: watches until its stdin closes, then prints its bytes
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from typing import Any, Callable, Dict, Optional

ROUNDS = 5
STATE_POLL_S = 1.0
READY_TIMEOUT_S = 15.0
READ_TIMEOUT_S = 5.0
RETRY_S = 0.5


class WatchingClient:
    """One browser's worth of load in a process of its own: the MJPEG stream, the event stream and the state poll."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.bytes: Dict[str, int] = {}
        self.stalls: Dict[str, int] = {}  # streams silent for READ_TIMEOUT_S and opened again, by path
        self._process: Optional[subprocess.Popen] = None

    def __enter__(self) -> "WatchingClient":
        import select

        from edge.children import child_options

        self._process = subprocess.Popen([sys.executable, "-m", "edge.bench.monitor", self.base_url],
                                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, **child_options())
        # Watching starts once every stream has delivered its first bytes, so that a short run is watched too.
        assert self._process.stdout is not None
        if not select.select([self._process.stdout], [], [], READY_TIMEOUT_S)[0] or \
                self._process.stdout.readline().strip() != "ready":
            self._process.kill()
            self._process.wait()
            raise RuntimeError(f"the watching client did not connect to {self.base_url} within {READY_TIMEOUT_S:g} s")
        return self

    def cpu_seconds(self) -> float:
        """The client's CPU time so far: read around the run, since its start (an interpreter and
        its imports, before the line's first frame) would count as much as a short run's watching."""
        assert self._process is not None
        return cpu_seconds(self._process.pid)

    def __exit__(self, *exc: Any) -> None:
        assert self._process is not None
        try:
            out, _ = self._process.communicate("", timeout=30)  # closing its stdin ends the watching
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
            raise
        watched = json.loads(out.strip().splitlines()[-1])
        self.bytes, self.stalls = watched["bytes"], watched["stalls"]


class Watcher:
    """What ``WatchingClient``'s process runs: a thread per stream and one polling the state."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.bytes = {"stream.mjpg": 0, "events": 0, "api/state": 0}
        self.stalls = {path: 0 for path in self.bytes}
        self._stop = threading.Event()
        self._first = {path: threading.Event() for path in self.bytes}
        self._threads = [threading.Thread(target=self._pull, args=(path,), daemon=True) for path in ("stream.mjpg", "events")]
        self._threads.append(threading.Thread(target=self._poll, daemon=True))

    def start(self) -> None:
        """Start watching; return once every stream has delivered its first bytes (or READY_TIMEOUT_S)."""
        for thread in self._threads:
            thread.start()
        deadline = time.monotonic() + READY_TIMEOUT_S
        for first in self._first.values():
            first.wait(max(0.0, deadline - time.monotonic()))

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(5.0)

    def watch_until_stdin_closes(self) -> None:
        self.start()
        print("ready", flush=True)
        sys.stdin.read()
        self.stop()

    def _pull(self, path: str) -> None:
        """Read ``path`` until told to stop; a stream silent for ``READ_TIMEOUT_S`` (or one that fails) is
        opened again, as a browser does, and counted in ``stalls``: the client keeps watching to the end of the run, and the
        report says whether the page would have frozen."""
        while not self._stop.is_set():
            try:
                with urllib.request.urlopen(self.base_url + path, timeout=READ_TIMEOUT_S) as response:
                    while not self._stop.is_set():
                        self.bytes[path] += len(response.read1(65536))
                        self._first[path].set()
            except (TimeoutError, OSError):
                if not self._stop.is_set():
                    self.stalls[path] += 1
                    self._stop.wait(RETRY_S)  # a monitor that has gone refuses at once: no busy loop

    def _poll(self) -> None:
        while not self._stop.is_set():
            with urllib.request.urlopen(self.base_url + "api/state", timeout=5) as response:
                self.bytes["api/state"] += len(response.read())
            self._first["api/state"].set()
            self._stop.wait(STATE_POLL_S)


def cpu_seconds(pid: Optional[int] = None) -> float:
    """User and system CPU time of process ``pid`` (this one by default) so far."""
    import psutil

    times = psutil.Process(pid).cpu_times()
    return float(times.user + times.system)


def counted_by(base_url: str) -> int:
    """The decisions the monitor at ``base_url`` has counted, as its page reads them."""
    with urllib.request.urlopen(base_url + "api/state", timeout=10) as response:
        return sum(json.loads(response.read())["counts"].values())


def compare_monitor(run: Callable[[float | None, dict | None], tuple[Any, list]], paced_rate: float,
                    log: Callable[[str], None], rounds: int = ROUNDS) -> dict[str, Any]:
    """Median throughput and paced p99 without and with the monitor, their ratios and the decisions lost.

    ``run(rate_fps, monitored)`` is one stream run returning (summary, decision events); with a
    ``monitored`` dict it runs with the monitor and one ``WatchingClient`` and fills in ``counted``
    (decisions the monitor counted), ``client_bytes`` and ``client_stalls`` (by stream) and ``cpu_s`` (CPU seconds of the line's,
    the monitor's and the client's process during the run; as cores busy, medians, in ``cores``).
    """
    results: dict[str, dict[str, list]] = {name: {"fps": [], "p99_ms": [], "lost": [], "client_bytes": [], "client_stalls": [], "cores": []}
                                           for name in ("without", "with")}
    for index in range(rounds):
        for name in ("without", "with"):
            for rate in (None, paced_rate):
                monitored: dict | None = {} if name == "with" else None
                summary, events = run(rate, monitored)
                # Every captured frame must reach the journal with its decision, and the monitor must count each once.
                lost = summary.frames - len({e.frame for e in events})
                if monitored is not None:
                    lost += abs(monitored["counted"] - summary.frames)
                    results[name]["client_bytes"].append(monitored["client_bytes"])
                    results[name]["client_stalls"].append(sum(monitored["client_stalls"].values()))
                    if rate is None:  # the unpaced run: what each process took of the cores while the line ran flat out
                        results[name]["cores"].append({who: seconds / summary.elapsed_s
                                                       for who, seconds in monitored["cpu_s"].items()})
                results[name]["lost"].append(lost)
                results[name]["fps" if rate is None else "p99_ms"].append(
                    summary.fps if rate is None else summary.latency_ms.get("p99"))
        log(f"stream monitor round {index + 1}/{rounds}: without {results['without']['fps'][-1]:.1f} fps, "
            f"p99 {results['without']['p99_ms'][-1]} ms; with {results['with']['fps'][-1]:.1f} fps, "
            f"p99 {results['with']['p99_ms'][-1]} ms")
    medians = {name: {key: statistics.median(r[key]) for key in ("fps", "p99_ms")} for name, r in results.items()}
    return {
        "rounds": rounds, "paced_fps": paced_rate, "without": medians["without"], "with": medians["with"],
        "fps_ratio": medians["with"]["fps"] / medians["without"]["fps"] if medians["without"]["fps"] else None,
        "p99_ratio": medians["with"]["p99_ms"] / medians["without"]["p99_ms"] if medians["without"]["p99_ms"] else None,
        "decisions_lost": sum(results["with"]["lost"]), "decisions_lost_without": sum(results["without"]["lost"]),
        "cores": {who: statistics.median(run[who] for run in results["with"]["cores"])
                  for who in (results["with"]["cores"][0] if results["with"]["cores"] else {})},
        "client_bytes": sum(sum(run.values()) for run in results["with"]["client_bytes"]),
        "client_stalls": sum(results["with"]["client_stalls"]), "runs": results,
    }


if __name__ == "__main__":
    watcher = Watcher(sys.argv[1])
    watcher.watch_until_stdin_closes()
    print(json.dumps({"bytes": watcher.bytes, "stalls": watcher.stalls}))
