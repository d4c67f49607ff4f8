"""``interlink sync run|status|conflicts``: run a declared sync and read its state.

    interlink sync run customers -m examples.oro_sync.flows   # a Prefect flow run, progress + summary
    interlink sync status                                      # every sync: cursor, last run, counts
    interlink sync conflicts customers --kind quarantine       # open issues, one row each
    interlink sync conflicts --resolve 7 --keep source -m ...  # settle a conflict by hand
    interlink sync retry customers -m examples.oro_sync.flows  # send quarantined records again

Syncs are declared in Python (``interlink.flows.Sync``); ``-m`` imports the modules that
declare them (also from ``INTERLINK_SYNC_MODULES``, comma-separated), from the current
directory first, as ``python -m`` does. A failed run ends in one line naming the URL that
failed (``-v`` for the traceback) and shows as failed in ``status``. ``status`` and
``conflicts`` read the store only. Exit status as every command: 0 done, 1 could not be done
(unknown sync, a target or source that failed), 2 a wrong command line; ``run`` also exits 1
when records were quarantined or left as conflicts, so a scheduler notices, and ``retry`` when
records are still quarantined after it.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import logging
import os
import sys
from collections.abc import Iterator
from typing import Any

import click

from ._common import CliError, first_line, print_table, state, when
from ._telemetry import telemetry_from_environment

__all__ = ["sync"]

# Prefect's ephemeral server may take long to start on a busy machine; its default (20 s) fails
# there. Only defaults: a value set by the user wins. Set before Prefect is first imported.
_PREFECT_DEFAULTS = {
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
}


@click.group(short_help="Run sync flows and read their state.")
def sync() -> None:
    """Sync flows (interlink.flows): run one, list their state and open issues."""


def _import(modules: tuple[str, ...]) -> None:
    names = list(modules) + [m for m in os.environ.get("INTERLINK_SYNC_MODULES", "").split(",") if m.strip()]
    # As `python -m`: modules of the current directory first (a console script's sys.path
    # starts with its own directory, not the user's).
    if names and os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    for name in names:
        try:
            importlib.import_module(name.strip())
        except ImportError as error:
            raise CliError(f"cannot import {name!r}: {first_line(error)}") from None


@sync.command("run")
@click.argument("name")
@click.option("-m", "--module", "modules", multiple=True, metavar="MODULE",
              help="Import MODULE first (it declares the sync); repeatable.")
@click.option("--progress/--no-progress", default=True, help="Show the progress bar and summary table.")
def run(name: str, modules: tuple[str, ...], progress: bool) -> None:
    """Run the sync NAME once as a Prefect flow."""
    for key, value in _PREFECT_DEFAULTS.items():
        os.environ.setdefault(key, value)
    declared = _declared(name, modules, create=True)  # a first run may make the database
    telemetry_from_environment()  # OTEL_* set: the run is a trace (docs/observability.md)
    verbose = state().verbose
    try:
        with _prefect_tracebacks(shown=verbose):
            counts = declared.run(progress=progress)
    except Exception as error:  # noqa: BLE001 - one line for the user; the flow run has the traceback
        if verbose:
            raise
        from interlink.flows import failure_line

        raise CliError(f"sync {name} failed: {failure_line(error)} (interlink -v ... shows the traceback)") from None
    if counts.quarantined or counts.conflicts or counts.deleted:
        raise CliError(f"sync {name}: {counts.quarantined} quarantined, {counts.conflicts} conflicts, "
                       f"{counts.deleted} deleted at the target; see `interlink sync conflicts {name}`")


class _WithoutTraceback(logging.Formatter):
    """Another formatter's lines without the exception's traceback (its message stays)."""

    def __init__(self, inner: logging.Formatter | None) -> None:
        super().__init__()
        self.inner = inner or logging.Formatter()

    def format(self, record: logging.LogRecord) -> str:
        saved = record.exc_info, record.exc_text, record.stack_info
        record.exc_info, record.exc_text, record.stack_info = None, None, None
        try:
            return self.inner.format(record)
        finally:
            record.exc_info, record.exc_text, record.stack_info = saved


@contextlib.contextmanager
def _prefect_tracebacks(shown: bool) -> Iterator[None]:
    """Prefect prints a failed run's traceback (hundreds of lines) to the console: without -v the
    console gets its lines without the traceback; Prefect's API logs keep it."""
    if shown:
        yield
        return
    from interlink.flows import run_flow  # noqa: F401 - loads Prefect, which sets up its handlers

    changed = [(handler, handler.formatter) for handler in logging.getLogger().handlers
               if type(handler).__name__ == "PrefectConsoleHandler"]
    for handler, formatter in changed:
        handler.setFormatter(_WithoutTraceback(formatter))
    try:
        yield
    finally:
        for handler, formatter in changed:
            handler.setFormatter(formatter)  # type: ignore[arg-type]


@sync.command("status")
@click.argument("name", required=False)
def status(name: str | None) -> None:
    """The cursor, last run and counts of every sync (or NAME)."""
    from sqlalchemy import func, select

    from interlink.store import SyncIssue, SyncLink, list_sync_states

    with state().database().session() as session:
        states = [s for s in list_sync_states(session) if name is None or s.name == name]
        if name is not None and not states:
            raise CliError(f"no sync named {name!r} has run")
        links = dict(session.execute(select(SyncLink.sync, func.count()).group_by(SyncLink.sync)).all())
        issues = dict(session.execute(select(SyncIssue.sync, func.count())
                                      .where(SyncIssue.resolved.is_(False)).group_by(SyncIssue.sync)).all())
    rows = []
    for item in states:
        counts = item.last_counts or {}
        cursor = (item.cursor or {}).get("value")
        finished = when(item.last_finished_at) or ("running or stopped" if item.last_started_at else "")
        if counts.get("failed"):
            finished = f"FAILED {finished}: {counts['failed']}"
        rows.append((item.name, "" if cursor is None else cursor, when(item.last_started_at), finished,
                     counts.get("read", ""), counts.get("created", ""), counts.get("updated", ""),
                     counts.get("unchanged", ""), links.get(item.name, 0), issues.get(item.name, 0)))
    print_table("syncs", ["sync", "cursor", "last started", "last finished", "read", "created", "updated",
                          "unchanged", "linked", "open issues"], rows)


def _declared(name: str, modules: tuple[str, ...], *, create: bool = False) -> Any:
    from interlink.flows import find_sync

    _import(modules)
    try:
        declared = find_sync(name)
    except LookupError as error:
        raise CliError(str(error)) from None
    declared.use_database(state().database(create=create))
    return declared


def _target_failed(name: str, error: Exception) -> CliError:
    return CliError(f"sync {name}: {type(error).__name__}: {first_line(error)}")


@sync.command("conflicts")
@click.argument("name", required=False)
@click.option("--kind", type=click.Choice(["conflict", "quarantine", "deleted", "all"]), default="all",
              show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the issues with both versions as JSON lines.")
@click.option("--resolve", "resolve_id", type=click.IntRange(min=1), metavar="ID",
              help="Settle the open conflict (or deleted record) ID with the side given by --keep.")
@click.option("--keep", type=click.Choice(["source", "target"]),
              help="With --resolve: write the source's version to the target, or keep the target's.")
@click.option("-m", "--module", "modules", multiple=True, metavar="MODULE",
              help="With --resolve: import MODULE first (it declares the sync); repeatable.")
def conflicts(name: str | None, kind: str, as_json: bool, resolve_id: int | None, keep: str | None,
              modules: tuple[str, ...]) -> None:
    """Open issues: conflicts (both versions), quarantined records (the target's errors), deleted.

    With --resolve ID --keep source|target, settle one of them instead: the chosen version is
    applied (written to the target, or kept there), the id map records both sides as they are
    now, and the issue is closed with the choice.
    """
    from interlink.store import list_sync_issues

    if (resolve_id is None) != (keep is None):
        raise click.UsageError("--resolve ID and --keep source|target go together")
    if resolve_id is not None:
        _resolve(resolve_id, keep or "", name, modules)
        return

    with state().database().session() as session:
        issues = list_sync_issues(session, name, None if kind == "all" else kind)
    if as_json:
        for issue in issues:
            click.echo(json.dumps({"id": issue.id, "sync": issue.sync, "source_id": issue.source_id,
                                   "kind": issue.kind, "detail": issue.detail, "created_at": when(issue.created_at)},
                                  default=str))
        return

    def summary(detail: dict) -> str:
        errors = detail.get("errors") or []
        if errors:
            return "; ".join(
                " ".join(str(e.get(k, "")) for k in ("status", "detail" if e.get("detail") else "title")).strip()
                + (f" at {e['source']['pointer']}" if isinstance(e.get("source"), dict) and e["source"].get("pointer") else "")
                for e in errors[:3])
        return str(detail.get("reason") or "")

    print_table("open sync issues", ["id", "sync", "source id", "kind", "target id", "detail", "since"],
                [(i.id, i.sync, i.source_id, i.kind, (i.detail or {}).get("target_id") or "", summary(i.detail or {}),
                  when(i.created_at)) for i in issues])


def _resolve(issue_id: int, keep: str, name: str | None, modules: tuple[str, ...]) -> None:
    from interlink.flows import IssueNotFound, resolve_issue
    from interlink.store import SyncIssue

    with state().database().session() as session:
        issue = session.get(SyncIssue, issue_id)
        found = None if issue is None else (issue.sync, issue.source_id, issue.kind, issue.resolved)
    if found is None or found[3] or (name is not None and found[0] != name):
        raise CliError(f"no open sync issue {issue_id}" + (f" for sync {name!r}" if name else ""))
    declared = _declared(found[0], modules)
    try:
        done = resolve_issue(declared, issue_id, keep)  # type: ignore[arg-type]
    except IssueNotFound as error:
        raise CliError(str(error)) from None
    except Exception as error:  # noqa: BLE001 - one line for the user
        raise _target_failed(found[0], error) from None
    print_table("resolved", ["id", "sync", "source id", "kind", "kept", "action", "target id"],
                [(issue_id, found[0], found[1], found[2], done["keep"], done["action"], done["target_id"] or "")])


@sync.command("retry")
@click.argument("name")
@click.option("-m", "--module", "modules", multiple=True, metavar="MODULE",
              help="Import MODULE first (it declares the sync); repeatable.")
def retry(name: str, modules: tuple[str, ...]) -> None:
    """Send the quarantined records of the sync NAME again (after fixing the data or transform)."""
    from interlink.flows import retry_quarantined

    declared = _declared(name, modules)
    try:
        counts, left = retry_quarantined(declared)
    except Exception as error:  # noqa: BLE001 - one line for the user
        raise _target_failed(name, error) from None
    print_table(f"retried {counts.read} quarantined records of {name}",
                ["retried", "created", "updated", "unchanged", "adopted", "still quarantined"],
                [(counts.read, counts.created, counts.updated, counts.unchanged, counts.adopted, left)])
    if left:
        raise CliError(f"sync {name}: {left} records still quarantined; see `interlink sync conflicts {name}`")
