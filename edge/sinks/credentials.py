"""Secrets and TLS settings of the network sinks, from the spec's options.

A secret (MQTT password, webhook token) is named, never written, in the spec: ``NAME_env=VAR``
reads an environment variable, ``NAME_file=PATH`` a file (a mounted secret, mode 0600). The value
only ever goes to the connection: sink names, notes, errors and events never carry it, and it
goes over TLS (mqtts://, https://) unless the spec says ``insecure=1``: a plain connection would
show it to anyone on the network.
"""

from __future__ import annotations

import os
import socket
import ssl
from typing import Optional

from edge.sinks.base import SinkError
from edge.sinks.options import SpecOptions


def read_secret(options: SpecOptions, name: str, *, tls: bool) -> Optional[str]:
    """The secret ``name`` from ``name_env`` or ``name_file``; None when neither is given.

    Without ``tls`` it is refused unless the spec has ``insecure=1``: the operator, not a default,
    decides that the network between the line and the destination may see it.
    """
    insecure = options.text("insecure")
    if insecure not in (None, "1"):
        raise SinkError(f"{options.label}: insecure={insecure!r} is not understood; give insecure=1 or leave it out")
    if insecure and tls:
        raise SinkError(f"{options.label}: insecure=1 only lets a secret go over plain mqtt:// or http://; leave it "
                        f"out with TLS (it does not turn certificate checks off: give the CA with ca=PATH)")
    value = _secret_value(options, name)
    if value is not None and not tls and not insecure:
        given = f"{name}_env" if options.text(f"{name}_env") is not None else f"{name}_file"
        raise SinkError(f"{options.label}: {given} would send the {name} in clear text without TLS; use mqtts:// or "
                        f"https://, or add insecure=1 to the spec if the network is trusted")
    return value


def _secret_value(options: SpecOptions, name: str) -> Optional[str]:
    """The value behind ``name_env`` or ``name_file``, checked; ``name=VALUE`` itself is refused."""
    if options.text(name) is not None:
        raise SinkError(f"{options.label}: {name}= in the spec is refused, as it would show in process lists and logs; "
                        f"use {name}_env=VARIABLE or {name}_file=PATH")
    variable = options.text(f"{name}_env")
    path = options.path(f"{name}_file")
    if variable is not None and path is not None:
        raise SinkError(f"{options.label}: give {name}_env or {name}_file, not both")
    if variable is not None:
        value = os.environ.get(variable)
        if not value:
            raise SinkError(f"{options.label}: {name}_env={variable} names an environment variable that is not set or empty")
        return value
    if path is not None:
        try:
            value = path.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise SinkError(f"{options.label}: {name}_file={path} cannot be read ({type(exc).__name__})") from exc
        if not value:
            raise SinkError(f"{options.label}: {name}_file={path} is empty")
        return value
    return None


def tls_context(options: SpecOptions, tls: bool) -> Optional[ssl.SSLContext]:
    """A verifying client context for ``tls`` (``ca=PATH``, or the system's CAs; ``cert=``/``key=`` for a client certificate).

    Without TLS these options mean nothing, so they are refused rather than ignored: a spec that
    names a CA but says ``mqtt://`` would otherwise send the password in the clear.
    """
    if not tls:
        given = [name for name in ("ca", "cert", "key") if options.path(name) is not None]
        if given:
            raise SinkError(f"{options.label}: {', '.join(given)} need TLS; use mqtts:// or https://")
        return None
    ca, cert, key = (options.existing_file(name) for name in ("ca", "cert", "key"))
    if key is not None and cert is None:
        raise SinkError(f"{options.label}: key= needs its certificate: add cert=PATH")
    try:
        context = ssl.create_default_context(cafile=str(ca) if ca else None)
        if cert is not None:
            context.load_cert_chain(str(cert), str(key) if key else None)
    except (ssl.SSLError, OSError) as exc:
        raise SinkError(f"{options.label}: cannot load the TLS files ca/cert/key ({exc.__class__.__name__}: "
                        f"{getattr(exc, 'reason', None) or exc})") from exc
    return context


def probe(host: str, port: int, context: Optional[ssl.SSLContext], label: str, timeout_s: float = 2.0) -> bool:
    """Connect once at start (and handshake, with TLS): a certificate the CA does not vouch for is a
    configuration error (exit 2) that no retry can fix, so the operator hears of it before the line starts.

    Returns False when nothing answers: the endpoint is away, the sink runs on and spools.
    """
    try:
        with socket.create_connection((host, port), timeout=timeout_s) as raw:
            if context is not None:
                with context.wrap_socket(raw, server_hostname=host):
                    pass
            return True
    except ssl.SSLCertVerificationError as exc:
        raise SinkError(f"{label}: the server's TLS certificate is not trusted ({exc.verify_message}); "
                        f"give the CA that signed it with ca=PATH") from None
    except ssl.SSLError as exc:
        raise SinkError(f"{label}: TLS handshake failed ({exc.reason or exc}); is this a TLS port, and are "
                        f"cert=/key= what the server expects?") from None
    except OSError:
        return False
