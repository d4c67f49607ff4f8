"""The ``interlink`` command: manage users, roles and keys (and, via plug-ins, serve).

    interlink users create joebloggs                 # prints the user's api_id (u-…)
    interlink roles create --user joebloggs everyday  # prints the role's api_id (r-…)
    interlink keys create --role everyday             # prints the key id and secret, once
    interlink keys revoke k-0123456789abcdef

Every command migrates the database first (a no-op when it is up to date). Commands that
live in other modules are registered lazily (``LAZY_COMMANDS``) so that managing keys does
not import the web server; another module may also call ``main.add_command(cmd)``.
"""

from __future__ import annotations

import datetime as dt
import importlib
import importlib.util
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import click

__all__ = ["main", "CliState", "CliError", "LAZY_COMMANDS"]

#: command name -> "module:attribute"; listed only when the module is importable.
LAZY_COMMANDS: dict[str, str] = {
    "serve": "interlink.cli_serve:serve",
    "services": "interlink.cli_services:services",
    "call": "interlink.cli_call:call",
}


class CliError(click.ClickException):
    """A one-line error for the user (unknown name, duplicate, …): exit status 2."""

    exit_code = 2


def _find(finder: Any, session: Any, ref: str) -> Any:
    """``finder(session, ref)`` (find_user, find_role, find_key), 'not found' as a CliError."""
    try:
        return finder(session, ref)
    except LookupError as error:
        raise CliError(str(error)) from None


class LazyGroup(click.Group):
    """A group that imports some subcommands only when they are used."""

    def __init__(self, *args: Any, lazy_commands: dict[str, str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy_commands = dict(lazy_commands or {})

    def _available_lazy(self) -> list[str]:
        names = []
        for name, target in self.lazy_commands.items():
            module = target.partition(":")[0]
            try:
                found = importlib.util.find_spec(module) is not None
            except ModuleNotFoundError:
                found = False
            if found:
                names.append(name)
        return names

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(self._available_lazy()))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is not None or cmd_name not in self.lazy_commands:
            return command
        module_name, _, attribute = self.lazy_commands[cmd_name].partition(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as error:
            if error.name == module_name:
                return None
            raise
        command = getattr(module, attribute)
        self.add_command(command, cmd_name)
        return command


@dataclass
class CliState:
    """What the group's options decided; subcommands reach it as ``ctx.obj``."""

    database_url: str | None
    _database: Any = field(default=None, repr=False)

    def database(self) -> Any:
        """The migrated ``interlink.store.Database`` (opened and migrated on first use)."""
        if self._database is None:
            from sqlalchemy.exc import SQLAlchemyError

            from interlink.store import Database

            database = Database(self.database_url)
            try:
                database.migrate()
            except SQLAlchemyError as error:
                raise CliError(f"cannot open database {database!r}: {_first_line(error)}") from None
            self._database = database
        return self._database


def _first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


def _state() -> CliState:
    return click.get_current_context().find_object(CliState) or CliState(None)


def _print_table(title: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for name in columns:
        table.add_column(name, no_wrap=True)
    for row in rows:
        table.add_row(*("" if value is None else str(value) for value in row))
    # Piped output keeps whole ids instead of wrapping at 80 columns.
    console = Console() if sys.stdout.isatty() else Console(width=250)
    console.print(table)


def _when(value: dt.datetime | None) -> str:
    return "" if value is None else value.strftime("%Y-%m-%d %H:%M:%SZ")


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def _duration(text: str) -> dt.timedelta:
    """``90s``, ``15m``, ``12h``, ``30d``, ``2w`` (a bare number is seconds)."""
    text = text.strip().lower()
    unit = text[-1:] if text[-1:] in _UNITS else "s"
    number = text[:-1] if text[-1:] in _UNITS else text
    try:
        value = float(number)
    except ValueError:
        raise CliError(f"{text!r} is not a duration like 90s, 15m, 12h, 30d") from None
    if value < 0:
        raise CliError("a duration may not be negative")
    return dt.timedelta(seconds=value * _UNITS[unit])


def _read_password() -> str:
    """One line from standard input, the trailing newline dropped (never from argv: it would
    show in ps and shell history)."""
    password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        raise CliError("no password on standard input")
    return password


def _set_password(user: Any, password: str) -> None:
    from interlink.passwords import hash_password

    try:
        user.password_hash = hash_password(password)
    except ValueError as error:
        raise CliError(str(error)) from None


@click.group(cls=LazyGroup, lazy_commands=LAZY_COMMANDS)
@click.option(
    "--database",
    "database_url",
    envvar="INTERLINK_DATABASE_URL",
    metavar="URL",
    help="SQLAlchemy URL [env INTERLINK_DATABASE_URL; default sqlite:///interlink.db]",
)
@click.version_option(package_name="interlink")
@click.pass_context
def main(ctx: click.Context, database_url: str | None) -> None:
    """interlink: typed API methods over POST, and the users, roles and keys that call them."""
    ctx.obj = CliState(database_url)


# -- users -------------------------------------------------------------------------------


@main.group()
def users() -> None:
    """Users: each has a default role, named 'default'."""


@users.command("create")
@click.option("--password-stdin", is_flag=True, help="read a login password from standard input")
@click.argument("name")
def users_create(name: str, password_stdin: bool) -> None:
    """Create user NAME with its default role; prints the user's api_id."""
    from interlink.store import AlreadyExists, create_user

    password = _read_password() if password_stdin else None
    with _state().database().session() as session:
        try:
            user = create_user(session, name)
        except (AlreadyExists, ValueError) as error:
            raise CliError(str(error)) from None
        if password is not None:
            _set_password(user, password)
        click.echo(user.api_id)


@users.command("set-password")
@click.option("--password-stdin", is_flag=True, required=True, help="read the password from standard input")
@click.argument("name")
def users_set_password(name: str, password_stdin: bool) -> None:
    """Set user NAME's login password (argon2id-hashed) and end the user's site sessions."""
    from sqlalchemy import delete

    from interlink.store import LoginSession, find_user

    password = _read_password()
    with _state().database().session() as session:
        user = _find(find_user, session, name)
        _set_password(user, password)
        session.execute(delete(LoginSession).where(LoginSession.user_id == user.id))
    click.echo(f"password set for {name}")


@users.command("list")
def users_list() -> None:
    """List users."""
    from sqlalchemy import select

    from interlink.store import User

    with _state().database().session() as session:
        rows = [
            (u.api_id, u.username, u.default_role.api_id if u.default_role else "", _when(u.created_at))
            for u in session.scalars(select(User).order_by(User.username)).unique()
        ]
    _print_table("users", ["api_id", "username", "default role", "created (UTC)"], rows)


# -- roles -------------------------------------------------------------------------------


@main.group()
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

    with _state().database().session() as session:
        user = _find(find_user, session, username)
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
    from sqlalchemy import select

    from interlink.store import Role, User, find_user

    with _state().database().session() as session:
        query = select(Role).join(Role.user).order_by(User.username, Role.name)
        if username is not None:
            query = query.where(Role.user_id == _find(find_user, session, username).id)
        rows = [
            (r.api_id, r.user.username, r.name, "yes" if r.is_default else "", _when(r.created_at))
            for r in session.scalars(query).unique()
        ]
    _print_table("roles", ["api_id", "user", "name", "default", "created (UTC)"], rows)


# -- keys --------------------------------------------------------------------------------


@main.group()
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
        raise CliError(str(error)) from None
    with _state().database().session() as session:
        role = _find(find_role, session, role_ref)
        key, secret = create_key(session, role)
        if expires_in is not None:
            key.expires_at = utcnow() + _duration(expires_in)
        key.allowed_networks = allowed
        key_id, username, role_name = key.key_id, role.user.username, role.name
    # Printed after the commit: a secret is never shown for a key that was not saved.
    click.echo(f"access_key_id = {key_id}")
    click.echo(f"access_key_secret = {secret.decode('ascii')}")
    click.echo(
        f"Key for role {username}/{role_name}. Store the secret now: only its hash is kept, "
        "it cannot be shown again. Send it as authorisation=KEYID:SECRET, or as the lines "
        "above in a credentials profile.",
        err=True,
    )


@keys.command("list")
@click.option("--role", "role_ref", default=None, help="only this role's keys")
def keys_list(role_ref: str | None) -> None:
    """List keys (never their secrets)."""
    from sqlalchemy import select

    from interlink.store import Key, find_role

    now = dt.datetime.now(dt.UTC)
    with _state().database().session() as session:
        query = select(Key).order_by(Key.id)
        if role_ref is not None:
            query = query.where(Key.role_id == _find(find_role, session, role_ref).id)
        rows = []
        for key in session.scalars(query).unique():
            if key.revoked_at is not None:
                status = f"revoked {_when(key.revoked_at)}"
            elif not key.usable_at(now):
                status = "expired" if key.expires_at is not None else "no secret"
            else:
                status = "active"
            if key.previous_secret_hash is not None and key.previous_secret_expires_at is not None \
                    and now < key.previous_secret_expires_at and status == "active":
                status = f"rotating (old secret until {_when(key.previous_secret_expires_at)})"
            rows.append(
                (key.key_id, f"{key.role.user.username}/{key.role.name}", key.role.api_id,
                 _when(key.created_at), _when(key.expires_at), _when(key.last_used_at),
                 ",".join(key.allowed_networks or []), status)
            )
    _print_table(
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

    with _state().database().session() as session:
        key = _find(find_key, session, key_id)
        if key.revoked_at is not None:
            click.echo(f"{key_id} was already revoked at {_when(key.revoked_at)}")
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

    with _state().database().session() as session:
        key = _find(find_key, session, key_id)
        if key.revoked_at is not None:
            raise CliError(f"{key_id} is revoked; create a new key instead")
        secret = key.rotate_secret(_duration(grace))
        until = key.previous_secret_expires_at
    click.echo(f"access_key_id = {key_id}")
    click.echo(f"access_key_secret = {secret.decode('ascii')}")
    click.echo(
        f"New secret for {key_id}; the old one works until {_when(until)}." if until
        else f"New secret for {key_id}; the old one no longer works.",
        err=True,
    )


if __name__ == "__main__":  # pragma: no cover
    main()
