"""What every command group shares: the database state, the one error type, the one table.

Exit statuses follow click's: 2 when the command line itself is wrong (click's ``UsageError``
and ``BadParameter``: an unknown option, a missing argument, a value that is not a duration),
1 when a well-formed command cannot be done (``CliError``: not found, already exists, refused
by the store, an error answer or no answer from a server). Nothing else is used.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import click

from interlink.settings import parse_duration

__all__ = [
    "EXIT_FAILED",
    "EXIT_USAGE",
    "EXTRAS",
    "CliError",
    "CliState",
    "duration",
    "check_database_url",
    "find",
    "missing_extra",
    "one_line",
    "print_table",
    "state",
    "when",
]

T = TypeVar("T")

#: A well-formed command that could not be done.
EXIT_FAILED = 1
#: The command line is wrong (click's own status for usage errors).
EXIT_USAGE = 2


class CliError(click.ClickException):
    """A one-line error for the user (unknown name, duplicate, refused, unreachable): exit 1."""

    exit_code = EXIT_FAILED


@dataclass
class CliState:
    """What the group's options decided; subcommands reach it as ``ctx.obj``."""

    database_url: str | None
    verbose: bool = False
    _database: Any = field(default=None, repr=False)

    def database(self, *, create: bool = False) -> Any:
        """The migrated ``interlink.store.Database`` (opened and migrated on first use).

        ``create``: the command may make a new database (``users create``, ``services add``).
        Every other command only reads or changes existing data, so a database that does not
        exist is refused (a typo'd file name would otherwise be a new, empty database)."""
        if self._database is None:
            from sqlalchemy.exc import SQLAlchemyError

            from interlink.store import Database

            url, shown = check_database_url(self.database_url, create=create)
            try:
                database = Database(url)
            except SQLAlchemyError as error:
                raise CliError(f"cannot use the database {shown}: {first_line(error)}") from None
            try:
                database.migrate()
            except (SQLAlchemyError, OSError) as error:
                database.dispose()
                raise CliError(f"cannot open the database {shown}: {first_line(error)}") from None
            self._database = database
        return self._database

    def close(self) -> None:
        """Close the database's connections when the command ends (a CLI run inside a longer
        process, such as a test or a notebook, leaves none open)."""
        if self._database is not None:
            self._database.dispose()
            self._database = None


#: Where the command line takes the database URL from, for messages.
DATABASE_OPTION = "--database or INTERLINK_DATABASE_URL"


def check_database_url(url: str | None, *, create: bool) -> tuple[str, str]:
    """``(url, shown)``: the URL the command uses (``--database``, else the environment's, else
    the default) and the same with its password masked, for messages; a ``CliError`` naming it
    when it cannot be a database: not a URL, a database SQLAlchemy has no dialect or installed
    driver for, a SQLite file in a folder that does not exist, or (unless ``create``) a SQLite
    file that does not exist. Connects to nothing."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    from interlink.settings import Settings
    from interlink.urls import redact_url

    url = url or Settings.from_environ().database_url
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise CliError(
            f"{redact_url(url)!r} is not a database URL: write sqlite:///interlink.db or "
            f"postgresql+psycopg://user@host/name ({DATABASE_OPTION})"
        ) from None
    shown = parsed.render_as_string(hide_password=True)
    try:
        parsed.get_dialect().import_dbapi()
    except NoSuchModuleError:
        raise CliError(
            f"the database URL {shown} names no database SQLAlchemy knows ({parsed.drivername!r}): write "
            f"sqlite:///interlink.db or postgresql+psycopg://user@host/name ({DATABASE_OPTION})"
        ) from None
    except ImportError as error:
        raise CliError(_driver_missing(shown, parsed.get_backend_name(), error)) from None
    path = parsed.database if parsed.get_backend_name() == "sqlite" else None
    if not path or path == ":memory:" or path.startswith("file:") or parsed.query.get("uri"):
        return url, shown
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise CliError(f"cannot use the database {shown}: the folder {folder} does not exist ({DATABASE_OPTION})")
    if not create and not os.path.exists(path):
        raise CliError(
            f"no database at {shown} (there is no file {os.path.abspath(path)}): check {DATABASE_OPTION}; "
            "`interlink users create NAME` makes a new one"
        )
    return url, shown


def _driver_missing(shown: str, backend: str, error: ImportError) -> str:
    if backend == "postgresql":
        return (f"the database {shown} needs a PostgreSQL driver ({error.name or error} is not installed): "
                "pip install 'interlink[postgres]' and write the URL as postgresql+psycopg://…")
    return f"the database {shown} needs its driver, {error.name or error}, which is not installed"


def state() -> CliState:
    return click.get_current_context().find_object(CliState) or CliState(None)


def first_line(error: BaseException) -> str:
    """The error's first line for the user, every URL in it redacted (a driver, httpx or a
    sync may quote a URL with a password or an API key in it)."""
    from interlink.urls import redact_urls

    return redact_urls((str(error).strip().splitlines() or [type(error).__name__])[0])


#: The extra that installs each third-party module a command may import (its top-level name).
EXTRAS = {
    "click": "cli", "rich": "cli",
    "sqlalchemy": "store", "alembic": "store", "cryptography": "store", "argon2": "store",
    "psycopg": "postgres", "psycopg2": "postgres",
    "starlette": "server", "uvicorn": "server", "multipart": "server", "jinja2": "server",
    "prefect": "flows", "zeep": "soap", "lxml": "soap", "xmlsec": "soap",
    "tornado": "rest-server", "openapi_core": "rest-server", "redis": "redis", "limits": "redis",
    "segno": "device",
}


def missing_extra(error: ImportError) -> str | None:
    """One line naming the extra to install, for a module that is not installed; None when
    the missing module is not one an extra installs (the user's own, say)."""
    text = first_line(error)
    if "pip install 'interlink[" in text:
        return text  # interlink's packages name their extra themselves
    name = (error.name or "").partition(".")[0]
    extra = EXTRAS.get(name)
    if extra is None:
        return None
    return f"this command needs the {extra} extra ({name} is not installed): pip install 'interlink[{extra}]'"


def one_line(error: Exception) -> click.ClickException:
    """The one line a command ends in when it did not say so itself: a missing extra names
    the extra; anything else says what failed, and that ``-v`` shows the traceback."""
    if isinstance(error, ImportError) and (line := missing_extra(error)):
        return CliError(line)
    return CliError(f"{type(error).__name__}: {first_line(error)} (interlink -v ... shows the traceback)")


def find(finder: Callable[[Any, str], T], session: Any, ref: str) -> T:
    """``finder(session, ref)`` (find_user, find_role, find_key), 'not found' as a CliError."""
    try:
        return finder(session, ref)
    except LookupError as error:
        raise CliError(str(error)) from None


def print_table(title: str | None, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """Every listing's table (rich). Piped output is not wrapped at 80 columns, so whole ids and
    URLs survive ``| grep``."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for name in columns:
        table.add_column(name, no_wrap=True)
    for row in rows:
        table.add_row(*("" if value is None else str(value) for value in row))
    console = Console() if sys.stdout.isatty() else Console(width=250)
    console.print(table)


def when(value: dt.datetime | None) -> str:
    return "" if value is None else value.strftime("%Y-%m-%d %H:%M:%SZ")


def duration(text: str, option: str) -> dt.timedelta:
    """``90s``, ``15m``, ``12h``, ``30d``, ``2w`` (a bare number is seconds); a usage error if not."""
    try:
        return parse_duration(text)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint=option) from None
