"""Bad sink specs: each refused at start with a message that names the option and the fix, never a secret."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.bench.loopback import Endpoint, free_port
from edge.events import Event
from edge.sinks import SinkError, open_sink

SECRET = "s3cr3t-Passw0rd"


@pytest.mark.parametrize("spec, message", [
    ("http://127.0.0.1:9/hook?timout=2", "unknown option timout"),
    ("http://127.0.0.1:9/hook?timeout=abc", "timeout='abc' is not a number"),
    ("http://127.0.0.1:9/hook?timeout=0", "timeout must be a finite number of at least 0.001"),
    ("http://127.0.0.1:9/hook?retries=-1", "retries must be a whole number of at least 0"),
    ("http://127.0.0.1:9/hook?queue=0", "queue must be a whole number of at least 1"),
    ("http://127.0.0.1:9/hook?retries=1&retries=2", "option retries is given 2 times"),
    ("http://127.0.0.1:9/hook?spool=", "option spool is empty"),
    ("http://127.0.0.1:9/hook?header=X-Api-Key", "header=X-Api-Key needs the token it carries"),
    ("http://127.0.0.1:9/hook?ca=/nonexistent/ca.pem", "ca need TLS"),
    ("https://127.0.0.1:9/hook?ca=/nonexistent/ca.pem", "ca=/nonexistent/ca.pem is not a readable file"),
    ("https://127.0.0.1:9/hook?token_env=GAIN_TEST_UNSET_TOKEN", "GAIN_TEST_UNSET_TOKEN names an environment variable that is not set"),
    ("mqtt://127.0.0.1:9/line?close_timeout=-1", "close_timeout must be a finite number of at least 0"),
    ("mqtt://127.0.0.1:9/line?keepalive=5", "unknown option keepalive"),
    ("mqtt://127.0.0.1:9/line?cert=/nonexistent/c.pem", "cert need TLS; use mqtts://"),
    ("mqtts://127.0.0.1:9/line?password_env=HOME", "a password needs its user"),
    ("mqtts://127.0.0.1:9/line?username=cam&password_file=/nonexistent/pw", "password_file=/nonexistent/pw cannot be read"),
    (f"mqtts://127.0.0.1:9/line?key={__file__}", "key= needs its certificate"),
    ("mqtt://127.0.0.1:notaport/line", "bad port"),
    ("http://127.0.0.1:9/hook?token_env=HOME", "token_env would send the token in clear text without TLS; use mqtts:// "
                                               "or https://, or add insecure=1 to the spec if the network is trusted"),
    (f"http://127.0.0.1:9/hook?token_file={__file__}", "token_file would send the token in clear text"),
    ("mqtt://127.0.0.1:9/line?username=cam&password_env=HOME", "password_env would send the password in clear text"),
    ("http://127.0.0.1:9/hook?token_env=HOME&insecure=yes", "insecure='yes' is not understood; give insecure=1"),
    ("https://127.0.0.1:9/hook?token_env=HOME&insecure=1", "insecure=1 only lets a secret go over plain mqtt:// or http://"),
])
def test_bad_options_are_refused_with_the_fix(spec: str, message: str) -> None:
    with pytest.raises(SinkError, match=None) as info:
        open_sink(spec)
    assert message in str(info.value)


@pytest.mark.parametrize("spec", [
    f"mqtt://camera:{SECRET}@127.0.0.1:9/line",
    f"https://camera:{SECRET}@127.0.0.1:9/hook",
    f"mqtts://127.0.0.1:9/line?username=camera&password={SECRET}",
    f"https://127.0.0.1:9/hook?token={SECRET}",
])
def test_a_secret_written_into_the_spec_is_refused_and_not_repeated(spec: str) -> None:
    with pytest.raises(SinkError) as info:
        open_sink(spec)
    assert "refused" in str(info.value) and SECRET not in str(info.value)


def test_a_secret_from_two_places_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GAIN_TEST_TOKEN", SECRET)
    (tmp_path / "token").write_text(SECRET)
    with pytest.raises(SinkError, match="give token_env or token_file, not both"):
        open_sink(f"https://127.0.0.1:9/hook?token_env=GAIN_TEST_TOKEN&token_file={tmp_path / 'token'}")


def test_an_empty_secret_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("\n")
    with pytest.raises(SinkError, match="token_file=.* is empty"):
        open_sink(f"https://127.0.0.1:9/hook?token_file={tmp_path / 'token'}")


def test_a_token_over_plain_http_goes_out_with_insecure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GAIN_TEST_TOKEN", SECRET)
    endpoint = Endpoint()
    try:
        sink = open_sink(f"{endpoint.url()}?token_env=GAIN_TEST_TOKEN&insecure=1&spool={tmp_path / 'spool.sqlite'}")
        sink.send(Event(kind="decision", frame=1, decision="accept", score=0.1, threshold=0.5, run="r"))
        sink.close()
    finally:
        endpoint.close()
    assert endpoint.frames == [1] and endpoint.headers[0]["Authorization"] == f"Bearer {SECRET}"


def test_a_password_over_plain_mqtt_is_taken_with_insecure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("paho.mqtt.client", reason="paho-mqtt is not installed (mqtt extra)")
    monkeypatch.setenv("GAIN_TEST_PASSWORD", SECRET)
    sink = open_sink(f"mqtt://127.0.0.1:{free_port()}/line?username=cam&password_env=GAIN_TEST_PASSWORD&insecure=1"
                     f"&timeout=0.1&close_timeout=0&spool={tmp_path / 'spool.sqlite'}")
    sink.close()
    assert sink.name == f"mqtt://127.0.0.1:{sink.port}/line"


def test_a_refused_spec_writes_no_spool(tmp_path: Path) -> None:
    spool = tmp_path / "spool.sqlite"
    with pytest.raises(SinkError):
        open_sink(f"http://127.0.0.1:9/hook?spool={spool}&retries=x")
    assert not spool.exists() and list(tmp_path.iterdir()) == []
