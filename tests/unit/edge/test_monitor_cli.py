"""`gainctl run --serve`: the address and token rules, checked before anything opens; no web library without it."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from edge.monitor.address import MonitorError, check_exposure, parse_address
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
    main(["run", "--model", sys.argv[1], "--source", sys.argv[2], "--backend", "onnxruntime", "--sink", "journal:" + sys.argv[3]],
         standalone_mode=False)
finally:
    print("loaded:", sorted(m for m in ("starlette", "uvicorn", "prometheus_client") if m in sys.modules))
"""


def test_a_run_without_serve_imports_no_web_library(tiny_bundle_dir: Path, tmp_path: Path) -> None:
    write_video(tmp_path / "v.avi", 5)
    result = subprocess.run([sys.executable, "-c", PROBE, str(tiny_bundle_dir), str(tmp_path / "v.avi"), str(tmp_path / "j.jsonl")],
                            cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "loaded: []" in result.stdout
    assert len((tmp_path / "j.jsonl").read_text().splitlines()) == 6  # 5 decisions and the summary
