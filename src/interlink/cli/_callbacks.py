"""``interlink callbacks secret --role NAME | --signer NAME [--rotate]``: the secret a role's (or a signer's) callbacks are signed with."""

from __future__ import annotations

import click

from ._common import CliError, duration, find, state

__all__ = ["callbacks"]


@click.group(short_help="Signing secrets of callbacks to each role.")
def callbacks() -> None:
    """Callbacks: requests this site makes back to its callers, signed per role."""


@callbacks.command("secret")
@click.option("--role", "role_ref", default=None, help="the role (r-… api_id, name, or user/role)")
@click.option("--signer", default=None, metavar="NAME",
              help="a signer that is not a role: Outbox(...).send(signer=...), FastAPICallbacks(signer=...), "
                   "'anonymous' for calls without a key")
@click.option("--rotate", is_flag=True, help="make a new secret; the old one keeps signing during --overlap")
@click.option("--overlap", default="24h", show_default=True, help="how long both secrets sign after --rotate")
def callbacks_secret(role_ref: str | None, signer: str | None, rotate: bool, overlap: str) -> None:
    """Make a role's signing secret (whsec_…) and print it, once; --rotate makes a new one.

    Nothing else makes a role's secret: until it is made, the role's callbacks wait in the
    outbox (their reason says to run this), so it is never made without someone seeing it.
    """
    from interlink.callbacks import signing_secret
    from interlink.store import find_role
    from interlink.store import SecretKeyMissing

    if (role_ref is None) == (signer is None):
        raise click.UsageError("name the role (--role NAME) or another signer (--signer NAME)")
    grace = duration(overlap, "--overlap")
    try:
        with state().database().session() as session:
            name = find(find_role, session, role_ref).api_id if role_ref is not None else str(signer)
            secret, shown = signing_secret(session, name, rotate=rotate, overlap=grace)
    except SecretKeyMissing as error:
        raise CliError(str(error)) from None
    if not shown and role_ref is not None:
        raise CliError(
            f"role {role_ref} already has a signing secret, shown once when it was made; "
            "--rotate makes a new one (both sign during --overlap)"
        )
    if not shown:
        raise CliError(
            f"signer {signer} already has a signing secret: the code that names it reads it "
            f"(Outbox(...).secret({signer!r})); --rotate makes a new one (both sign during --overlap)"
        )
    click.echo(secret)
