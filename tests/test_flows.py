"""interlink.flows without Prefect: the pure planner, the store's sync state, and runs of the
engine against real peers (a JSON:API target demanding tokens from the OpenID provider, a paged
REST source). The Prefect shell, the CLI and a killed run are in test_flows_prefect.py."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flows_peers import Peers, peers, sync_database  # noqa: F401
from interlink.flows import (
    MISSING,
    NOT_READ,
    Action,
    JsonApiTarget,
    LinkView,
    RestSource,
    Sync,
    TargetView,
    decide,
    record_hash,
    run_sync,
)
from interlink.http import APIClient, build_client
from interlink.store import get_sync_state, list_sync_issues, load_sync_links

T0 = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)


# -- the planner (pure) -----------------------------------------------------------------------
LINKED = LinkView("7", source_hash="old", target_hash="t-old")


@pytest.mark.parametrize(("link", "target", "rule", "on_deleted", "expected"), [
    (None, NOT_READ, "source_wins", "recreate", Action.CREATE),
    (LinkView(None, None, None), NOT_READ, "source_wins", "recreate", Action.ADOPT),
    (LinkView("7", "new", "t-old"), TargetView("t-changed"), "manual", "recreate", Action.SKIP),
    (LINKED, NOT_READ, "manual", "recreate", Action.UPDATE),
    (LINKED, TargetView("t-old"), "manual", "recreate", Action.UPDATE),
    (LINKED, MISSING, "source_wins", "recreate", Action.CREATE),
    (LINKED, MISSING, "source_wins", "report", Action.REPORT_DELETED),
    (LINKED, TargetView("t-changed"), "source_wins", "recreate", Action.UPDATE),
    (LINKED, TargetView("t-changed"), "target_wins", "recreate", Action.ACCEPT),
    (LINKED, TargetView("t-changed"), "manual", "recreate", Action.CONFLICT),
])
def test_the_planner_decides_every_case(link: Any, target: Any, rule: Any, on_deleted: Any, expected: Action) -> None:
    assert decide("new", link, target, conflict=rule, on_deleted=on_deleted).action is expected


def test_newest_compares_the_two_timestamps() -> None:
    both = dict(conflict="newest", source_updated=T0)
    assert decide("new", LINKED, TargetView("x", T0 - dt.timedelta(1)), **both).action is Action.UPDATE
    assert decide("new", LINKED, TargetView("x", T0 + dt.timedelta(1)), **both).action is Action.ACCEPT
    assert decide("new", LINKED, TargetView("x", None), **both).action is Action.CONFLICT
    with pytest.raises(ValueError, match="unknown conflict rule"):
        decide("new", LINKED, conflict="loudest")  # type: ignore[arg-type]


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(st.text(max_size=5), st.one_of(st.integers(), st.text(max_size=5), st.none()), max_size=6))
def test_the_hash_ignores_key_order_and_an_unchanged_record_is_always_skipped(attributes: dict) -> None:
    reordered = dict(reversed(list(attributes.items())))
    assert record_hash(reordered) == record_hash(attributes)
    for rule in ("source_wins", "target_wins", "newest", "manual"):
        link = LinkView("1", record_hash(attributes), "whatever")
        assert decide(record_hash(reordered), link, MISSING, conflict=rule).action is Action.SKIP  # type: ignore[arg-type]


def test_a_sync_declaration_refuses_what_cannot_work() -> None:
    source, target = RestSource(None, "x"), JsonApiTarget(None, type="customers")
    with pytest.raises(ValueError, match="conflict"):
        Sync("a", source=source, transform=dict, target=target, conflict="loudest", register=False)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="updated"):
        Sync("a", source=source, transform=dict, target=target, conflict="newest", register=False)
    with pytest.raises(ValueError, match="sync name"):
        Sync("Not A Name", source=source, transform=dict, target=target, register=False)
    # The protocols are checked when the sync is declared, not half-way through its first run.
    with pytest.raises(TypeError, match="client, pages"):
        Sync("a", source=object(), transform=dict, target=target, register=False)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="write_atomic"):
        Sync("a", source=source, transform=dict, target=object(), register=False)  # type: ignore[arg-type]


class ListSource:
    """A source of in-memory records: the Source protocol written by a user."""

    client = None

    def __init__(self, records: list[dict[str, Any]]) -> None:
        self.records = records

    def pages(self, since: Any) -> Any:
        from interlink.flows import Page

        records = sorted((r for r in self.records if since is None or r["at"] >= since), key=lambda r: r["at"])
        yield Page(records, len(records))

    def record_id(self, record: dict[str, Any]) -> str:
        return str(record["key"])

    def record_cursor(self, record: dict[str, Any]) -> Any:
        return record["at"]


class DictTarget:
    """A target kept in a dict: the Target protocol written by a user, without Atomic Operations."""

    client, match, updated, batch_size = None, "key", None, 10

    def __init__(self) -> None:
        self.rows: dict[str, dict[str, Any]] = {}

    def create(self, attributes: dict[str, Any]) -> Any:
        from interlink.flows import WriteResult

        target_id = f"t{len(self.rows) + 1}"
        self.rows[target_id] = dict(attributes)
        return WriteResult(True, 201, target_id, dict(attributes))

    def update(self, target_id: str, attributes: dict[str, Any]) -> Any:
        from interlink.flows import WriteResult

        self.rows[target_id].update(attributes)
        return WriteResult(True, 200, target_id, dict(self.rows[target_id]))

    def read(self, target_ids: Any) -> dict[str, dict[str, Any]]:
        return {i: self.rows[i] for i in target_ids if i in self.rows}

    def find(self, source_ids: Any) -> dict[str, tuple[str, dict[str, Any]]]:
        return {a["key"]: (i, a) for i, a in self.rows.items() if a["key"] in set(source_ids)}

    def supports_atomic(self) -> bool:
        return False

    def write_atomic(self, operations: Any) -> Any:
        raise AssertionError("not offered")


def test_a_declaration_does_no_io_and_any_source_and_target_of_the_protocols_run(tmp_path: Any) -> None:
    from interlink.flows import Source, Target, store_of

    source, target = ListSource([{"key": 1, "name": "a", "at": "1"}, {"key": 2, "name": "b", "at": "2"}]), DictTarget()
    assert isinstance(source, Source) and isinstance(target, Target)
    path = tmp_path / "state.db"
    sync = Sync("listed", source=source, transform=lambda r: {"name": r["name"]}, target=target,
                database=f"sqlite:///{path}", register=False)
    assert not path.exists() and sync.store == f"sqlite:///{path}"  # declared, not opened
    counts = run_sync(sync)
    assert (counts.read, counts.created) == (2, 2) and path.exists()
    assert sorted((a["key"], a["name"]) for a in target.rows.values()) == [("1", "a"), ("2", "b")]
    source.records[0].update(name="A", at="3")
    assert (run_sync(sync).updated, store_of(sync) is store_of(sync)) == (1, True)  # opened once
    with store_of(sync).session() as session:
        assert get_sync_state(session, "listed").cursor == {"value": "3"}


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None)
@given(json_values)
def test_a_source_page_is_parsed_or_refused_with_a_clear_error(body: Any) -> None:
    from interlink.flows._sources import parse_page

    try:
        records, total, next_url = parse_page(body)
    except ValueError as error:
        assert "source" in str(error)
        return
    assert all(isinstance(r, dict) for r in records)
    assert total is None or isinstance(total, int)
    assert next_url is None or isinstance(next_url, str)


def test_source_bounds() -> None:
    from interlink.flows._sources import MAX_PAGE_RECORDS, parse_page

    with pytest.raises(ValueError, match="at most"):
        parse_page({"results": [{}] * (MAX_PAGE_RECORDS + 1)})
    source = RestSource(None, "x")
    for bad in ({}, {"id": None}, {"id": ["1"]}, {"id": "x" * 256}, {"id": True}):
        with pytest.raises(ValueError, match="'id'"):
            source.record_id(bad)


# -- runs against the real peers --------------------------------------------------------------
def make_sync(peers: Peers, database: Any, sleeps: list[float] | None = None, transform: Any = None,
              page_size: int = 25, **options: Any) -> Sync:
    target_options = {k: options.pop(k) for k in ("atomic", "match", "updated") if k in options}
    target_options.setdefault("match", "externalId")
    return Sync(
        "customers",
        source=RestSource(APIClient(peers.source_url), "api/customers", id="id", cursor="updated_at",
                          page_size=page_size),
        transform=transform or (lambda c: {"name": c["name"]}),
        target=JsonApiTarget(build_client(peers.service()), type="customers",
                             sleep=(sleeps.append if sleeps is not None else (lambda s: None)), **target_options),
        database=database, register=False, **options,
    )


def seed_source(peers: Peers, count: int) -> None:
    for i in range(1, count + 1):
        peers.source.put(i, f"Customer {i}", T0 + dt.timedelta(seconds=i))


def writes(peers: Peers) -> int:
    return sum(n for key, n in peers.target.requests.items() if key.startswith(("POST", "PATCH")) or key == "atomic")


@pytest.mark.parametrize("atomic", [True, False], ids=["atomic", "one-request-per-record"])
def test_first_run_creates_everything_and_a_rerun_sends_nothing(peers: Peers, sync_database: Any, atomic: bool,
                                                                  oidc_provider: Any) -> None:
    seed_source(peers, 120)
    sync = make_sync(peers, sync_database, atomic=atomic)
    tokens_before = oidc_provider.token_requests()
    counts = run_sync(sync)
    assert (counts.read, counts.created, counts.updated) == (120, 120, 0)
    assert sorted(c["name"] for c in peers.customers()) == sorted(f"Customer {i}" for i in range(1, 121))
    assert {c["externalId"] for c in peers.customers()} == {str(i) for i in range(1, 121)}
    if atomic:
        assert peers.target.requests["atomic"] == 5 and peers.target.requests["POST /customers"] == 0
    else:
        assert peers.target.requests["POST /customers"] == 120
    # One token for the whole run at most (the client's token is cached and shared).
    assert oidc_provider.token_requests() - tokens_before <= 1
    with sync_database.session() as session:
        assert get_sync_state(session, "customers").cursor == {"value": peers.source.records[120]["updated_at"]}
        assert len(load_sync_links(session, "customers", [str(i) for i in range(1, 121)])) == 120

    peers.target.reset_counts()
    again = run_sync(sync)
    assert writes(peers) == 0
    # The cursor is inclusive: only the boundary record is read again, and skipped by hash.
    assert (again.read, again.unchanged, again.created) == (1, 1, 0)
    assert len(peers.customers()) == 120


def test_changed_records_are_patched_and_boundary_duplicates_are_absorbed(peers: Peers, sync_database: Any) -> None:
    seed_source(peers, 30)
    # Three records share the last timestamp: a page boundary may split them.
    for i in (28, 29, 30):
        peers.source.put(i, f"Customer {i}", T0 + dt.timedelta(seconds=100))
    sync = make_sync(peers, sync_database, page_size=7, atomic=False)
    assert run_sync(sync).created == 30
    later = T0 + dt.timedelta(seconds=200)
    peers.source.put(5, "Customer five", later)
    peers.source.put(31, "Customer 31", later)
    peers.target.reset_counts()
    counts = run_sync(sync)
    assert (counts.created, counts.updated) == (1, 1)
    assert peers.target.requests["PATCH /customers/id"] == 1 and peers.target.requests["POST /customers"] == 1
    names = sorted(c["name"] for c in peers.customers())
    assert "Customer five" in names and "Customer 5" not in names and len(names) == 31


def test_a_record_the_target_refuses_is_quarantined_with_its_errors_and_the_run_goes_on(
        peers: Peers, sync_database: Any) -> None:
    seed_source(peers, 10)
    peers.source.put(4, "", T0 + dt.timedelta(seconds=4))  # the target requires a name
    peers.source.put(6, "x" * 300, T0 + dt.timedelta(seconds=6))
    sync = make_sync(peers, sync_database)  # atomic: the refused batch is resent record by record
    counts = run_sync(sync)
    assert (counts.created, counts.quarantined) == (8, 2)
    with sync_database.session() as session:
        issues = {i.source_id: i for i in list_sync_issues(session, "customers", "quarantine")}
        cursor = get_sync_state(session, "customers").cursor
    assert set(issues) == {"4", "6"}
    with sync_database.session() as session:
        assert not load_sync_links(session, "customers", ["4", "6"])  # refused: nothing in flight
    assert issues["4"].detail["status"] == 422
    assert issues["4"].detail["errors"][0]["source"]["pointer"] == "/data/attributes/name"
    assert "255" in issues["6"].detail["errors"][0]["detail"]
    assert cursor == {"value": peers.source.records[10]["updated_at"]}

    # Fixed at the source: the next run writes it and settles the issue.
    peers.source.put(4, "Customer four", T0 + dt.timedelta(seconds=50))
    assert run_sync(sync).created == 1
    with sync_database.session() as session:
        assert {i.source_id for i in list_sync_issues(session, "customers")} == {"6"}


def test_a_transform_that_fails_quarantines_only_that_record(peers: Peers, sync_database: Any) -> None:
    seed_source(peers, 5)
    peers.source.records[3]["name"] = None
    sync = make_sync(peers, sync_database, transform=lambda c: {"name": c["name"].upper()})
    counts = run_sync(sync)
    assert (counts.created, counts.quarantined) == (4, 1)
    with sync_database.session() as session:
        (issue,) = list_sync_issues(session, "customers")
    assert issue.source_id == "3" and "AttributeError" in issue.detail["errors"][0]["detail"]


def test_429_and_503_are_retried_honouring_retry_after(peers: Peers, sync_database: Any) -> None:
    seed_source(peers, 3)
    sleeps: list[float] = []
    sync = make_sync(peers, sync_database, sleeps=sleeps, atomic=False, concurrency=1)
    peers.target.fail_next = [(429, "2"), (503, None)]
    counts = run_sync(sync)
    assert counts.created == 3 and len(peers.customers()) == 3
    assert sleeps[0] == 2.0 and len(sleeps) == 2


def test_a_5xx_after_a_post_stops_the_run_and_the_next_run_adopts_instead_of_duplicating(
        peers: Peers, sync_database: Any) -> None:
    from interlink.flows import TargetError

    seed_source(peers, 4)
    sync = make_sync(peers, sync_database, atomic=False, concurrency=1)
    assert run_sync(sync).created == 4
    # A create the target made although our run never learnt it: it is in flight in the id map.
    peers.source.put(5, "Customer 5", T0 + dt.timedelta(seconds=60))
    peers.target.fail_next = [(500, None)]
    with pytest.raises(TargetError):
        run_sync(sync)
    assert len(peers.customers()) == 4
    with sync_database.session() as session:
        assert load_sync_links(session, "customers", ["5"])["5"].target_id is None
    # Simulate the lost answer: the record exists at the target with its externalId.
    peers.target.all("customers")["999"] = {"name": "Customer 5", "externalId": "5", "updatedAt": "x"}
    counts = run_sync(sync)
    assert counts.adopted == 1 and counts.created == 0
    assert [c["externalId"] for c in peers.customers()].count("5") == 1
    with sync_database.session() as session:
        assert load_sync_links(session, "customers", ["5"])["5"].target_id == "999"


@pytest.mark.parametrize("on_deleted", ["recreate", "report"])
def test_a_record_deleted_at_the_target(peers: Peers, sync_database: Any, on_deleted: str) -> None:
    seed_source(peers, 3)
    sync = make_sync(peers, sync_database, on_deleted=on_deleted, atomic=False)
    run_sync(sync)
    with sync_database.session() as session:
        target_id = load_sync_links(session, "customers", ["2"])["2"].target_id
    del peers.target.all("customers")[target_id]
    peers.source.put(2, "Customer two", T0 + dt.timedelta(seconds=90))
    counts = run_sync(sync)
    names = [c["name"] for c in peers.customers()]
    with sync_database.session() as session:
        issues = list_sync_issues(session, "customers", "deleted")
    if on_deleted == "recreate":
        assert counts.created == 1 and "Customer two" in names and not issues
    else:
        assert counts.deleted == 1 and "Customer two" not in names and [i.source_id for i in issues] == ["2"]


@pytest.mark.parametrize("rule", ["source_wins", "target_wins", "manual", "newest"])
def test_conflict_rules_when_both_sides_changed(peers: Peers, sync_database: Any, rule: str) -> None:
    seed_source(peers, 3)
    sync = make_sync(peers, sync_database, conflict=rule, updated="updatedAt", atomic=False)
    run_sync(sync)
    with sync_database.session() as session:
        target_id = load_sync_links(session, "customers", ["1"])["1"].target_id
    row = peers.target.all("customers")[target_id]
    row["name"] = "Edited at the target"
    row["updatedAt"] = (T0 + dt.timedelta(days=1)).isoformat()  # newer than the source's change below
    peers.source.put(1, "Edited at the source", T0 + dt.timedelta(hours=1))
    counts = run_sync(sync)
    name = peers.target.all("customers")[target_id]["name"]
    with sync_database.session() as session:
        conflicts = list_sync_issues(session, "customers", "conflict")
    if rule == "source_wins":
        assert name == "Edited at the source" and counts.updated == 1
    elif rule in ("target_wins", "newest"):
        assert name == "Edited at the target" and counts.kept_target == 1 and counts.updated == 0
    else:
        assert name == "Edited at the target" and counts.conflicts == 1
        (issue,) = conflicts
        assert issue.detail["source"]["name"] == "Edited at the source"
        assert issue.detail["target"]["name"] == "Edited at the target"
    # The next run writes nothing either way; a manual conflict stays open, listed once.
    peers.target.reset_counts()
    run_sync(sync)
    assert writes(peers) == 0
    with sync_database.session() as session:
        assert len(list_sync_issues(session, "customers", "conflict")) == (1 if rule == "manual" else 0)


def test_a_target_without_a_token_is_refused_and_the_run_stops_with_the_cursor_unmoved(
        peers: Peers, sync_database: Any) -> None:
    from interlink.flows import TargetError

    seed_source(peers, 3)
    sync = make_sync(peers, sync_database, atomic=False)
    sync.target.client = APIClient(peers.target_url)  # no auth
    with pytest.raises(TargetError, match="401"):
        run_sync(sync)
    with sync_database.session() as session:
        assert get_sync_state(session, "customers").cursor is None


def test_sync_state_on_every_database_backend(peers: Peers, database: Any) -> None:
    """The id map, cursor and issues on SQLite and (with INTERLINK_TEST_POSTGRES_URL) PostgreSQL."""
    seed_source(peers, 30)
    peers.source.put(7, "", T0 + dt.timedelta(seconds=7))
    sync = make_sync(peers, database, page_size=10)
    first = run_sync(sync)
    assert (first.created, first.quarantined) == (29, 1)
    peers.source.put(7, "Customer seven", T0 + dt.timedelta(minutes=5))
    peers.source.put(8, "Customer eight", T0 + dt.timedelta(minutes=5))
    second = run_sync(sync)
    assert (second.created, second.updated) == (1, 1)
    with database.session() as session:
        assert len(load_sync_links(session, "customers", [str(i) for i in range(1, 31)])) == 30
        assert list_sync_issues(session, "customers") == []
        assert get_sync_state(session, "customers").cursor == {"value": peers.source.records[8]["updated_at"]}
    assert len(peers.customers()) == 30
