"""What every command group shares: the database state, the one error type, the one table.

Exit statuses follow click's: 2 when the command line itself is wrong (click's ``UsageError``
and ``BadParameter``: an unknown option, a missing argument, a value that is not a duration),
1 when a well-formed command cannot be done (``CliError``: not found, already exists, refused
by the store, an error answer or no answer from a server). Nothing else is used.
"""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import click

__all__ = [
    "EXIT_FAILED",
    "EXIT_USAGE",
    "CliError",
    "CliState",
    "duration",
    "find",
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
                raise CliError(f"cannot open database {database!r}: {first_line(error)}") from None
            self._database = database
        return self._database

    def close(self) -> None:
        """Close the database's connections when the command ends (a CLI run inside a longer
        process, such as a test or a notebook, leaves none open)."""
        if self._database is not None:
            self._database.dispose()
            self._database = None


def state() -> CliState:
    return click.get_current_context().find_object(CliState) or CliState(None)


def first_line(error: BaseException) -> str:
    """The error's first line for the user, every URL in it redacted (a driver, httpx or a
    sync may quote a URL with a password or an API key in it)."""
    from interlink.urls import redact_urls

    return redact_urls((str(error).strip().splitlines() or [type(error).__name__])[0])


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


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def duration(text: str, option: str) -> dt.timedelta:
    """``90s``, ``15m``, ``12h``, ``30d``, ``2w`` (a bare number is seconds); a usage error if not."""
    text = text.strip().lower()
    unit = text[-1:] if text[-1:] in _UNITS else "s"
    number = text[:-1] if text[-1:] in _UNITS else text
    try:
        value = float(number)
    except ValueError:
        raise click.BadParameter(f"{text!r} is not a duration like 90s, 15m, 12h, 30d", param_hint=option) from None
    if value < 0:
        raise click.BadParameter("a duration may not be negative", param_hint=option)
    return dt.timedelta(seconds=value * _UNITS[unit])
