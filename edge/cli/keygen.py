"""``gainctl keygen``: an Ed25519 key pair for signed bundles (``edge.signing``)."""

from __future__ import annotations

from pathlib import Path

import click

from edge.cli.errors import InputError


@click.command("keygen")
@click.argument("out", type=click.Path(path_type=Path, dir_okay=False))
def keygen(out: Path) -> None:
    """Write a private key to OUT (readable by you alone) and its public key to OUT.pub; never overwrites."""
    from edge.signing import SignatureError, generate_key_pair

    try:
        private, public = generate_key_pair(out)
    except SignatureError as exc:
        raise InputError(str(exc)) from None
    click.echo(f"private key: {private} (for 'gainctl export --sign-key'; keep it off the cameras)")
    click.echo(f"public key: {public} (for 'gainctl run/bench --trust-key' on the cameras)")
