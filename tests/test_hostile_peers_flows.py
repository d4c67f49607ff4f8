"""Sync flows against sources and targets that misbehave, each a real server on 127.0.0.1.

What a source or target cannot do to a run: make it buffer a huge answer (peak RSS measured in
a child process), keep it following ``next`` links in a circle or for ever, or make it record
a create the target did not identify (the id ``"None"``, then ``PATCH /customers/None``). Each
test asserts the time it took, what the peer saw and what the store holds afterwards.
"""

from __future__ import annotations

import datetime as dt
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

import hostile_peers
from flows_peers import (
    LoopingSource,
    MisbehavingTarget,
    looping_source_app,
    misbehaving_target_app,
    serving,
    sync_database,  # noqa: F401
)
from interlink.flows import JsonApiTarget, RestSource, SourceError, Sync, TargetError, run_sync
from interlink.flows._sources import MAX_PAGE_BYTES, MAX_PAGES
from interlink.flows._targets import MAX_ANSWER_BYTES, MAX_READ_PAGES
from interlink.http import APIClient, PaginationError, pagination_helper
from interlink.store import get_sync_state, list_sync_issues, load_sync_links, save_sync_links

# A run that followed links for ever would otherwise hold the suite until its global timeout.
pytestmark = pytest.mark.timeout(60)

T0 = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
HUGE = 384 * 1024 * 1024
MiB = 1024 * 1024


def customers(count: int) -> list[dict[str, Any]]:
    return [{"id": i, "name": f"Customer {i}", "updated_at": (T0 + dt.timedelta(seconds=i)).isoformat()}
            for i in range(1, count + 1)]


def make_sync(source_url: str, target_url: str, database: Any, *, source: dict[str, Any] | None = None,
              **target: Any) -> Sync:
    return Sync(
        "hostile",
        source=RestSource(APIClient(source_url), "api/customers", id="id", cursor="updated_at", **(source or {})),
        transform=lambda c: {"name": c["name"]},
        target=JsonApiTarget(APIClient(target_url), type="customers", atomic=False, match="externalId", **target),
        database=database, register=False,
    )


def cursor(database: Any) -> Any:
    with database.session() as session:
        state = get_sync_state(session, "hostile")
        return state.cursor if state else None


def link(database: Any, source_id: str) -> Any:
    with database.session() as session:
        return load_sync_links(session, "hostile", [source_id]).get(source_id)


# -- bounded reads: a run's memory stays flat whatever a peer sends --------------------------------
_RUN_IN_CHILD = """
import time
import httpx
from interlink.flows import JsonApiTarget, RestSource, Sync, run_sync
from interlink.http import APIClient
from interlink.store import Database, get_sync_state, load_sync_links

database = Database({database!r})
database.migrate()
client = (lambda url: httpx.Client(base_url=url)) if {plain!r} else APIClient
sync = Sync("hostile", source=RestSource(client({source!r}), "api/customers", cursor="updated_at"),
            transform=lambda c: {{"name": c["name"]}},
            target=JsonApiTarget(client({target!r}), type="customers", atomic=False, match="externalId"),
            database=database, register=False)
started = time.monotonic()
try:
    run_sync(sync)
    print("ERROR none")
except Exception as error:
    print("ERROR", type(error).__name__, error)
print("SECONDS", time.monotonic() - started)
with database.session() as session:
    state = get_sync_state(session, "hostile")
    print("CURSOR", state.cursor if state else None)
    print("LINKS", {{k: v.target_id for k, v in load_sync_links(session, "hostile", ["1"]).items()}})
"""


def run_in_child(source: str, target: str, database: str, plain: bool = False) -> tuple[dict[str, str], int]:
    """A run in a child process (with plain ``httpx.Client`` clients if ``plain``): what it
    printed, and its peak RSS."""
    code = textwrap.dedent(_RUN_IN_CHILD).format(source=source, target=target, database=database, plain=plain)
    out, peak = hostile_peers.peak_rss_of(code, timeout=120)
    lines = dict(line.split(" ", 1) for line in out.strip().splitlines() if " " in line)
    return lines, peak


@pytest.mark.parametrize("peer", ["content-length", "chunked", "gzip-bomb", "chunked-plain-httpx"])
def test_a_huge_source_page_is_refused_before_it_is_buffered(tmp_path: Path, peer: str) -> None:
    # The last: a source read with a plain httpx.Client, whose transport knows no bound; the
    # flows count what they read themselves.
    serve = (hostile_peers.gzip_bomb(256 * MiB) if peer == "gzip-bomb"
             else hostile_peers.huge_body(HUGE, declare_length=peer == "content-length"))
    with serve as source:
        started = time.monotonic()
        out, peak = run_in_child(source, "http://127.0.0.1:9/", f"sqlite:///{tmp_path / 'state.db'}",
                                 plain=peer.endswith("plain-httpx"))
        seconds = time.monotonic() - started
    assert peak < 200 * MiB, f"peak RSS {peak / MiB:.0f} MiB for a {HUGE // MiB} MiB page"
    assert out["ERROR"].startswith("SourceError"), out
    assert f"{source}api/customers" in out["ERROR"] and str(MAX_PAGE_BYTES) in out["ERROR"]
    assert "max_page_bytes" in out["ERROR"]
    assert seconds < 60
    assert out["CURSOR"] == "None" and out["LINKS"] == "{}"  # nothing read, nothing recorded


@pytest.mark.parametrize("peer", ["content-length", "chunked", "chunked-plain-httpx"])
def test_a_huge_answer_to_a_create_is_refused_before_it_is_buffered(tmp_path: Path, peer: str) -> None:
    with serving(looping_source_app(LoopingSource("single", customers(1)))) as source, \
            hostile_peers.huge_body(HUGE, declare_length=peer == "content-length", status=201) as target:
        started = time.monotonic()
        out, peak = run_in_child(source + "/", target, f"sqlite:///{tmp_path / 'state.db'}",
                                 plain=peer.endswith("plain-httpx"))
        seconds = time.monotonic() - started
        posts = [r for r in target.requests_seen if r.startswith(b"POST /customers ")]
    assert peak < 200 * MiB, f"peak RSS {peak / MiB:.0f} MiB for a {HUGE // MiB} MiB answer"
    assert out["ERROR"].startswith("TargetError"), out
    assert f"POST {target}customers" in out["ERROR"] and str(MAX_ANSWER_BYTES) in out["ERROR"]
    assert seconds < 60 and len(posts) == 1
    # The store is consistent: the create is in flight (adopted by match on the next run), the
    # cursor was not moved past the page.
    assert out["CURSOR"] == "None" and out["LINKS"] == "{'1': None}"


# -- link cycles: next links are followed once each, and not for ever ------------------------------
def test_a_source_whose_next_links_go_round_in_a_circle_stops_the_run(sync_database: Any) -> None:
    source_state, target_state = LoopingSource("circle", customers(3)), MisbehavingTarget()
    with serving(looping_source_app(source_state)) as source, serving(misbehaving_target_app(target_state)) as target:
        sync = make_sync(source, target, sync_database)
        started = time.monotonic()
        with pytest.raises(SourceError, match="circle") as raised:
            run_sync(sync)
        seconds = time.monotonic() - started
    assert seconds < 10 and len(source_state.requests) == 3  # page 1, page 2, page 1 again: stop
    assert f"{source}/api/customers?" in str(raised.value) and "page=2 was already read" in str(raised.value)
    # The pages read before the circle are committed once, and the cursor is after them.
    assert sorted(r["externalId"] for r in target_state.rows.values()) == ["1", "2", "3"]
    assert cursor(sync_database) == {"value": customers(3)[-1]["updated_at"]}


def test_a_source_whose_next_links_never_end_stops_at_max_pages(sync_database: Any) -> None:
    assert RestSource(None, "x").max_pages == MAX_PAGES == 100_000  # the documented default
    source_state, target_state = LoopingSource("endless", customers(2)), MisbehavingTarget()
    with serving(looping_source_app(source_state)) as source, serving(misbehaving_target_app(target_state)) as target:
        sync = make_sync(source, target, sync_database, source={"max_pages": 5})
        started = time.monotonic()
        with pytest.raises(SourceError, match="after 5 pages") as raised:
            run_sync(sync)
    assert time.monotonic() - started < 10 and len(source_state.requests) == 5
    assert "page=6" in str(raised.value)
    assert len(target_state.rows) == 2 and cursor(sync_database) == {"value": customers(2)[-1]["updated_at"]}


@pytest.mark.parametrize("links", ["circle", "endless"])
def test_a_target_whose_links_next_misbehave_stops_the_run_with_the_store_unchanged(
        sync_database: Any, links: str) -> None:
    # A create left in flight by an earlier run: this run looks it up by match, a paged read.
    with sync_database.session() as session:
        save_sync_links(session, "hostile", [{"source_id": "1", "target_id": None}])
    source_state, target_state = LoopingSource("single", customers(1)), MisbehavingTarget(links=links)
    with serving(looping_source_app(source_state)) as source, serving(misbehaving_target_app(target_state)) as target:
        sync = make_sync(source, target, sync_database, max_pages=5)
        started = time.monotonic()
        with pytest.raises(TargetError, match="circle" if links == "circle" else "after 5 pages") as raised:
            run_sync(sync)
    gets = [r for r in target_state.requests if r.startswith("GET ")]
    assert time.monotonic() - started < 10
    # One first-page read of the collection (the lookup's probe: the target holds no record, so
    # the lookup is used as it is), then the lookup's pages until the loop is seen.
    assert gets[0].endswith("?page%5Bsize%5D=50")
    assert len(gets) == (4 if links == "circle" else 6) and len(gets) == len(target_state.requests)
    assert f"{target}/customers?page%5Bnumber%5D=" in str(raised.value)
    assert link(sync_database, "1").target_id is None and cursor(sync_database) is None
    assert JsonApiTarget(None, type="customers").max_pages == MAX_READ_PAGES == 1_000


def test_pagination_helper_stops_at_a_circle_and_at_max_pages() -> None:
    circle, endless = LoopingSource("circle", customers(1)), LoopingSource("endless", customers(1))
    with serving(looping_source_app(circle)) as url:
        client = APIClient(url)
        started = time.monotonic()
        with pytest.raises(PaginationError, match="already followed") as raised:
            list(pagination_helper(client, client.get("api/customers").json()))
        assert time.monotonic() - started < 10 and len(circle.requests) == 3
        assert "api/customers?page=2" in str(raised.value)
    with serving(looping_source_app(endless)) as url:
        client = APIClient(url)
        with pytest.raises(PaginationError, match="after 5 pages") as raised:
            list(pagination_helper(client, client.get("api/customers").json(), max_pages=5))
        assert len(endless.requests) == 1 + 5 and "page=7" in str(raised.value)


# -- creates the target does not identify ----------------------------------------------------------
@pytest.mark.parametrize(("answer", "kept"), [
    ("no-id", '"type": "customers"'),
    ("wrong-type", '"type": "orders"'),
    ("not-json", "<html>Created, thank you</html>"),
])
def test_a_create_answered_without_a_usable_id_is_quarantined_and_adopted_next_run(
        sync_database: Any, answer: str, kept: str) -> None:
    source_state, target_state = LoopingSource("single", customers(2)), MisbehavingTarget(create=answer)
    with serving(looping_source_app(source_state)) as source, serving(misbehaving_target_app(target_state)) as target:
        sync = make_sync(source, target, sync_database)
        started = time.monotonic()
        first = run_sync(sync)
        assert (first.created, first.quarantined) == (0, 2)
        with sync_database.session() as session:
            issues = {i.source_id: i.detail for i in list_sync_issues(session, "hostile", "quarantine")}
        assert set(issues) == {"1", "2"}
        assert kept in issues["1"]["answer"] and issues["1"]["status"] == 201
        assert "nothing was recorded as written" in issues["1"]["errors"][0]["detail"]
        # Never the id "None": the creates stay in flight, since the target said it made them.
        assert link(sync_database, "1").target_id is None and link(sync_database, "2").target_id is None

        # The next run finds the records by match and adopts them: no PATCH /customers/None,
        # no second POST, no duplicates; the issues are settled.
        target_state.requests.clear()
        second = run_sync(sync)
        assert time.monotonic() - started < 20
    assert (second.adopted, second.created, second.quarantined) == (2, 0, 0)
    assert not any("None" in r or r.startswith(("POST", "PATCH")) for r in target_state.requests)
    assert sorted(r["externalId"] for r in target_state.rows.values()) == ["1", "2"]
    assert {link(sync_database, s).target_id for s in ("1", "2")} == {"1", "2"}
    with sync_database.session() as session:
        assert list_sync_issues(session, "hostile") == []
