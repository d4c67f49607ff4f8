"""interlink.flows against JSON:API targets nobody here wrote: Django REST framework JSON:API at
its stock settings and with its documented formatting options (tests/drf_jsonapi_peer/, under
gunicorn), beside the project's own peer and a target that misbehaves on purpose.

What is pinned: ``JsonApiTarget(path=..., filter=...)`` reach such a target; a takeover lookup
whose answer does not match its filter never leads to a create (the filter is probed once per
run, rows are checked against it, and the run stops with a message naming the option); a
configuration error (refused credentials, no collection, a type conflict, the same error for
every record of a batch) stops the run with one message, quarantines nothing, and the run is
recorded as failed.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from flows_peers import (  # noqa: F401
    DrfPeer,
    MisbehavingTarget,
    drf_peer,
    drf_server,
    misbehaving_target_app,
    rest_source,
    serving,
    sync_database,
)
from interlink.flows import JsonApiTarget, RestSource, Sync, TargetError, run_sync
from interlink.http import APIClient
from interlink.store import get_sync_state, list_sync_issues, load_sync_links, save_sync_links

T0 = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
IN_LOOKUP = "filter[{field}.in]"  # DRF JSON:API's spelling of a lookup of several values


def seed(source: Any, count: int, start: int = 1) -> None:
    for i in range(start, start + count):
        source.put(i, f"Customer {i}", T0 + dt.timedelta(seconds=i))


def drf_sync(drf: DrfPeer, source_url: str, database: Any, transform: Any = None, **target: Any) -> Sync:
    options: dict[str, Any] = {"type": drf.type, "path": "/customers", "filter": IN_LOOKUP, "match": drf.match}
    options.update(target)
    return Sync("drf", source=RestSource(APIClient(source_url), "api/customers", id="id", cursor="updated_at",
                                         page_size=20),
                transform=transform or (lambda c: {"name": c["name"]}),
                target=JsonApiTarget(options.pop("client", None) or drf.client(), **options),
                database=database, register=False)


def failed(database: Any, name: str = "drf") -> str:
    with database.session() as session:
        state = get_sync_state(session, name)
        assert state is not None and state.last_finished_at is not None
        return str((state.last_counts or {}).get("failed", ""))


def quarantined(database: Any, name: str = "drf") -> list[Any]:
    with database.session() as session:
        return list_sync_issues(session, name, "quarantine")


# -- the stock DRF JSON:API target ------------------------------------------------------------
def test_a_drf_jsonapi_target_is_synced_with_path_and_filter(drf_peer: DrfPeer, rest_source: Any,
                                                             sync_database: Any) -> None:
    source, source_url = rest_source
    seed(source, 45)
    sync = drf_sync(drf_peer, source_url, sync_database)
    first = run_sync(sync)
    assert (first.read, first.created, first.quarantined) == (45, 45, 0)
    rows = drf_peer.customers()
    assert sorted(int(r["external_id"]) for r in rows) == list(range(1, 46))
    with sync_database.session() as session:
        links = load_sync_links(session, "drf", [str(i) for i in range(1, 46)])
    assert {link.target_id for link in links.values()} == {r["id"] for r in rows}

    for i in (3, 30):
        source.put(i, f"Customer {i} (renamed)", T0 + dt.timedelta(hours=1))
    again = run_sync(sync)
    assert (again.updated, again.created) == (2, 0)
    names = {r["external_id"]: r["name"] for r in drf_peer.customers()}
    assert names["3"] == "Customer 3 (renamed)" and names["30"] == "Customer 30 (renamed)" and len(names) == 45


@pytest.mark.parametrize("spelling", [IN_LOOKUP, "filter[{field}]"], ids=["in-lookup", "default-filter"])
def test_conflict_reads_against_drf_use_the_filter_or_one_get_per_record(
        drf_peer: DrfPeer, rest_source: Any, sync_database: Any, spelling: str) -> None:
    source, source_url = rest_source
    seed(source, 6)
    updated = "updatedAt" if drf_peer.formatting == "camelize" else "updated_at"
    sync = drf_sync(drf_peer, source_url, sync_database, filter=spelling, updated=updated)
    sync.conflict = "manual"
    run_sync(sync)
    with sync_database.session() as session:
        links = load_sync_links(session, "drf", ["2", "4"])
    # Record 2 edited on both sides (a conflict), record 4 deleted at the target (created again).
    drf_peer.sql("UPDATE drf_jsonapi_peer_customer SET name = 'edited at the target' WHERE id = ?",
                 int(links["2"].target_id or 0))
    drf_peer.sql("DELETE FROM drf_jsonapi_peer_customer WHERE id = ?", int(links["4"].target_id or 0))
    source.put(2, "edited at the source", T0 + dt.timedelta(hours=1))
    source.put(4, "Customer 4 again", T0 + dt.timedelta(hours=1))
    counts = run_sync(sync)
    assert (counts.conflicts, counts.created) == (1, 1)
    rows = drf_peer.customers()
    assert [r["name"] for r in rows if r["external_id"] == "2"] == ["edited at the target"]
    assert [r["name"] for r in rows if r["external_id"] == "4"] == ["Customer 4 again"]
    # DRF answers filter[id]=1,2 with 400 (it expects one number): the default spelling is
    # probed, found not to work, and the records are read one GET /customers/{id} each.
    assert sync.target._lookups == {"id": spelling == IN_LOOKUP}


# -- the takeover lookup never creates a duplicate --------------------------------------------
def killed_run(drf: DrfPeer, source: Any, database: Any) -> None:
    """A run killed after the target created records 7 to 9 but before their ids were stored:
    the id map holds them in flight, the target holds them with their external ids."""
    seed(source, 9)
    with database.session() as session:
        save_sync_links(session, "drf", [{"source_id": str(i), "target_id": None} for i in (7, 8, 9)])
    for i in range(1, 10):
        drf.insert(f"Customer {i}", str(i))
    with database.session() as session:
        save_sync_links(session, "drf", [
            {"source_id": r["external_id"], "target_id": r["id"], "source_hash": "old", "target_hash": None}
            for r in drf.customers() if int(r["external_id"]) < 7])


def test_a_lookup_the_target_answers_with_no_rows_stops_the_run_instead_of_creating_twice(
        drf_peer: DrfPeer, rest_source: Any, sync_database: Any) -> None:
    source, source_url = rest_source
    killed_run(drf_peer, source, sync_database)
    # The JSON:API recommendation's spelling: DRF JSON:API matches filter[external_id]=7,8,9 as
    # one literal value "7,8,9" and answers 200 with no rows.
    sync = drf_sync(drf_peer, source_url, sync_database, filter="filter[{field}]")
    with pytest.raises(TargetError, match=r"filter\[\{field\}\.in\]") as raised:
        run_sync(sync)
    assert "create them twice" in str(raised.value)
    assert sorted(r["external_id"] for r in drf_peer.customers()) == [str(i) for i in range(1, 10)]
    assert "create them twice" in failed(sync_database) and not quarantined(sync_database)

    # With the target's spelling the same run adopts the three records and creates nothing.
    counts = run_sync(drf_sync(drf_peer, source_url, sync_database))
    assert (counts.adopted, counts.created) == (3, 0)
    assert sorted(r["external_id"] for r in drf_peer.customers()) == [str(i) for i in range(1, 10)]
    with sync_database.session() as session:
        assert all(link.target_id for link in load_sync_links(session, "drf", ["7", "8", "9"]).values())


def test_a_lookup_by_a_field_the_target_cannot_filter_on_stops_the_run(
        drf_peer: DrfPeer, rest_source: Any, sync_database: Any) -> None:
    source, source_url = rest_source
    killed_run(drf_peer, source, sync_database)
    # "email" is an attribute but not a filter of the view (DRF JSON:API: 400 invalid filter).
    sync = drf_sync(drf_peer, source_url, sync_database, match="email")
    with pytest.raises(TargetError, match="cannot say whether they were created"):
        run_sync(sync)
    assert len(drf_peer.customers()) == 9


@pytest.mark.parametrize("filters", ["ignore", "nothing"])
def test_a_target_that_ignores_or_empties_every_filter_never_gets_a_duplicate(
        rest_source: Any, sync_database: Any, filters: str) -> None:
    source, source_url = rest_source
    seed(source, 4)
    target = MisbehavingTarget(filters=filters)
    for i in range(1, 5):  # the killed run's creates, made at the target
        target.next_id += 1
        target.rows[str(target.next_id)] = {"name": f"Customer {i}", "externalId": str(i)}
    with sync_database.session() as session:
        save_sync_links(session, "hostile", [{"source_id": str(i), "target_id": None} for i in range(1, 5)])
    with serving(misbehaving_target_app(target)) as url:
        sync = Sync("hostile", source=RestSource(APIClient(source_url), "api/customers", id="id", cursor="updated_at"),
                    transform=lambda c: {"name": c["name"]},
                    target=JsonApiTarget(APIClient(url), type="customers", match="externalId", atomic=False),
                    database=sync_database, register=False)
        with pytest.raises(TargetError, match="does not apply filter"):
            run_sync(sync)
        posts = [r for r in target.requests if r.startswith("POST")]
    assert posts == [] and len(target.rows) == 4


def test_an_answer_holding_records_not_asked_for_stops_the_run(rest_source: Any, sync_database: Any) -> None:
    # The filter worked when probed, then the target answered a row not asked for (its data
    # changed under the run, or it applies the filter only sometimes): never trusted.
    source, source_url = rest_source
    seed(source, 2)
    target = MisbehavingTarget()
    target.rows["1"] = {"name": "someone else", "externalId": "99"}
    with sync_database.session() as session:
        save_sync_links(session, "hostile", [{"source_id": "1", "target_id": None}])
    with serving(misbehaving_target_app(target)) as url:
        jsonapi = JsonApiTarget(APIClient(url), type="customers", match="externalId", atomic=False)
        jsonapi._lookups["externalId"] = True  # as if probed
        target.filters = "ignore"
        with pytest.raises(TargetError, match="answered record 1 whose externalId is '99'"):
            jsonapi.find(["1", "2"])
    assert not [r for r in target.requests if r.startswith("POST")]


def test_the_project_peer_with_a_spelling_it_does_not_know_stops_and_with_its_own_adopts(
        rest_source: Any, sync_database: Any) -> None:
    source, source_url = rest_source
    seed(source, 3)
    target = MisbehavingTarget()
    target.rows["5"] = {"name": "Customer 3", "externalId": "3"}
    target.rows["6"] = {"name": "Customer 2", "externalId": "2"}
    target.next_id = 6
    with sync_database.session() as session:
        save_sync_links(session, "hostile", [{"source_id": "3", "target_id": None}])
        save_sync_links(session, "hostile", [{"source_id": "2", "target_id": "6", "source_hash": "x"}])

    def sync(spelling: str) -> Sync:
        return Sync("hostile", source=RestSource(APIClient(source_url), "api/customers", id="id", cursor="updated_at"),
                    transform=lambda c: {"name": c["name"]},
                    target=JsonApiTarget(APIClient(url), type="customers", match="externalId", atomic=False,
                                         filter=spelling),
                    database=sync_database, register=False)

    with serving(misbehaving_target_app(target)) as url:
        with pytest.raises(TargetError, match="does not apply filter"):
            run_sync(sync(IN_LOOKUP))
        counts = run_sync(sync("filter[{field}]"))
    assert (counts.adopted, counts.created) == (1, 1)  # 3 adopted, 1 created, 2 updated
    assert sorted(a["externalId"] for a in target.rows.values()) == ["1", "2", "3"]


def test_a_filter_spelling_without_a_field_is_refused() -> None:
    with pytest.raises(ValueError, match="field"):
        JsonApiTarget(None, type="customers", filter="filter[id]")
    assert JsonApiTarget(None, type="Customer", path="/api/{type}s").collection == "/api/Customers"


# -- configuration errors stop the run ----------------------------------------------------------
def config_run(drf: DrfPeer, source_url: str, database: Any, **target: Any) -> TargetError:
    with pytest.raises(TargetError) as raised:
        run_sync(drf_sync(drf, source_url, database, **target))
    assert not quarantined(database) and drf.customers() == []
    with database.session() as session:
        state = get_sync_state(session, "drf")
        assert state is not None and state.cursor is None
        assert not load_sync_links(session, "drf", [str(i) for i in range(1, 13)])  # nothing in flight
    assert failed(database)
    return raised.value


def test_the_collection_name_as_type_is_a_type_conflict_that_stops_the_run(
        drf_peer: DrfPeer, rest_source: Any, sync_database: Any) -> None:
    source, source_url = rest_source
    seed(source, 12)
    wrong = "Customer" if drf_peer.formatting == "camelize" else "customers"
    error = config_run(drf_peer, source_url, sync_database, type=wrong)
    assert "HTTP 409" in str(error) and "JsonApiTarget(type=...)" in str(error)
    assert f"{drf_peer.url}/customers" in str(error)


def test_no_collection_at_the_path_stops_the_run(drf_peer: DrfPeer, rest_source: Any, sync_database: Any) -> None:
    source, source_url = rest_source
    seed(source, 12)
    error = config_run(drf_peer, source_url, sync_database, path="/clients")
    assert "HTTP 404" in str(error) and f"{drf_peer.url}/clients" in str(error) and "path=" in str(error)


def test_refused_credentials_stop_the_run_without_showing_the_token(drf_peer: DrfPeer, rest_source: Any,
                                                                      sync_database: Any) -> None:
    source, source_url = rest_source
    seed(source, 12)
    error = config_run(drf_peer, source_url, sync_database, client=drf_peer.client("not-the-token"))
    assert "HTTP 401" in str(error) and "credentials" in str(error) and drf_peer.url in str(error)
    assert drf_peer.token not in str(error) and "not-the-token" not in str(error)


def test_the_same_error_for_every_record_of_a_batch_stops_the_run(drf_peer: DrfPeer, rest_source: Any,
                                                                   sync_database: Any) -> None:
    source, source_url = rest_source
    seed(source, 12)
    # The transform forgets the required name: DRF refuses every record alike.
    error = config_run(drf_peer, source_url, sync_database, transform=lambda c: {"email": "x@example.com"})
    assert "refused all" in str(error) and "same error" in str(error) and "400" in str(error)


def test_different_errors_in_a_batch_are_still_quarantined_record_by_record(
        drf_peer: DrfPeer, rest_source: Any, sync_database: Any) -> None:
    source, source_url = rest_source
    seed(source, 8)
    source.put(3, "", T0 + dt.timedelta(seconds=3))
    source.put(5, "x" * 300, T0 + dt.timedelta(seconds=5))
    counts = run_sync(drf_sync(drf_peer, source_url, sync_database))
    assert (counts.created, counts.quarantined) == (6, 2)
    assert {i.source_id for i in quarantined(sync_database)} == {"3", "5"}
