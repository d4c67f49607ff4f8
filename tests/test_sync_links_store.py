"""The id map's writes (``save_sync_links``) on SQLite and PostgreSQL: what a sync run's crash
safety rests on. A row written in flight (``target_id=None``) and then linked must end as one row
per (sync, source id), new rows get ``None`` for the columns they are not given, existing rows keep
them, and rows of different shapes in one call are all written. The same rules through the
upsert (SQLite, PostgreSQL) and through the read-then-INSERT/UPDATE path other databases take."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import func, select

import interlink.store._sync_state as sync_state
from interlink.store import SyncLink, forget_sync_links, load_sync_links, save_sync_links


@pytest.fixture(params=["upsert", "read-then-write"])
def write_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    if request.param == "read-then-write":
        # No third database runs here: the portable path is taken by saying no dialect upserts.
        monkeypatch.setattr(sync_state, "_UPSERTS", ())
    yield str(request.param)


def _links(database: Any, sync: str, ids: list[str]) -> dict[str, tuple[Any, ...]]:
    with database.session() as session:
        return {sid: (row.target_id, row.source_hash, row.target_hash, row.source_version, row.target_version)
                for sid, row in load_sync_links(session, sync, ids).items()}


def test_in_flight_then_linked_is_one_row_with_every_column(database: Any, write_path: str) -> None:
    ids = [str(i) for i in range(1, 701)]  # more than one chunk of the portable path's reads
    with database.session() as session:
        save_sync_links(session, "customers", [
            {"source_id": sid, "target_id": None, "source_hash": None, "target_hash": None} for sid in ids])
    assert set(_links(database, "customers", ids).values()) == {(None, None, None, None, None)}
    with database.session() as session:
        save_sync_links(session, "customers", [
            {"source_id": sid, "target_id": f"t{sid}", "source_hash": "s" * 64, "target_hash": "h" * 64,
             "source_version": "2026-01-01T00:00:00", "target_version": None} for sid in ids])
    links = _links(database, "customers", ids)
    assert links["700"] == ("t700", "s" * 64, "h" * 64, "2026-01-01T00:00:00", None)
    assert all(link[0] == f"t{sid}" for sid, link in links.items())
    with database.session() as session:
        rows = session.scalar(select(func.count()).select_from(SyncLink).where(SyncLink.sync == "customers"))
    assert rows == 700


def test_columns_not_given_are_none_when_new_and_kept_when_existing(database: Any, write_path: str) -> None:
    with database.session() as session:
        save_sync_links(session, "customers", [
            {"source_id": "1", "target_id": "t1", "source_hash": "a", "target_hash": "b", "source_version": "v1"}])
    with database.session() as session:
        # Two shapes in one call: an existing row given only its target id, a new one given two columns.
        save_sync_links(session, "customers", [{"source_id": "1", "target_id": "t1-new"},
                                               {"source_id": "2", "target_id": "t2", "source_hash": "c"}])
    assert _links(database, "customers", ["1", "2"]) == {
        "1": ("t1-new", "a", "b", "v1", None),
        "2": ("t2", "c", None, None, None),
    }


def test_syncs_keep_their_own_rows_and_forgotten_rows_can_be_written_again(database: Any, write_path: str) -> None:
    with database.session() as session:
        save_sync_links(session, "customers", [{"source_id": "1", "target_id": "c1"}])
        save_sync_links(session, "orders", [{"source_id": "1", "target_id": "o1"}])
    with database.session() as session:
        forget_sync_links(session, "customers", ["1"])
    assert _links(database, "customers", ["1"]) == {}
    assert _links(database, "orders", ["1"])["1"][0] == "o1"
    with database.session() as session:
        save_sync_links(session, "customers", [{"source_id": "1", "target_id": None}])
    assert _links(database, "customers", ["1"]) == {"1": (None, None, None, None, None)}
    with database.session() as session:
        save_sync_links(session, "customers", [])  # nothing to write is no statement, no error
    assert _links(database, "orders", ["1"])["1"][0] == "o1"
