"""HTTP(S) webhook: each event POSTed as JSON, from a queued sink's own thread (standard library only).

Spec: ``http(s)://HOST[:PORT]/PATH[?OPTIONS]``; options: ``timeout=S`` (per request, 2),
``retries=N`` (5), ``backoff_max=S`` (5), ``spool=PATH``, ``queue=N`` (1000), ``close_timeout=S``
(10), ``token_env=VAR`` | ``token_file=PATH`` (sent as ``Authorization: Bearer TOKEN``, or as
``HEADER: TOKEN`` with ``header=HEADER``; over plain http only with ``insecure=1``), and for https
``ca=PATH``, ``cert=PATH``, ``key=PATH``.

A failed POST (network, timeout, HTTP 5xx, 408, 429) is retried with a backoff doubling from
0.25 s for ``retries`` attempts, then every ``backoff_max`` seconds until it goes through: the
event stays spooled meanwhile, and the ones behind it wait (order is kept). An event the endpoint
refuses (any other 4xx) is dropped after the same attempts and counted as refused.

Redirects are not followed: urllib would turn the POST into a GET that "succeeds" without the event
and carry the token to whatever URL the answer names. A 3xx is a failed delivery like a 5xx (the
event stays spooled and is retried), and ``last_error`` says to point the sink at the final URL.
"""

from __future__ import annotations

import http.client
import ssl
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Dict, Optional, Tuple

from edge.sinks.base import SinkError
from edge.sinks.credentials import probe, read_secret, tls_context
from edge.sinks.options import SpecOptions, public_url, split_sink_url
from edge.sinks.queued import DEFAULT_QUEUE, QueuedSink
from edge.sinks.spool import default_spool_path

RETRYABLE_4XX = (408, 429)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Answers every redirect with an HTTPError carrying its 3xx, so the POST and its token go to ``url`` only."""

    def redirect_request(self, req: urllib.request.Request, fp: Any, code: int, msg: str, headers: Any,
                         newurl: str) -> None:
        raise urllib.error.HTTPError(req.full_url, code, f"{msg} (redirect not followed)", headers, fp)


class WebhookSink(QueuedSink):
    def __init__(self, url: str, *, headers: Optional[Dict[str, str]] = None, context: Optional[ssl.SSLContext] = None,
                 timeout_s: float = 2.0, retries: int = 5, backoff_s: float = 0.25, backoff_max_s: float = 5.0,
                 spool_path: Optional[Path] = None, queue_size: int = DEFAULT_QUEUE, close_timeout_s: float = 10.0) -> None:
        """``url`` carries no credentials (they come in ``headers``): it is also the sink's name."""
        parts = split_sink_url(url, "webhook")
        if not parts.hostname:
            raise SinkError(f"{url}: no host; e.g. http://localhost:8080/decisions")
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError as exc:
            raise SinkError(f"{public_url(parts)}: bad port ({exc})") from None
        self.url = url
        self.name = f"webhook:{public_url(parts)}"
        self.timeout_s, self.retries, self.backoff_s, self.backoff_max_s = timeout_s, retries, backoff_s, backoff_max_s
        self._headers = {"Content-Type": "application/json", **(headers or {})}
        self._opener = urllib.request.build_opener(urllib.request.HTTPSHandler(context=context), _NoRedirect())
        self.reachable_at_start = probe(parts.hostname, port, context, self.name, timeout_s)
        super().__init__(spool_path or default_spool_path("webhook", parts.hostname, port, parts.path),
                         queue_size=queue_size, close_timeout_s=close_timeout_s)
        self._start()

    def notes(self) -> list:
        if self.reachable_at_start:
            return []
        return [f"{self.name} is unreachable; running on, spooling events to {self.spool.path} "
                f"and sending them when it answers"]

    def _post(self, payload: str) -> Tuple[bool, Optional[str]]:
        """(delivered, what went wrong): ``HTTP CODE`` for an answer, the exception's repr for no answer."""
        request = urllib.request.Request(self.url, data=payload.encode("utf-8"), method="POST", headers=self._headers)
        try:
            with self._opener.open(request, timeout=self.timeout_s) as response:
                return 200 <= response.status < 300, f"HTTP {response.status}"
        except urllib.error.HTTPError as exc:
            if 300 <= exc.code < 400:
                return False, f"HTTP {exc.code}: redirects are not followed; give the URL it redirects to"
            return False, f"HTTP {exc.code}"
        except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
            return False, repr(getattr(exc, "reason", exc))

    def _deliver_loop(self) -> None:
        while True:
            rows = self._wait_for_work(0, 1)
            if rows is None:
                return
            seq, _, payload = rows[0]
            attempt = 0
            while True:
                delivered, error = self._post(payload)
                if delivered:
                    self._acknowledged(seq)
                    break
                attempt += 1
                self._failed(error or "")
                if attempt > self.retries and _refused_for_good(error):
                    self._refuse(seq, error or "")
                    break
                wait = self.backoff_s * 2 ** (attempt - 1) if attempt <= self.retries else self.backoff_max_s
                if self._pause(min(wait, self.backoff_max_s)):
                    return

    def _worker_join_s(self) -> float:
        return self.timeout_s + 1.0


def _refused_for_good(error: Optional[str]) -> bool:
    """An HTTP 4xx other than 408/429: sending the same body again cannot succeed."""
    if not error or not error.startswith("HTTP 4"):
        return False
    return int(error.split()[1]) not in RETRYABLE_4XX


def open_webhook(spec: str) -> WebhookSink:
    """The webhook for an ``http(s)://`` sink spec (options in the module docstring)."""
    parts = split_sink_url(spec, "webhook")
    options = SpecOptions(f"webhook {public_url(parts)}", parts.query)
    token = read_secret(options, "token", tls=parts.scheme == "https")
    header = options.text("header")
    if header is not None and token is None:
        raise SinkError(f"{options.label}: header={header} needs the token it carries: add token_env= or token_file=")
    headers = {} if token is None else {header: token} if header else {"Authorization": f"Bearer {token}"}
    sink_options = dict(
        headers=headers, context=tls_context(options, parts.scheme == "https"),
        timeout_s=options.number("timeout", 2.0, minimum=0.001), retries=options.integer("retries", 5),
        backoff_max_s=options.number("backoff_max", 5.0, minimum=0.001), spool_path=options.path("spool"),
        queue_size=options.integer("queue", DEFAULT_QUEUE, minimum=1),
        close_timeout_s=options.number("close_timeout", 10.0),
    )
    options.check_used()
    return WebhookSink(parts._replace(query="").geturl(), **sink_options)  # type: ignore[arg-type]
