"""``interlink users create|set-password|list``."""

from __future__ import annotations

import sys

import click

from ._common import CliError, find, print_table, state, when

__all__ = ["users"]


def read_password() -> str:
    """One line from standard input, the trailing newline dropped (never from argv: it would
    show in ps and shell history)."""
    password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        raise CliError("no password on standard input")
    return password


@click.group()
def users() -> None:
    """Users: each has a default role, named 'default'."""


@users.command("create")
@click.option("--password-stdin", is_flag=True, help="read a login password from standard input")
@click.argument("name")
def users_create(name: str, password_stdin: bool) -> None:
    """Create user NAME with its default role; prints the user's api_id."""
    from interlink.store import AlreadyExists, create_user, set_password

    password = read_password() if password_stdin else None
    with state().database(create=True).session() as session:
        try:
            user = create_user(session, name)
            if password is not None:
                set_password(session, user, password)
        except (AlreadyExists, ValueError) as error:
            raise CliError(str(error)) from None
        click.echo(user.api_id)


@users.command("set-password")
@click.option("--password-stdin", is_flag=True, required=True, help="read the password from standard input")
@click.argument("name")
def users_set_password(name: str, password_stdin: bool) -> None:
    """Set user NAME's login password (argon2id-hashed) and end the user's site sessions."""
    from interlink.store import find_user, set_password

    password = read_password()
    with state().database().session() as session:
        user = find(find_user, session, name)
        try:
            set_password(session, user, password)
        except ValueError as error:
            raise CliError(str(error)) from None
    click.echo(f"password set for {name}")


@users.command("list")
def users_list() -> None:
    """List users."""
    from interlink.store import list_users

    with state().database().session() as session:
        rows = [
            (u.api_id, u.username, u.default_role.api_id if u.default_role else "", when(u.created_at))
            for u in list_users(session)
        ]
    print_table("users", ["api_id", "username", "default role", "created (UTC)"], rows)
