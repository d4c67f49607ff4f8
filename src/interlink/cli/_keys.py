"""``interlink keys create|list|revoke|rotate``: secrets are printed once and never listed."""

from __future__ import annotations

import click

from ._common import CliError, duration, find, print_table, state, when

__all__ = ["keys"]


@click.group()
def keys() -> None:
    """Keys: a key id and a secret that authenticate as one role."""


@keys.command("create")
@click.option("--role", "role_ref", required=True, help="r-… api_id, role name if unambiguous, or user/role")
@click.option("--expires-in", default=None, metavar="DURATION", help="e.g. 90d, 12h: the key stops working then")
@click.option("--allow-network", "networks", multiple=True, metavar="CIDR",
              help="only accept the key from this network (repeat for more), e.g. 10.1.0.0/16")
def keys_create(role_ref: str, expires_in: str | None, networks: tuple[str, ...]) -> None:
    """Create a key for a role; prints its id and secret (the secret only this once)."""
    import ipaddress

    from interlink.store import create_key, find_role, utcnow

    try:
        allowed = [str(ipaddress.ip_network(n, strict=False)) for n in networks] or None
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--allow-network") from None
    lifetime = duration(expires_in, "--expires-in") if expires_in is not None else None
    with state().database().session() as session:
        role = find(find_role, session, role_ref)
        key, secret = create_key(session, role)
        if lifetime is not None:
            key.expires_at = utcnow() + lifetime
        key.allowed_networks = allowed
        key_id, username, role_name = key.key_id, role.user.username, role.name
    # Printed after the commit: a secret is never shown for a key that was not saved.
    click.echo(f"access_key_id = {key_id}")
    click.echo(f"access_key_secret = {secret.decode('ascii')}")
    click.echo(
        f"Key for role {username}/{role_name}. Store the secret now: only its hash is kept, "
        "it cannot be shown again. Send it as authorisation=KEYID:SECRET, as HTTP Basic "
        "KEYID:SECRET (curl -u KEYID:SECRET), or as the lines above in a credentials profile.",
        err=True,
    )


@keys.command("list")
@click.option("--role", "role_ref", default=None, help="only this role's keys")
def keys_list(role_ref: str | None) -> None:
    """List keys (never their secrets)."""
    from interlink.store import find_role, list_keys, utcnow

    now = utcnow()
    with state().database().session() as session:
        role = find(find_role, session, role_ref) if role_ref is not None else None
        rows = []
        for key in list_keys(session, role):
            status = key.status(now)
            if status == "revoked":
                status = f"revoked {when(key.revoked_at)}"
            elif status == "rotating":
                status = f"rotating (old secret until {when(key.previous_secret_expires_at)})"
            rows.append(
                (key.key_id, f"{key.role.user.username}/{key.role.name}", key.role.api_id,
                 when(key.created_at), when(key.expires_at), when(key.last_used_at),
                 ",".join(key.allowed_networks or []), status)
            )
    print_table(
        "keys",
        ["key id", "role", "role api_id", "created (UTC)", "expires (UTC)", "last used (UTC)",
         "networks", "status"],
        rows,
    )


@keys.command("revoke")
@click.argument("key_id")
def keys_revoke(key_id: str) -> None:
    """Revoke a key: servers stop accepting it within their cache time (2 s by default)."""
    from interlink.store import find_key, utcnow

    with state().database().session() as session:
        key = find(find_key, session, key_id)
        if key.revoked_at is not None:
            click.echo(f"{key_id} was already revoked at {when(key.revoked_at)}")
            return
        key.revoked_at = utcnow()
    click.echo(f"revoked {key_id}")


@keys.command("rotate")
@click.argument("key_id")
@click.option("--grace", default="24h", show_default=True, metavar="DURATION",
              help="how long the old secret keeps working (0 ends it now)")
def keys_rotate(key_id: str, grace: str) -> None:
    """Give a key a new secret; the old one keeps working for --grace. Prints the new secret."""
    from interlink.store import find_key

    overlap = duration(grace, "--grace")
    with state().database().session() as session:
        key = find(find_key, session, key_id)
        if key.revoked_at is not None:
            raise CliError(f"{key_id} is revoked; create a new key instead")
        secret = key.rotate_secret(overlap)
        until = key.previous_secret_expires_at
    click.echo(f"access_key_id = {key_id}")
    click.echo(f"access_key_secret = {secret.decode('ascii')}")
    click.echo(
        f"New secret for {key_id}; the old one works until {when(until)}." if until
        else f"New secret for {key_id}; the old one no longer works.",
        err=True,
    )
