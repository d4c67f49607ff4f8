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

from ._common import CliError, print_table

__all__ = ["call", "parse_fields"]

DEFAULT_CREDENTIALS_FILE = "~/.interlink/credentials"
MARKER = ""  # the nameless last part of `tags.=`


def parse_fields(fields: Sequence[str]) -> dict[str, Any]:
    """``["filter.name_gt=a", "tags=x", "tags=y", "doc@f.txt"]`` -> keyword arguments.

    Dotted names nest (``filter.name_gt`` -> ``{"filter": {"name_gt": ...}}``), a repeated name
    makes a list, a trailing dot (``tags.=``) marks an empty container. The names are sorted
    into ``interlink.wire.build_tree``'s tree, the one the server reads a form with, so a
    field means here what it means there.
    """
    from interlink.wire import FileUpload, WireError, build_tree

    pairs: list[tuple[str, Any]] = []
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
        parts = name.split(".")
        if "" in parts[:-1] or parts == [""]:
            raise click.BadParameter(f"{field!r}: the name or a part of it is empty")
        if parts[-1] == MARKER and value != "":
            raise click.BadParameter(f"{field!r}: a name ending in '.' marks a container; give it no value")
        pairs.append((name, value))
    try:
        root = build_tree(pairs)
    except WireError as error:
        raise click.BadParameter(str(error)) from None
    return {name: _argument(node, name) for name, node in (root.children or {}).items()}


def _argument(node: Any, path: str) -> Any:
    """One tree node as a keyword argument: fields -> dict, one value, repeated values -> list,
    only the marker -> ``{}`` (an empty container; values given beside it fill it)."""
    children = {name: child for name, child in (node.children or {}).items() if name != MARKER}
    if children and node.values:
        raise click.BadParameter(f"{path!r} has fields; it cannot also have a value")
    if children:
        return {name: _argument(child, f"{path}.{name}") for name, child in children.items()}
    if node.values:
        return node.values[0] if len(node.values) == 1 else list(node.values)
    return {}


@click.command("call", short_help="Call a site's method and print the result.")
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
    'default' profile, in that order; with none the call is anonymous. A profile is a
    [section] with access_key_id and access_key_secret; other sections in the same file (such
    as the [site] login `make run` writes) are skipped unless selected.

    The key travels as the authorisation=KEYID:SECRET field. With curl, the same key is
    -u KEYID:SECRET, -u USER:KEYID:SECRET or -d authorisation=KEYID:SECRET; -u USER:PASSWORD
    logs in as the user's default role.

    Exit status: 0 done, 1 the call failed (error answer, no answer, bad profile),
    2 the command line is wrong.
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
        raise CliError(str(exc)) from None
    except ApiError as exc:
        field = f" (field: {exc.field})" if exc.field else ""
        raise CliError(f"{exc.code} (HTTP {exc.status}): {exc.message}{field}") from None
    except httpx.HTTPError as exc:
        from interlink.urls import redact_url, redact_urls

        raise CliError(f"cannot call {method} at {redact_url(root)}: {redact_urls(str(exc))}") from None
    show(result, output)


def show(result: Any, output: str) -> None:
    tabular = isinstance(result, dict) or (
        isinstance(result, list) and result and all(isinstance(r, dict) for r in result)
    )
    if output == "json" or (output == "auto" and not sys.stdout.isatty()) or not tabular:
        click.echo(json.dumps(result, indent=2, ensure_ascii=False))
        return
    if isinstance(result, dict):
        print_table(None, ["field", "value"], [(str(k), _cell(v)) for k, v in result.items()])
        return
    columns: list[str] = []
    for row in result:
        columns += [k for k in row if k not in columns]
    print_table(None, columns, [[_cell(row.get(c)) for c in columns] for row in result])


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)
