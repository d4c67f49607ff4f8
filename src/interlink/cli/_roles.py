"""``interlink roles create|list``."""

from __future__ import annotations

import click

from ._common import CliError, find, print_table, state, when

__all__ = ["roles"]


@click.group()
def roles() -> None:
    """Roles: what a key acts as. Names are unique per user."""


@roles.command("create")
@click.option("--user", "username", required=True, help="the user (username or u-… api_id)")
@click.option("--permission", "permissions", multiple=True, metavar="NAME",
              help="a permission the role carries (repeat for more), e.g. users.read")
@click.argument("name")
def roles_create(username: str, name: str, permissions: tuple[str, ...]) -> None:
    """Create role NAME for a user; prints the role's api_id."""
    from interlink.store import AlreadyExists, create_role, find_user

    with state().database().session() as session:
        user = find(find_user, session, username)
        try:
            role = create_role(session, user, name)
            role.permissions = sorted({p.strip() for p in permissions if p.strip()})
        except (AlreadyExists, ValueError) as error:
            raise CliError(str(error)) from None
        click.echo(role.api_id)


@roles.command("list")
@click.option("--user", "username", default=None, help="only this user's roles")
def roles_list(username: str | None) -> None:
    """List roles."""
    from interlink.store import find_user, list_roles

    with state().database().session() as session:
        user = find(find_user, session, username) if username is not None else None
        rows = [
            (r.api_id, r.user.username, r.name, "yes" if r.is_default else "", when(r.created_at))
            for r in list_roles(session, user)
        ]
    print_table("roles", ["api_id", "user", "name", "default", "created (UTC)"], rows)
