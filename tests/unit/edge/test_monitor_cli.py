"""`gainctl run --serve`: the address and token rules, checked before anything opens; no web library in the line's process."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from edge.events import Event
from edge.monitor.address import MonitorError, check_exposure, parse_address
from edge.sinks.base import FrameContext, Sink
from gain_mtl.cli import main
from tests.helpers.tiny_bundle import write_video

REPO = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize("text, expected", [
    ("8080", ("127.0.0.1", 8080)), ("0.0.0.0:9000", ("0.0.0.0", 9000)), ("[::1]:8080", ("::1", 8080)),
    ("localhost:0", ("localhost", 0)), (":8080", ("127.0.0.1", 8080)),
])
def test_addresses(text: str, expected: tuple) -> None:
    assert parse_address(text) == expected


@pytest.mark.parametrize("text, message", [("http", r"expected \[HOST:\]PORT"), ("host:70000", "outside 0..65535")])
def test_bad_addresses(text: str, message: str) -> None:
    with pytest.raises(MonitorError, match=message):
        parse_address(text)


def test_only_loopback_is_served_without_a_token() -> None:
    for host in ("127.0.0.1", "::1", "localhost", "127.0.0.2"):
        check_exposure(host, None)
    for host in ("0.0.0.0", "192.168.1.20", "line-7.plant"):
        with pytest.raises(MonitorError, match="needs a token"):
            check_exposure(host, None)
        check_exposure(host, "secret")
    with pytest.raises(MonitorError, match="empty"):
        check_exposure("0.0.0.0", " ")


def run_cli(*args: str, env: dict | None = None):
    # The model does not exist: a refused --serve must be reported before the bundle is even read.
    return CliRunner().invoke(main, ["run", "--model", "no-such-bundle", "--source", "no-such.avi", *args], env=env)


def test_serving_beyond_localhost_without_a_token_is_refused_with_exit_2() -> None:
    result = run_cli("--serve", "0.0.0.0:8080", env={"GAINCTL_SERVE_TOKEN": None})
    assert result.exit_code == 2
    assert "serving beyond this machine needs a token; set GAINCTL_SERVE_TOKEN" in result.output


def test_the_token_comes_from_the_environment() -> None:
    result = run_cli("--serve", "0.0.0.0:0", env={"GAINCTL_SERVE_TOKEN": "secret"})
    assert result.exit_code == 2 and "token" not in result.output and "no-such-bundle" in result.output


def test_the_live_view_rate_is_checked_and_reaches_the_monitor(monkeypatch: pytest.MonkeyPatch) -> None:
    import edge.monitor

    result = run_cli("--serve", "127.0.0.1:0", "--serve-fps", "0")
    assert result.exit_code == 2 and "--serve-fps" in result.output and "0<x<=30" in result.output
    result = run_cli("--serve", "127.0.0.1:0", "--serve-fps", "nan")
    assert result.exit_code == 2 and "--serve-fps" in result.output
    result = run_cli("--serve-fps", "2")
    assert result.exit_code == 2 and "give --serve too" in result.output
    made: list = []

    class Recorded(edge.monitor.Monitor):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            made.append(self.live_fps)

    monkeypatch.setattr(edge.monitor, "Monitor", Recorded)
    result = run_cli("--serve", "127.0.0.1:0", "--serve-fps", "1.5")
    assert result.exit_code == 2 and "no-such-bundle" in result.output  # refused later, at the bundle
    assert made == [1.5]


def test_a_run_refused_at_its_bundle_frees_the_monitors_port() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = run_cli("--serve", f"127.0.0.1:{port}")
    assert result.exit_code == 2 and "no-such-bundle" in result.output
    with socket.socket() as again:  # the refused run let the port go: the corrected run can take it
        again.bind(("127.0.0.1", port))


def test_a_port_in_use_is_a_clear_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        result = run_cli("--serve", f"127.0.0.1:{taken.getsockname()[1]}")
    assert result.exit_code == 2 and "cannot listen there" in result.output


PROBE = """
import sys
from gain_mtl.cli import main
try:
    main(["run", "--model", sys.argv[1], "--source", sys.argv[2], "--backend", "onnxruntime", "--sink", "journal:" + sys.argv[3],
          *sys.argv[4:]], standalone_mode=False)
finally:
    print("loaded:", sorted(m for m in ("starlette", "uvicorn", "prometheus_client") if m in sys.modules))
"""


@pytest.mark.parametrize("serve", [[], ["--serve", "127.0.0.1:0"]], ids=["without-serve", "with-serve"])
def test_the_line_s_process_imports_no_web_library(tiny_bundle_dir: Path, tmp_path: Path, serve: list) -> None:
    # With --serve the web server lives in the monitor's process; the line's never loads it.
    if serve:
        pytest.importorskip("starlette", reason="the monitor extra is not installed")
    write_video(tmp_path / "v.avi", 5)
    result = subprocess.run([sys.executable, "-c", PROBE, str(tiny_bundle_dir), str(tmp_path / "v.avi"), str(tmp_path / "j.jsonl"),
                             *serve], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "loaded: []" in result.stdout
    assert ("monitor on http://127.0.0.1:" in result.stderr) == bool(serve)
    assert len((tmp_path / "j.jsonl").read_text().splitlines()) == 6  # 5 decisions and the summary


class Held(Sink):
    """A station's own queueing sink (as MQTT and webhook are) holding a known backlog."""

    name = "mqtt://broker:1883/line"

    def __init__(self, held: int) -> None:
        self.held = held

    def send(self, event: Event, context: FrameContext | None = None) -> None:
        pass

    def pending(self) -> int:
        return self.held


def test_each_stations_own_sinks_are_in_the_backlog_metric(tiny_bundle_dir: Path, tmp_path: Path, monkeypatch) -> None:
    pytest.importorskip("starlette", reason="the monitor extra is not installed")
    import urllib.request

    import edge.sinks
    from edge.monitor import Monitor

    write_video(tmp_path / "v.avi", 3)
    (tmp_path / "line.toml").write_text(
        f'[[station]]\nname = "top"\nsource = "{tmp_path / "v.avi"}"\nsinks = ["held:2"]\n\n'
        f'[[station]]\nname = "side"\nsource = "{tmp_path / "v.avi"}"\nsinks = ["held:3"]\n')
    real_open, real_start = edge.sinks.open_sink, Monitor.start
    monkeypatch.setattr(edge.sinks, "open_sink",
                        lambda spec: Held(int(spec[len("held:"):])) if spec.startswith("held:") else real_open(spec))
    scraped = []

    def start_and_scrape(self: Monitor, *args, **kwargs) -> None:
        real_start(self, *args, **kwargs)
        scraped.append(urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=10).read().decode())

    monkeypatch.setattr(Monitor, "start", start_and_scrape)
    # Not through CliRunner: the server's threads write to the stderr it would close on return.
    main(["run", "--model", str(tiny_bundle_dir), "--line", str(tmp_path / "line.toml"), "--backend", "onnxruntime",
          "--sink", f"journal:{tmp_path / 'j.jsonl'}", "--serve", "127.0.0.1:0"], standalone_mode=False)
    from prometheus_client.parser import text_string_to_metric_families

    backlog = {(s.labels["sink"], s.labels["station"]): s.value for family in text_string_to_metric_families(scraped[0])
               for s in family.samples if s.name == "gainctl_sink_backlog_events"}
    assert backlog == {("mqtt://broker:1883/line", "top"): 2, ("mqtt://broker:1883/line", "side"): 3}
