"""Sync state for ``interlink.flows``: a cursor per sync, the id map, and recorded issues.

Three tables, written only through the functions below (each takes an open session and leaves
committing to the caller, like the other store operations):

* ``interlink_sync_states``: one row per sync name: the source cursor (JSON, so any value the
  source orders by fits) and the counts of the last run.
* ``interlink_sync_links``: the id map. One row per (sync, source id): the target id (``None``
  while a create is in flight: a row written *before* the POST, so a run killed between the
  target's commit and ours is found on the next run), and the hashes/versions of both sides as
  last written, which decide skip / update / conflict.
* ``interlink_sync_issues``: what a run could not settle alone: ``conflict`` (both versions
  kept), ``quarantine`` (the target's JSON:API ``errors``), ``deleted`` (target gone, reported).
"""

from __future__ import annotations

import datetime as dt
import functools
import operator
from collections.abc import Callable, Iterable, Sequence
from typing import Any, cast

from sqlalchemy import JSON, Boolean, Integer, String, Table, bindparam, delete, insert, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from interlink.store._models import Base, utcnow

__all__ = [
    "SyncState",
    "SyncLink",
    "SyncIssue",
    "ISSUE_KINDS",
    "get_sync_state",
    "save_sync_cursor",
    "save_sync_counts",
    "list_sync_states",
    "load_sync_links",
    "load_sync_link_states",
    "save_sync_links",
    "forget_sync_links",
    "record_sync_issue",
    "list_sync_issues",
    "resolve_sync_issues",
]

ISSUE_KINDS = ("conflict", "quarantine", "deleted")


class SyncState(Base):
    """One sync's cursor and last-run summary."""

    __tablename__ = "interlink_sync_states"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    # ``{"value": ...}`` so ``None`` (never run) differs from a stored JSON null.
    cursor: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    last_counts: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    last_started_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    last_finished_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    def __repr__(self) -> str:
        return f"SyncState(name={self.name!r}, cursor={self.cursor!r})"


class SyncLink(Base):
    """Source id → target id, and what both sides looked like when last synced."""

    __tablename__ = "interlink_sync_links"

    sync: Mapped[str] = mapped_column(String(200), primary_key=True)
    source_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    target_id: Mapped[str | None] = mapped_column(String(255), default=None)
    source_hash: Mapped[str | None] = mapped_column(String(64), default=None)
    target_hash: Mapped[str | None] = mapped_column(String(64), default=None)
    source_version: Mapped[str | None] = mapped_column(String(64), default=None)
    target_version: Mapped[str | None] = mapped_column(String(64), default=None)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    def __repr__(self) -> str:
        return f"SyncLink(sync={self.sync!r}, source_id={self.source_id!r}, target_id={self.target_id!r})"


class SyncIssue(Base):
    """A record a run could not settle by itself."""

    __tablename__ = "interlink_sync_issues"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    sync: Mapped[str] = mapped_column(String(200), index=True)
    source_id: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(20))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    resolved: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    def __repr__(self) -> str:
        return f"SyncIssue(sync={self.sync!r}, source_id={self.source_id!r}, kind={self.kind!r})"


def get_sync_state(session: Session, name: str) -> SyncState | None:
    return session.get(SyncState, name)


def _state(session: Session, name: str) -> SyncState:
    state = session.get(SyncState, name)
    if state is None:
        state = SyncState(name=name)
        session.add(state)
    return state


def save_sync_cursor(session: Session, name: str, value: Any) -> None:
    """Store the cursor; the caller commits it only after everything before it has committed.

    One UPDATE where the sync's row exists (a run stores the cursor after every page: loading
    the row as an object to change it cost more than the rest of the page's bookkeeping)."""
    states = cast(Table, SyncState.__table__)
    dialect = session.get_bind().dialect
    if dialect.name == "sqlite":
        # The driver's own statement, its values converted by the columns' own types (the
        # Core UPDATE's compiling and processing was most of a page's cursor write).
        done: Any = session.connection().exec_driver_sql(
            f"UPDATE {states.name} SET cursor = ?, updated_at = ? WHERE name = ?",
            (_bound(states.c.cursor, dialect, {"value": value}), _bound(states.c.updated_at, dialect, utcnow()), name))
    else:
        done = session.execute(update(states).where(states.c.name == name).values(cursor={"value": value}))
    if not getattr(done, "rowcount", 0):
        _state(session, name).cursor = {"value": value}


def _bound(column: Any, dialect: Any, value: Any) -> Any:
    """``value`` as the driver gets it for ``column`` (its type's bind processing)."""
    process = column.type.dialect_impl(dialect).bind_processor(dialect)
    return process(value) if process else value


def save_sync_counts(session: Session, name: str, counts: dict[str, Any], *, started_at: dt.datetime,
                     finished_at: dt.datetime | None) -> None:
    state = _state(session, name)
    state.last_counts = dict(counts)
    state.last_started_at = started_at
    state.last_finished_at = finished_at


def list_sync_states(session: Session) -> list[SyncState]:
    return list(session.scalars(select(SyncState).order_by(SyncState.name)))


def load_sync_links(session: Session, sync: str, source_ids: Iterable[str]) -> dict[str, SyncLink]:
    """The id-map rows of ``source_ids`` (absent ones are simply missing from the dict)."""
    ids = list(dict.fromkeys(source_ids))
    found: dict[str, SyncLink] = {}
    # Chunks keep the IN list under SQLite's bound-parameter limit.
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        rows = session.scalars(select(SyncLink).where(SyncLink.sync == sync, SyncLink.source_id.in_(chunk)))
        found.update({row.source_id: row for row in rows})
    return found


def load_sync_link_states(session: Session, sync: str,
                          source_ids: Iterable[str]) -> dict[str, tuple[str | None, str | None, str | None]]:
    """What a run plans with, per id-map row of ``source_ids``: (target id, source hash, target
    hash). Plain rows, no ORM objects: a run reads every record's row (on SQLite as the
    driver's own statement: SQLAlchemy's building of the ``IN`` list was most of this read)."""
    ids = list(dict.fromkeys(source_ids))
    found: dict[str, tuple[str | None, str | None, str | None]] = {}
    sqlite = session.get_bind().dialect.name == "sqlite"
    columns = (_TABLE.c.source_id, _TABLE.c.target_id, _TABLE.c.source_hash, _TABLE.c.target_hash)
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        if sqlite:
            rows: Any = session.connection().exec_driver_sql(
                f"SELECT source_id, target_id, source_hash, target_hash FROM {_TABLE.name} "
                f"WHERE sync = ? AND source_id IN ({', '.join('?' * len(chunk))})", (sync, *chunk))
        else:
            rows = session.execute(select(*columns).where(_TABLE.c.sync == sync, _TABLE.c.source_id.in_(chunk)))
        found.update({source_id: (target_id, source_hash, target_hash)
                      for source_id, target_id, source_hash, target_hash in rows})
    return found


_LINK_COLUMNS = ("target_id", "source_hash", "target_hash", "source_version", "target_version")


def save_sync_links(session: Session, sync: str, rows: Sequence[dict[str, Any]]) -> None:
    """Insert or update id-map rows: each a dict with ``source_id`` and the columns to set
    (columns a new row is not given are ``None``; an existing row keeps them).

    Core statements executed with the list of rows (one compiled statement, the driver's
    executemany), not ORM objects: a run writes every row of every page twice, and this was
    most of its own time. On SQLite and PostgreSQL one upsert (``ON CONFLICT DO UPDATE``; on
    SQLite as the driver's own statement with plain tuples);
    elsewhere the existing keys are read first, then one INSERT and one UPDATE.
    """
    if not rows:
        return
    now = utcnow()
    dialect = session.get_bind().dialect
    if dialect.name == "sqlite":
        _sqlite_upserts(session, sync, dialect, rows, now)
        return
    # executemany needs one shape of parameters: rows are grouped by the columns they set.
    shapes: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in rows:
        columns = tuple(column for column in _LINK_COLUMNS if column in row)
        shapes.setdefault(columns, []).append({**row, "sync": sync, "updated_at": now})
    for columns, params in shapes.items():
        if dialect.name in _UPSERTS:
            session.execute(_upsert(dialect.name, columns), params)
        else:
            _insert_or_update(session, sync, columns, params)


_UPSERTS = ("sqlite", "postgresql")
_TABLE = cast(Table, SyncLink.__table__)


def _sqlite_upserts(session: Session, sync: str, dialect: Any, rows: Sequence[dict[str, Any]], now: Any) -> None:
    """The upserts on SQLite through the driver's executemany with plain tuples: SQLAlchemy's
    per-row parameter processing (the same ``updated_at`` converted once per row) was most of
    this write's time. ``updated_at`` is converted once, by the column's own type."""
    stamp = _TABLE.c.updated_at.type.dialect_impl(dialect).bind_processor(dialect)
    stamp_value = stamp(now) if stamp else now
    shapes: dict[tuple[str, ...], list[tuple[Any, ...]]] = {}
    for row in rows:
        columns, values = _row_shape(tuple(row))
        shapes.setdefault(columns, []).append((sync, *values(row), stamp_value))
    connection = session.connection()
    for columns, params in shapes.items():
        connection.exec_driver_sql(_sqlite_upsert_sql(columns), params)


@functools.lru_cache(maxsize=64)
def _row_shape(keys: tuple[str, ...]) -> tuple[tuple[str, ...], Callable[[dict[str, Any]], tuple[Any, ...]]]:
    """The columns a row of these keys sets, and what takes its values out (source id first):
    found once per key order, not per row (rows of one page share theirs)."""
    columns = tuple(column for column in _LINK_COLUMNS if column in keys)
    if not columns:
        return columns, lambda row: (row["source_id"],)
    return columns, operator.itemgetter("source_id", *columns)


@functools.cache
def _sqlite_upsert_sql(columns: tuple[str, ...]) -> str:
    """``INSERT … ON CONFLICT (sync, source_id) DO UPDATE`` of ``columns``, as SQLite's text."""
    names = ("sync", "source_id", *columns, "updated_at")
    updates = ", ".join(f"{name} = excluded.{name}" for name in (*columns, "updated_at"))
    return (f"INSERT INTO {_TABLE.name} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))}) "
            f"ON CONFLICT (sync, source_id) DO UPDATE SET {updates}")


@functools.cache
def _upsert(dialect: str, columns: tuple[str, ...]) -> Any:
    """``INSERT … ON CONFLICT (sync, source_id) DO UPDATE`` of ``columns``, built once per shape."""
    from sqlalchemy.dialects import postgresql, sqlite

    statement = postgresql.insert(_TABLE) if dialect == "postgresql" else sqlite.insert(_TABLE)
    return statement.on_conflict_do_update(
        index_elements=[_TABLE.c.sync, _TABLE.c.source_id],
        set_={column: statement.excluded[column] for column in (*columns, "updated_at")})


def _insert_or_update(session: Session, sync: str, columns: tuple[str, ...], params: list[dict[str, Any]]) -> None:
    ids = [row["source_id"] for row in params]
    existing: set[str] = set()
    for start in range(0, len(ids), 500):
        existing.update(session.scalars(select(_TABLE.c.source_id).where(
            _TABLE.c.sync == sync, _TABLE.c.source_id.in_(ids[start:start + 500]))))
    new = [row for row in params if row["source_id"] not in existing]
    old = [{**row, "key_sync": sync, "key_source_id": row["source_id"]} for row in params
           if row["source_id"] in existing]
    if new:
        session.execute(insert(_TABLE), new)
    if old:
        session.execute(update(_TABLE).where(_TABLE.c.sync == bindparam("key_sync"),
                                             _TABLE.c.source_id == bindparam("key_source_id"))
                        .values({column: bindparam(column) for column in (*columns, "updated_at")}), old)


def forget_sync_links(session: Session, sync: str, source_ids: Iterable[str]) -> None:
    ids = list(source_ids)
    for start in range(0, len(ids), 500):
        session.execute(delete(SyncLink).where(SyncLink.sync == sync, SyncLink.source_id.in_(ids[start:start + 500])))


def record_sync_issue(session: Session, sync: str, source_id: str, kind: str, detail: dict[str, Any]) -> SyncIssue:
    """Record an issue; an open issue of the same kind for the same record is replaced."""
    if kind not in ISSUE_KINDS:
        raise ValueError(f"unknown sync issue kind {kind!r}; one of {', '.join(ISSUE_KINDS)}")
    session.execute(
        update(SyncIssue)
        .where(SyncIssue.sync == sync, SyncIssue.source_id == source_id, SyncIssue.kind == kind,
               SyncIssue.resolved.is_(False))
        .values(resolved=True)
    )
    issue = SyncIssue(sync=sync, source_id=source_id, kind=kind, detail=detail)
    session.add(issue)
    return issue


def list_sync_issues(session: Session, sync: str | None = None, kind: str | None = None,
                     include_resolved: bool = False) -> list[SyncIssue]:
    query = select(SyncIssue).order_by(SyncIssue.id)
    if sync is not None:
        query = query.where(SyncIssue.sync == sync)
    if kind is not None:
        query = query.where(SyncIssue.kind == kind)
    if not include_resolved:
        query = query.where(SyncIssue.resolved.is_(False))
    return list(session.scalars(query))


def resolve_sync_issues(session: Session, sync: str, source_ids: Iterable[str], kind: str | None = None) -> None:
    """Mark the open issues of these records settled (a later run wrote them)."""
    # Open issues are few; one read of them is cheaper than an UPDATE with every written id.
    # A run asks after every page, mostly to find none: on SQLite the driver's own statement
    # (the ORM's execution of the query was most of a page's store work besides the id map).
    rows: Any
    if session.get_bind().dialect.name == "sqlite":
        if session.autoflush:
            session.flush()  # as the ORM's query would: an issue added in this session is open
        issues = cast(Table, SyncIssue.__table__)
        rows = session.connection().exec_driver_sql(
            f"SELECT id, source_id FROM {issues.name} WHERE sync = ? AND resolved = 0"
            + (" AND kind = ?" if kind is not None else ""), (sync, kind) if kind is not None else (sync,))
    else:
        query = select(SyncIssue.id, SyncIssue.source_id).where(SyncIssue.sync == sync, SyncIssue.resolved.is_(False))
        if kind is not None:
            query = query.where(SyncIssue.kind == kind)
        rows = session.execute(query)
    wanted = set(source_ids)
    settled = [issue_id for issue_id, source_id in rows if source_id in wanted]
    for start in range(0, len(settled), 500):
        session.execute(update(SyncIssue).where(SyncIssue.id.in_(settled[start:start + 500])).values(resolved=True))
