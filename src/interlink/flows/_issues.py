"""Settling what a run left open: a conflict or deleted record decided by hand, quarantined
records tried again.

* :func:`resolve_issue` applies the version a person chose. ``keep="source"`` writes the
  source's attributes recorded with the issue (``PATCH``, or ``POST`` when the target record is
  gone); ``keep="target"`` leaves the target as it is. Either way the id map then holds both
  sides as they are now, so the next run does not raise the same question again, and the issue
  is closed with the choice recorded in it (``detail["resolution"]``).
* :func:`retry_quarantined` sends the quarantined records again, through the same
  :func:`~interlink.flows._engine.load_batch` a run uses (transform, plan, write, id map), from
  the source records kept with the issues. A record the target now accepts is settled; one it
  refuses again stays quarantined with the new errors. Useful after the target's data or the
  ``transform`` was fixed; a record changed at the source is retried by the next run anyway.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any, Literal

from interlink.flows._engine import Counts, load_batch, store_of
from interlink.flows._plan import record_hash

if TYPE_CHECKING:
    from interlink.flows._sync import Sync

__all__ = ["IssueNotFound", "resolve_issue", "retry_quarantined", "Resolution"]

Keep = Literal["source", "target"]
RESOLVABLE = ("conflict", "deleted")


class IssueNotFound(LookupError):
    """No open issue with that id (for that sync), or one of a kind that cannot be resolved so."""


class Resolution(dict):  # type: ignore[type-arg]
    """What :func:`resolve_issue` did: ``keep``, ``action`` (updated / created / kept), ``target_id``."""


def _subset(attributes: dict[str, Any], keys: Any) -> dict[str, Any]:
    return {key: attributes.get(key) for key in keys}


def resolve_issue(sync: Sync, issue_id: int, keep: Keep, database: Any | None = None) -> Resolution:
    """Apply the chosen side of an open ``conflict`` or ``deleted`` issue and close it."""
    from interlink.store import SyncIssue, save_sync_links
    from interlink.flows._targets import TargetError

    if keep not in ("source", "target"):
        raise ValueError(f"keep={keep!r}: 'source' or 'target'")
    database = store_of(sync, database)
    with database.session() as session:
        issue = session.get(SyncIssue, issue_id)
        if issue is None or issue.resolved or issue.sync != sync.name:
            raise IssueNotFound(f"no open issue {issue_id} for sync {sync.name!r}")
        if issue.kind not in RESOLVABLE:
            raise IssueNotFound(f"issue {issue_id} is {issue.kind!r}: only conflicts and deleted records are "
                                "resolved by choosing a side (quarantined records: `interlink sync retry`)")
        source_id, detail = issue.source_id, dict(issue.detail or {})
    attributes = dict(detail.get("attributes") or {})
    source = detail.get("source") or {}
    target_id = detail.get("target_id")
    target = sync.target

    if keep == "source":
        result = target.update(target_id, attributes) if target_id else None
        if result is None or result.missing:
            result, action = target.create(attributes), "created"
        else:
            action = "updated"
        if not result.ok:
            raise TargetError(f"the target refused the source's version of {source_id}: "
                              f"HTTP {result.status} {result.errors}")
        target_id = result.target_id or target_id
        written = result.attributes
    else:
        if issue.kind == "deleted" or not target_id:
            written, action = {}, "kept"
        else:
            current = target.read([target_id]).get(target_id)
            if current is None:
                raise TargetError(f"record {target_id} is gone from the target; keep the source's version instead")
            written, action = current, "kept"
    cursor = sync.source.record_cursor(source) if source else None
    row: dict[str, Any] = {
        "source_id": source_id,
        # The source's version is recorded as seen, so an unchanged source is skipped from now on.
        "source_hash": record_hash(attributes),
        "source_version": str(cursor)[:64] if cursor is not None else None,
    }
    if written or keep == "source":
        row["target_id"] = target_id
        row["target_hash"] = record_hash(_subset(written, attributes))
        row["target_version"] = (str(written.get(target.updated))[:64]
                                 if target.updated and written.get(target.updated) else None)
    resolution = Resolution(keep=keep, action=action, target_id=target_id,
                            at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"))
    with database.session() as session:
        save_sync_links(session, sync.name, [row])
        issue = session.get(SyncIssue, issue_id)
        issue.detail = {**detail, "resolution": dict(resolution)}
        issue.resolved = True
    return resolution


def retry_quarantined(sync: Sync, database: Any | None = None, batch: int = 200) -> tuple[Counts, int]:
    """Send every open quarantined record of ``sync`` again; returns the counts and how many
    records are still quarantined afterwards."""
    from interlink.store import list_sync_issues

    database = store_of(sync, database)
    with database.session() as session:
        records = [dict(i.detail["source"]) for i in list_sync_issues(session, sync.name, "quarantine")
                   if isinstance((i.detail or {}).get("source"), dict)]
    total = Counts()
    for start in range(0, len(records), batch):
        total.add(load_batch(sync, records[start:start + batch], database))
    with database.session() as session:
        left = len(list_sync_issues(session, sync.name, "quarantine"))
    return total, left
