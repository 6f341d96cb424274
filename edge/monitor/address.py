"""Where the monitor listens, and who may look: ``[HOST:]PORT`` and the token rule.

Kept free of the web libraries so that ``gainctl run`` checks a bad ``--serve`` value before it
opens the camera or loads a model.
"""

from __future__ import annotations

import ipaddress
from typing import Optional, Tuple

DEFAULT_HOST = "127.0.0.1"
LOOPBACK_NAMES = ("localhost",)


class MonitorError(ValueError):
    """A monitor that cannot be started as asked (bad address, no token, port taken): exit code 2."""


def parse_address(text: str) -> Tuple[str, int]:
    """``"8080"``, ``"0.0.0.0:8080"`` or ``"[::1]:8080"`` -> (host, port); the host defaults to loopback."""
    value = text.strip()
    host, sep, port_text = value.rpartition(":")
    if not sep:
        host, port_text = DEFAULT_HOST, value
    host = host.strip("[]") or DEFAULT_HOST
    try:
        port = int(port_text)
    except ValueError:
        raise MonitorError(f"--serve {text!r}: expected [HOST:]PORT, e.g. 8080 or 0.0.0.0:8080") from None
    if not 0 <= port <= 65535:
        raise MonitorError(f"--serve {text!r}: port {port} is outside 0..65535")
    return host, port


def is_loopback(host: str) -> bool:
    """True for names and addresses that only this machine can reach."""
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to an address others reach


def check_exposure(host: str, token: Optional[str]) -> None:
    """Refuse to show the line to the network without a token: the page shows every part."""
    if token is not None and not token.strip():
        raise MonitorError("--serve-token is empty; give a secret string or leave it unset")
    if token is None and not is_loopback(host):
        raise MonitorError(
            f"--serve {host}: serving beyond this machine needs a token; set GAINCTL_SERVE_TOKEN (or --serve-token) "
            f"or serve on {DEFAULT_HOST}")
