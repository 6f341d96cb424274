"""Factory connections: mosquitto with TLS, a client certificate and a password file; an HTTPS webhook with a token.

Certificates are made here; the secrets reach the sinks through the environment or a file, and
appear in no output, journal line or sink name.
"""

from __future__ import annotations

import json
import signal
import ssl
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from edge.bench.loopback import MOSQUITTO, MOSQUITTO_PASSWD, Broker, Endpoint, ServerTLS, Subscriber, free_port
from gain_mtl.cli import main
from tests.helpers.tiny_bundle import build_tiny_bundle, write_video

pytest.importorskip("cryptography", reason="cryptography is not installed (dev extra)")
from tests.helpers.certificates import Certificates, make_certificates  # noqa: E402

PASSWORD = "line-1-Pa55word"
TOKEN = "tok-8d1f0c-secret"
FRAMES = 6


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return make_certificates(tmp_path_factory.mktemp("certs"))


@pytest.fixture(scope="module")
def line(tmp_path_factory: pytest.TempPathFactory) -> tuple:
    folder = tmp_path_factory.mktemp("line")
    write_video(folder / "v.avi", FRAMES)
    return build_tiny_bundle(folder / "bundle"), folder / "v.avi"


def _run(line: tuple, *sinks: str, env: dict | None = None):
    bundle, video = line
    args = ["run", "--model", str(bundle), "--source", str(video)]
    for sink in sinks:
        args += ["--sink", sink]
    return CliRunner().invoke(main, args, env=env or {})


def _journal_text(path: Path) -> str:
    return path.read_text() if path.exists() else ""


needs_mosquitto = pytest.mark.skipif(not (MOSQUITTO.exists() and MOSQUITTO_PASSWD.exists()),
                                     reason="mosquitto and mosquitto_passwd are not installed (make setup installs them)")


@pytest.fixture()
def tls_broker(tmp_path: Path, certs: Certificates):
    pytest.importorskip("paho.mqtt.client", reason="paho-mqtt is not installed (mqtt extra)")
    broker = Broker(tmp_path, free_port(), tls=ServerTLS(certs.server_cert, certs.server_key, client_ca=certs.ca),
                    users={"camera": PASSWORD})
    broker.start()
    yield broker
    broker.stop()


def _mqtts(broker: Broker, certs: Certificates, tmp_path: Path, **extra: str) -> str:
    options = {"ca": certs.ca, "cert": certs.client_cert, "key": certs.client_key, "username": "camera",
               "password_env": "GAIN_TEST_MQTT_PASSWORD", "spool": tmp_path / "spool.sqlite", "close_timeout": 5, **extra}
    return f"mqtts://127.0.0.1:{broker.port}/line/decisions?" + "&".join(f"{k}={v}" for k, v in options.items() if v != "")


@needs_mosquitto
def test_mqtts_with_client_certificate_and_password_delivers_every_decision(tls_broker: Broker, certs: Certificates,
                                                                            line: tuple, tmp_path: Path) -> None:
    context = ssl.create_default_context(cafile=str(certs.ca))
    context.load_cert_chain(str(certs.client_cert), str(certs.client_key))
    subscriber = Subscriber(tls_broker.port, "line/decisions", context=context, username="camera", password=PASSWORD)
    assert subscriber.subscribed.wait(10)
    journal = tmp_path / "journal.jsonl"
    result = _run(line, f"journal:{journal}", _mqtts(tls_broker, certs, tmp_path),
                  env={"GAIN_TEST_MQTT_PASSWORD": PASSWORD})
    deadline = time.monotonic() + 10
    while len(set(subscriber.frames)) < FRAMES and time.monotonic() < deadline:
        time.sleep(0.1)
    subscriber.close()
    assert result.exit_code == 0, result.output
    assert set(subscriber.frames) == set(range(FRAMES))
    summary = json.loads(journal.read_text().splitlines()[-1])["detail"]
    assert list(summary["sinks"]) == [f"mqtts://127.0.0.1:{tls_broker.port}/line/decisions"]   # named without secrets
    assert PASSWORD not in result.output and PASSWORD not in journal.read_text()


@needs_mosquitto
def test_mqtts_without_the_ca_is_refused_at_start(tls_broker: Broker, certs: Certificates, line: tuple, tmp_path: Path) -> None:
    journal = tmp_path / "journal.jsonl"
    result = _run(line, f"journal:{journal}", _mqtts(tls_broker, certs, tmp_path, ca=""),
                  env={"GAIN_TEST_MQTT_PASSWORD": PASSWORD})
    assert result.exit_code == 2, result.output
    assert "TLS certificate is not trusted" in result.output and "ca=PATH" in result.output
    assert not (tmp_path / "spool.sqlite").exists() and '"decision"' not in _journal_text(journal)


@needs_mosquitto
def test_mqtts_with_another_ca_is_refused_at_start(tls_broker: Broker, certs: Certificates, line: tuple, tmp_path: Path) -> None:
    result = _run(line, _mqtts(tls_broker, certs, tmp_path, ca=str(certs.other_ca)), env={"GAIN_TEST_MQTT_PASSWORD": PASSWORD})
    assert result.exit_code == 2 and "not trusted" in result.output, result.output


@needs_mosquitto
def test_mqtts_with_a_wrong_password_is_refused_at_start(tls_broker: Broker, certs: Certificates, line: tuple,
                                                         tmp_path: Path) -> None:
    (tmp_path / "pw").write_text("not-the-password\n")
    journal = tmp_path / "journal.jsonl"
    spec = _mqtts(tls_broker, certs, tmp_path, password_env="", password_file=str(tmp_path / "pw"))
    result = _run(line, f"journal:{journal}", spec)
    assert result.exit_code == 2, result.output
    assert "the broker refused the connection" in result.output and "not-the-password" not in result.output
    assert '"decision"' not in _journal_text(journal)


@needs_mosquitto
def test_plain_mqtt_to_a_tls_listener_is_not_taken_for_an_away_broker(tls_broker: Broker, line: tuple, tmp_path: Path) -> None:
    """Without TLS the broker drops the connection: the run goes on spooling and says the broker is unreachable."""
    result = _run(line, f"mqtt://127.0.0.1:{tls_broker.port}/line?spool={tmp_path / 's.sqlite'}&close_timeout=0.2")
    assert result.exit_code == 0 and "unreachable; running on, spooling" in result.output, result.output


def _https_endpoint(certs: Certificates) -> Endpoint:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(certs.server_cert), str(certs.server_key))
    return Endpoint(context=context)


def test_https_webhook_with_a_bearer_token_from_a_file(certs: Certificates, line: tuple, tmp_path: Path) -> None:
    (tmp_path / "token").write_text(TOKEN + "\n")
    endpoint = _https_endpoint(certs)
    journal = tmp_path / "journal.jsonl"
    try:
        result = _run(line, f"journal:{journal}", f"{endpoint.url()}?ca={certs.ca}&token_file={tmp_path / 'token'}"
                                                  f"&spool={tmp_path / 'spool.sqlite'}")
    finally:
        endpoint.close()
    assert result.exit_code == 0, result.output
    assert endpoint.frames == list(range(FRAMES))
    assert {h["Authorization"] for h in endpoint.headers} == {f"Bearer {TOKEN}"}
    assert TOKEN not in result.output and TOKEN not in journal.read_text()


def test_https_webhook_token_in_a_named_header(certs: Certificates, line: tuple, tmp_path: Path) -> None:
    endpoint = _https_endpoint(certs)
    try:
        result = _run(line, f"{endpoint.url()}?ca={certs.ca}&token_env=GAIN_TEST_TOKEN&header=X-Api-Key"
                            f"&spool={tmp_path / 'spool.sqlite'}", env={"GAIN_TEST_TOKEN": TOKEN})
    finally:
        endpoint.close()
    assert result.exit_code == 0, result.output
    assert {h["X-Api-Key"] for h in endpoint.headers} == {TOKEN} and "Authorization" not in endpoint.headers[0]


def test_https_webhook_without_the_ca_is_refused_at_start(certs: Certificates, line: tuple, tmp_path: Path) -> None:
    endpoint = _https_endpoint(certs)
    try:
        result = _run(line, f"{endpoint.url()}?token_env=GAIN_TEST_TOKEN&spool={tmp_path / 'spool.sqlite'}",
                      env={"GAIN_TEST_TOKEN": TOKEN})
    finally:
        endpoint.close()
    assert result.exit_code == 2, result.output
    assert "TLS certificate is not trusted" in result.output and TOKEN not in result.output
    assert not (tmp_path / "spool.sqlite").exists() and endpoint.attempts == 0


def test_webhook_token_variable_not_set_is_refused(line: tuple, tmp_path: Path) -> None:
    result = _run(line, f"https://127.0.0.1:{free_port()}/hook?token_env=GAIN_TEST_NO_SUCH_TOKEN")
    assert result.exit_code == 2 and "GAIN_TEST_NO_SUCH_TOKEN names an environment variable that is not set" in result.output


def test_dead_and_slow_webhooks_cost_the_line_nothing(line: tuple, tmp_path: Path) -> None:
    slow = Endpoint(delay_s=0.5)
    journal = tmp_path / "journal.jsonl"
    try:
        started = time.monotonic()
        result = _run(line, f"journal:{journal}", f"http://127.0.0.1:{free_port()}/dead?close_timeout=0&spool={tmp_path / 'd.sqlite'}",
                      f"{slow.url()}?close_timeout=0&spool={tmp_path / 's.sqlite'}")
        elapsed = time.monotonic() - started
    finally:
        slow.close()
    assert result.exit_code == 0, result.output
    events = [json.loads(x) for x in journal.read_text().splitlines()]
    decisions = [e for e in events if e["kind"] == "decision"]
    assert [e["frame"] for e in decisions] == list(range(FRAMES))
    assert max(e["latency_ms"] for e in decisions) < 400      # the slow endpoint takes 500 ms per event
    assert elapsed < 10, elapsed
    assert "events are still spooled" in result.output


def test_a_token_over_plain_http_needs_insecure(line: tuple, tmp_path: Path) -> None:
    endpoint = Endpoint()
    spec = f"{endpoint.url()}?token_env=GAIN_TEST_TOKEN&spool={tmp_path / 'spool.sqlite'}"
    try:
        refused = _run(line, spec, env={"GAIN_TEST_TOKEN": TOKEN})
        attempts_when_refused = endpoint.attempts
        taken = _run(line, spec + "&insecure=1", env={"GAIN_TEST_TOKEN": TOKEN})
    finally:
        endpoint.close()
    assert refused.exit_code == 2 and "in clear text without TLS" in refused.output and "insecure=1" in refused.output
    assert attempts_when_refused == 0 and TOKEN not in refused.output
    assert taken.exit_code == 0, taken.output
    assert endpoint.frames == list(range(FRAMES)) and {h["Authorization"] for h in endpoint.headers} == {f"Bearer {TOKEN}"}


def test_a_full_disk_loses_the_webhook_its_events_not_the_run(line: tuple, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Every spool write fails: the run ends within the sink's close timeout, the summary counts the loss."""
    from edge.sinks.spool import Spool

    def disk_full(self: Spool, rows: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Spool, "add_many", disk_full)
    journal = tmp_path / "journal.jsonl"
    port = free_port()
    spec = f"http://127.0.0.1:{port}/hook?queue=1&close_timeout=1&spool={tmp_path / 'spool.sqlite'}"

    def hung(signum: int, frame: object) -> None:
        raise TimeoutError("the run did not end: the webhook's close waited on its intake thread")

    previous = signal.signal(signal.SIGALRM, hung)   # the run wants the main thread (it handles signals)
    signal.alarm(30)
    try:
        result = _run(line, f"journal:{journal}", spec)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    assert result.exit_code == 0, result.output
    events = [json.loads(x) for x in journal.read_text().splitlines()]
    assert [e["frame"] for e in events if e["kind"] == "decision"] == list(range(FRAMES))   # the journal keeps them
    counters = events[-1]["detail"]["sinks"][f"webhook:http://127.0.0.1:{port}/hook"]
    # The summary is counted while the sink may still hold its one queued event (queue=1; the intake
    # thread takes the queue every 50 ms): that one is pending, every other event is counted lost.
    assert counters["delivered"] == 0 and counters["pending"] <= 1
    assert counters["overflowed"] + counters["pending"] >= FRAMES
