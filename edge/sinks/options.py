"""The options of a URL sink spec (``?timeout=2&retries=5&spool=PATH``), typed and checked.

Every error names the option and the sink but never echoes the whole spec: a spec may name where
a secret is, and an operator pastes error messages into tickets.
"""

from __future__ import annotations

from pathlib import Path
from typing import Dict, Optional
from urllib.parse import SplitResult, parse_qs, urlsplit, urlunsplit

from edge.sinks.base import SinkError


class SpecOptions:
    """The query of a sink URL; each option read at most once, unknown ones refused by ``check_used``."""

    def __init__(self, label: str, query: str) -> None:
        self.label = label
        try:
            parsed = parse_qs(query, keep_blank_values=True, strict_parsing=bool(query))
        except ValueError as exc:
            raise SinkError(f"{label}: cannot read the options after '?' ({exc}); write ?name=value&name=value") from exc
        self._values: Dict[str, str] = {}
        for name, values in parsed.items():
            if len(values) > 1:
                raise SinkError(f"{label}: option {name} is given {len(values)} times; give it once")
            self._values[name] = values[0]
        self._used: set = set()

    def text(self, name: str, default: Optional[str] = None) -> Optional[str]:
        self._used.add(name)
        value = self._values.get(name)
        if value == "":
            raise SinkError(f"{self.label}: option {name} is empty; give a value or leave it out")
        return default if value is None else value

    def number(self, name: str, default: float, *, minimum: float = 0.0) -> float:
        value = self.text(name)
        if value is None:
            return default
        try:
            number = float(value)
        except ValueError:
            raise SinkError(f"{self.label}: {name}={value!r} is not a number") from None
        if not number >= minimum or number == float("inf"):
            raise SinkError(f"{self.label}: {name} must be a finite number of at least {minimum:g}, got {value}")
        return number

    def integer(self, name: str, default: int, *, minimum: int = 0) -> int:
        value = self.text(name)
        if value is None:
            return default
        if not value.isdigit() or int(value) < minimum:
            raise SinkError(f"{self.label}: {name} must be a whole number of at least {minimum}, got {value!r}")
        return int(value)

    def path(self, name: str) -> Optional[Path]:
        value = self.text(name)
        return None if value is None else Path(value)

    def existing_file(self, name: str) -> Optional[Path]:
        """A file the sink reads at start (CA, certificate, key, secret): checked now, not at first use."""
        path = self.path(name)
        if path is not None and not path.is_file():
            raise SinkError(f"{self.label}: {name}={path} is not a readable file")
        return path

    def check_used(self) -> None:
        """Refuse options no reader asked for: a typo (``timout=2``) must not be ignored silently."""
        extra = sorted(set(self._values) - self._used)
        if extra:
            raise SinkError(f"{self.label}: unknown option{'s' if len(extra) > 1 else ''} {', '.join(extra)}")


def split_sink_url(spec: str, scheme_label: str) -> SplitResult:
    """The URL of a sink spec; a password written into it is refused (it would show in process lists and logs)."""
    url = urlsplit(spec)
    if url.password is not None:
        shown = urlunsplit(url._replace(netloc=f"{url.username}:***@{url.hostname}", query=""))
        raise SinkError(f"{shown}: a password in the {scheme_label} URL is refused, as it would show in process "
                        f"lists and logs; use password_env=NAME or password_file=PATH (token_env / token_file for a webhook)")
    return url


def public_url(url: SplitResult) -> str:
    """The URL without its query and credentials: what names, notes and errors may show."""
    try:
        port = url.port
    except ValueError:
        port = None
    host = url.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    return urlunsplit((url.scheme, f"{host}:{port}" if port else host, url.path, "", ""))
