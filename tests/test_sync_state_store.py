"""The sync state's per-page writes besides the id map: the cursor (``save_sync_cursor``) and the
closing of settled issues (``resolve_sync_issues``), on every database the store runs on. A run
calls both after every page, on SQLite through the driver's own statements: what they store and
close must be what the ORM's statements stored and closed."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from interlink.store import (
    get_sync_state,
    list_sync_issues,
    record_sync_issue,
    resolve_sync_issues,
    save_sync_counts,
    save_sync_cursor,
)


@pytest.mark.parametrize("value", ["2026-01-02T03:04:05+00:00", 42, None, {"page": 3, "ids": ["a", "é"]}])
def test_cursor_is_stored_for_a_new_sync_and_replaced_for_a_known_one(database: Any, value: Any) -> None:
    with database.session() as session:
        save_sync_cursor(session, "customers", "first")  # no row yet: the row is made
    with database.session() as session:
        state = get_sync_state(session, "customers")
        assert state is not None and state.cursor == {"value": "first"}
        first_updated = state.updated_at
    with database.session() as session:
        save_sync_cursor(session, "customers", value)
    with database.session() as session:
        state = get_sync_state(session, "customers")
        assert state is not None and state.cursor == {"value": value}
        assert state.updated_at >= first_updated
        assert get_sync_state(session, "orders") is None


def test_cursor_written_after_the_counts_in_one_transaction_keeps_both(database: Any) -> None:
    started = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    with database.session() as session:
        # A run's first transaction: its start (a new row, not flushed yet), then a page's cursor.
        save_sync_counts(session, "customers", {"read": 0}, started_at=started, finished_at=None)
        save_sync_cursor(session, "customers", "after-page-1")
    with database.session() as session:
        state = get_sync_state(session, "customers")
        assert state is not None
        assert state.cursor == {"value": "after-page-1"} and state.last_counts == {"read": 0}


def test_settled_records_close_their_open_issues_only(database: Any) -> None:
    with database.session() as session:
        record_sync_issue(session, "customers", "1", "quarantine", {"errors": []})
        record_sync_issue(session, "customers", "2", "quarantine", {"errors": []})
        record_sync_issue(session, "customers", "3", "conflict", {})
        record_sync_issue(session, "orders", "1", "quarantine", {"errors": []})
    with database.session() as session:
        resolve_sync_issues(session, "customers", ["1", "3", "9"], kind="quarantine")
    with database.session() as session:
        open_issues = {(i.sync, i.source_id, i.kind) for i in list_sync_issues(session)}
    assert open_issues == {("customers", "2", "quarantine"), ("customers", "3", "conflict"), ("orders", "1", "quarantine")}
    with database.session() as session:
        resolve_sync_issues(session, "customers", ["3"])
    with database.session() as session:
        assert {(i.source_id, i.kind) for i in list_sync_issues(session, "customers")} == {("2", "quarantine")}


def test_an_issue_recorded_earlier_in_the_same_transaction_is_closed(database: Any) -> None:
    # One store transaction can hold a page's issues and the next page's settled records (the
    # run's writer commits several pages' outcomes together): the issue is open by then.
    with database.session() as session:
        record_sync_issue(session, "customers", "7", "quarantine", {"errors": []})
        resolve_sync_issues(session, "customers", ["7"])
    with database.session() as session:
        assert list_sync_issues(session, "customers") == []
        assert [i.resolved for i in list_sync_issues(session, "customers", include_resolved=True)] == [True]


def test_id_map_rows_of_any_key_order_and_only_an_id_are_written_as_given(database: Any) -> None:
    # SQLite takes each row's values out by its keys' order, found once per order: rows that
    # name their columns in other orders, or none, must still land in their own columns.
    from interlink.store import load_sync_links, save_sync_links

    with database.session() as session:
        save_sync_links(session, "customers", [
            {"source_id": "a"},
            {"target_hash": "t-b", "source_id": "b", "target_id": "2"},
            {"source_id": "c", "target_id": "3", "target_hash": "t-c"},
            {"source_version": "v-d", "target_id": "4", "source_id": "d", "extra": "ignored"},
        ])
    with database.session() as session:
        rows = {sid: (r.target_id, r.source_hash, r.target_hash, r.source_version, r.target_version)
                for sid, r in load_sync_links(session, "customers", ["a", "b", "c", "d"]).items()}
    assert rows == {"a": (None, None, None, None, None), "b": ("2", None, "t-b", None, None),
                    "c": ("3", None, "t-c", None, None), "d": ("4", None, None, "v-d", None)}
