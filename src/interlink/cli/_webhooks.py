"""``interlink webhooks add|list|disable|rotate-secret``: the endpoints webhook events go to."""

from __future__ import annotations

import click

from ._common import CliError, duration, find, print_table, state, when

__all__ = ["webhooks"]


@click.group(short_help="Webhook endpoints: add, list, disable, rotate.")
def webhooks() -> None:
    """Webhook endpoints: where events go, which ones, signed with each endpoint's own secret."""


def _policy() -> object:
    from interlink.callbacks import AddressPolicy
    from interlink.settings import Settings

    return AddressPolicy(Settings.from_environ().callback_allowed_networks)


@webhooks.command("add")
@click.argument("url")
@click.option("--role", "role_ref", default=None, help="the role that owns the endpoint (r-…, name, or user/role)")
@click.option("--event", "events", multiple=True, metavar="NAME", help="an event to send (repeat; none = every event)")
@click.option("--description", default="", help="a note for listings")
def webhooks_add(url: str, role_ref: str | None, events: tuple[str, ...], description: str) -> None:
    """Add an endpoint; prints its id and its secret (shown once)."""
    from interlink.callbacks import DestinationRefused, add_endpoint
    from interlink.store import find_role
    from interlink.store import SecretKeyMissing

    try:
        with state().database(create=not role_ref).session() as session:
            role_id = find(find_role, session, role_ref).api_id if role_ref else None
            endpoint, secret = add_endpoint(session, url, events=events, role_api_id=role_id,
                                            description=description, policy=_policy())  # type: ignore[arg-type]
            click.echo(f"{endpoint.api_id} {secret}")
    except DestinationRefused as error:
        from interlink.urls import redact_urls

        raise click.BadParameter(redact_urls(str(error)), param_hint="URL") from None
    except SecretKeyMissing as error:
        raise CliError(str(error)) from None


@webhooks.command("list")
def webhooks_list() -> None:
    """List endpoints (never a secret)."""
    from sqlalchemy import select

    from interlink.callbacks import list_endpoints
    from interlink.store import Role
    from interlink.urls import redact_url

    with state().database().session() as session:
        endpoints = list_endpoints(session)
        wanted = {e.role_api_id for e in endpoints if e.role_api_id}
        # user/role: the name --role takes, unambiguous across users
        names = {role.api_id: f"{role.user.username}/{role.name}"
                 for role in session.scalars(select(Role).where(Role.api_id.in_(wanted))).unique()} if wanted else {}
        rows = [
            (e.api_id, names.get(e.role_api_id, e.role_api_id) if e.role_api_id else "", redact_url(e.url), ",".join(e.events) or "*", "yes" if e.enabled else "no",
             e.disabled_reason, when(e.failing_since), when(e.created_at))
            for e in endpoints
        ]
    print_table("webhook endpoints", ["api_id", "role", "url", "events", "enabled", "disabled because",
                                      "failing since", "created (UTC)"], rows)


@webhooks.command("disable")
@click.argument("api_id")
@click.option("--reason", default="disabled by an administrator", show_default=True)
def webhooks_disable(api_id: str, reason: str) -> None:
    """Disable an endpoint; its pending deliveries are given up."""
    from interlink.callbacks import disable_endpoint, find_endpoint

    with state().database().session() as session:
        endpoint = find(find_endpoint, session, api_id)
        given_up = disable_endpoint(session, endpoint, reason)
    click.echo(f"{api_id} disabled; {given_up} pending deliveries given up")


@webhooks.command("rotate-secret")
@click.argument("api_id")
@click.option("--overlap", default="24h", show_default=True, help="how long the old secret still signs too")
def webhooks_rotate(api_id: str, overlap: str) -> None:
    """A new secret for an endpoint (printed once); both sign during --overlap."""
    from interlink.callbacks import find_endpoint, rotate_endpoint_secret
    from interlink.store import SecretKeyMissing

    grace = duration(overlap, "--overlap")
    try:
        with state().database().session() as session:
            endpoint = find(find_endpoint, session, api_id)
            click.echo(rotate_endpoint_secret(session, endpoint, grace))
    except SecretKeyMissing as error:
        raise CliError(str(error)) from None
