"""``interlink call``: call a site's method from a terminal and print the result.

    interlink call home.list_users filter.name_gt=a --root https://site/api --profile work
    interlink call home.upload document@./report.pdf note=monthly

Fields are typed as they are posted (``name=value``, dotted names, repeated names for lists,
``name.=`` for an empty container) and ``name@path`` uploads a file. They go through the Python
client, so ``interlink.wire.collate`` writes the form the server reads.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any

import click

__all__ = ["call", "parse_fields"]

DEFAULT_CREDENTIALS_FILE = "~/.interlink/credentials"


def parse_fields(fields: Sequence[str]) -> dict[str, Any]:
    """``["filter.name_gt=a", "tags=x", "tags=y", "doc@f.txt"]`` -> keyword arguments.

    Dotted names nest (``filter.name_gt`` -> ``{"filter": {"name_gt": ...}}``), a repeated name
    makes a list, a trailing dot (``tags.=``) marks an empty container.
    """
    from interlink.wire import FileUpload

    arguments: dict[str, Any] = {}
    for field in fields:
        equals, at = field.find("="), field.find("@")
        if equals < 0 and at < 0:
            raise click.BadParameter(f"{field!r}: write name=value, or name@path to upload a file")
        if at >= 0 and (equals < 0 or at < equals):
            name, path = field[:at], field[at + 1 :]
            try:
                value: Any = FileUpload(path)
            except OSError as exc:
                raise click.BadParameter(f"{field!r}: cannot read {path}: {exc.strerror}") from None
        else:
            name, value = field[:equals], field[equals + 1 :]
        _place(arguments, name, value, field)
    return arguments


def _place(arguments: dict[str, Any], name: str, value: Any, field: str) -> None:
    parts = name.split(".")
    if parts[0] == "":
        raise click.BadParameter(f"{field!r}: the name is empty")
    marker = parts[-1] == ""
    if marker:  # `tags.=`: the container exists, maybe empty; it never overrides a value
        if value != "":
            raise click.BadParameter(f"{field!r}: a name ending in '.' marks a container; give it no value")
        parts = parts[:-1]
    node = arguments
    for part in parts[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise click.BadParameter(f"{field!r}: {part!r} already has a value; it cannot also have fields")
        node = child
    last = parts[-1]
    if marker:
        node.setdefault(last, {})
    elif last not in node or node[last] == {}:
        node[last] = value
    elif isinstance(node[last], dict):
        raise click.BadParameter(f"{field!r}: {name!r} has fields; it cannot also have a value")
    elif isinstance(node[last], list):
        node[last].append(value)
    else:
        node[last] = [node[last], value]


@click.command("call")
@click.argument("method")
@click.argument("fields", nargs=-1)
@click.option("--root", envvar="INTERLINK_API_ROOT", required=True, metavar="URL",
              help="the site's API root, e.g. https://mysite.com/api [env INTERLINK_API_ROOT]")
@click.option("--credentials", "credential_files", multiple=True, metavar="FILE",
              envvar="INTERLINK_CREDENTIALS_FILE",
              help=f"credentials file(s) with [profile] sections [default {DEFAULT_CREDENTIALS_FILE}]")
@click.option("--profile", default=None, help="profile to use [env INTERLINK_PROFILE; default 'default']")
@click.option("--header", "headers", multiple=True, metavar="NAME:VALUE", help="an extra HTTP header")
@click.option("--output", type=click.Choice(["auto", "json", "table"]), default="auto", show_default=True,
              help="auto: a table at a terminal, JSON when piped")
def call(
    method: str,
    fields: tuple[str, ...],
    root: str,
    credential_files: tuple[str, ...],
    profile: str | None,
    headers: tuple[str, ...],
    output: str,
) -> None:
    """Call METHOD (module.function) with FIELDS (name=value, name@file) and print the result.

    Credentials come from --profile, INTERLINK_ACCESS_KEY_ID/SECRET, INTERLINK_PROFILE or the
    'default' profile, in that order; with none the call is anonymous.
    """
    import httpx

    from interlink.client import API, ApiError, CredentialsFileError, ProfileNotFound

    arguments = parse_fields(fields)
    header_map: dict[str, str] = {}
    for header in headers:
        name, colon, value = header.partition(":")
        if not colon or not name.strip():
            raise click.BadParameter(f"{header!r}: write NAME:VALUE", param_hint="--header")
        header_map[name.strip()] = value.strip()
    try:
        api = API(root, list(credential_files) or [DEFAULT_CREDENTIALS_FILE], headers=header_map)
        with api:
            session = api(profile)
            result = session.method(method).json(**arguments)
    except (CredentialsFileError, ProfileNotFound, ValueError, TypeError) as exc:
        raise click.ClickException(str(exc)) from None
    except ApiError as exc:
        field = f" (field: {exc.field})" if exc.field else ""
        click.echo(f"error: {exc.code} (HTTP {exc.status}): {exc.message}{field}", err=True)
        sys.exit(1)
    except httpx.HTTPError as exc:
        click.echo(f"error: cannot call {method} at {root}: {exc}", err=True)
        sys.exit(1)
    show(result, output)


def show(result: Any, output: str) -> None:
    tabular = isinstance(result, dict) or (
        isinstance(result, list) and result and all(isinstance(r, dict) for r in result)
    )
    if output == "json" or (output == "auto" and not sys.stdout.isatty()) or not tabular:
        click.echo(json.dumps(result, indent=2, ensure_ascii=False))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table()
    if isinstance(result, dict):
        table.add_column("field")
        table.add_column("value")
        for key, value in result.items():
            table.add_row(str(key), _cell(value))
    else:
        columns: list[str] = []
        for row in result:
            columns += [k for k in row if k not in columns]
        for column in columns:
            table.add_column(column)
        for row in result:
            table.add_row(*(_cell(row.get(c)) for c in columns))
    Console(width=None if sys.stdout.isatty() else 250).print(table)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)
