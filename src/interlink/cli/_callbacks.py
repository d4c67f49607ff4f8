"""``interlink callbacks secret --role NAME [--rotate]``: the secret a role's callbacks are signed with."""

from __future__ import annotations

import click

from ._common import CliError, duration, find, state

__all__ = ["callbacks"]


@click.group(short_help="Signing secrets of callbacks to each role.")
def callbacks() -> None:
    """Callbacks: requests this site makes back to its callers, signed per role."""


@callbacks.command("secret")
@click.option("--role", "role_ref", required=True, help="the role (r-… api_id, name, or user/role)")
@click.option("--rotate", is_flag=True, help="make a new secret; the old one keeps signing during --overlap")
@click.option("--overlap", default="24h", show_default=True, help="how long both secrets sign after --rotate")
def callbacks_secret(role_ref: str, rotate: bool, overlap: str) -> None:
    """Print a role's signing secret (whsec_…), created on first use; shown again only with --rotate."""
    from interlink.callbacks import signing_secret
    from interlink.store import find_role
    from interlink.store._encryption import SecretKeyMissing

    grace = duration(overlap, "--overlap")
    try:
        with state().database().session() as session:
            role = find(find_role, session, role_ref)
            secret, shown = signing_secret(session, role.api_id, rotate=rotate, overlap=grace)
    except SecretKeyMissing as error:
        raise CliError(str(error)) from None
    if not shown:
        raise CliError(
            f"role {role_ref} already has a signing secret, shown once when it was made; "
            "--rotate makes a new one (both sign during --overlap)"
        )
    click.echo(secret)
