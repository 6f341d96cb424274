"""HTTP webhook: each event POSTed as JSON, retried with backoff (standard library only).

Runs in the output thread, so retries delay the next decision: keep ``timeout_s`` and ``retries``
small on a line; the journal remains the record of truth when a webhook gives up.
"""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from typing import Optional

from edge.events import Event
from edge.sinks.base import FrameContext, Sink


class WebhookSink(Sink):
    def __init__(self, url: str, retries: int = 2, timeout_s: float = 2.0, backoff_s: float = 0.25) -> None:
        self.url = url
        self.name = f"webhook:{url}"
        self.retries, self.timeout_s, self.backoff_s = retries, timeout_s, backoff_s

    def send(self, event: Event, context: Optional[FrameContext] = None) -> None:
        body = event.to_json().encode("utf-8")
        delay = self.backoff_s
        for attempt in range(self.retries + 1):
            request = urllib.request.Request(self.url, data=body, method="POST",
                                             headers={"Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                    if 200 <= response.status < 300:
                        return
                    error: Exception = RuntimeError(f"HTTP {response.status}")
            except (urllib.error.URLError, OSError) as exc:
                error = exc
            if attempt < self.retries:
                time.sleep(delay)
                delay *= 2
        raise RuntimeError(f"POST {self.url} failed after {self.retries + 1} attempts: {error}")
