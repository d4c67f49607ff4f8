"""Settling what a sync run left open, against the real peers (JSON:API target behind tokens from
oidc-provider, paged REST source): ``interlink sync conflicts --resolve ID --keep source|target``
and ``interlink sync retry NAME``. No Prefect here: neither command runs a flow.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from click.testing import CliRunner

from flows_peers import Peers, peers, sync_database  # noqa: F401
from test_flows import T0, make_sync, seed_source, writes

pytestmark = pytest.mark.flows


@pytest.fixture
def cli(sync_database: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Run ``interlink --database <the test's store> ...`` with the test's sync declared."""
    from interlink.cli import main
    from interlink.flows import _sync

    runner = CliRunner()
    url = str(sync_database.engine.url.render_as_string(hide_password=False))

    def invoke(*args: str, sync: Any = None) -> Any:
        if sync is not None:
            monkeypatch.setitem(_sync._REGISTRY, sync.name, sync)
        return runner.invoke(main, ["--database", url, *args])

    return invoke


def _conflict(peers: Peers, sync_database: Any) -> tuple[Any, str, int]:
    """A manual conflict on record 1: changed at both sides since the last run."""
    from interlink.flows import run_sync
    from interlink.store import list_sync_issues, load_sync_links

    seed_source(peers, 3)
    sync = make_sync(peers, sync_database, conflict="manual", atomic=False)
    run_sync(sync)
    with sync_database.session() as session:
        target_id = load_sync_links(session, "customers", ["1"])["1"].target_id
    peers.target.all("customers")[target_id]["name"] = "Edited at the target"
    peers.source.put(1, "Edited at the source", T0 + dt.timedelta(hours=1))
    assert run_sync(sync).conflicts == 1
    with sync_database.session() as session:
        (issue,) = list_sync_issues(session, "customers", "conflict")
        issue_id = issue.id
    return sync, target_id, issue_id


@pytest.mark.parametrize("keep", ["source", "target"])
def test_resolving_a_manual_conflict_applies_the_chosen_side_and_records_it(
        peers: Peers, sync_database: Any, cli: Any, keep: str) -> None:
    from interlink.flows import run_sync
    from interlink.store import list_sync_issues

    sync, target_id, issue_id = _conflict(peers, sync_database)
    listed = cli("sync", "conflicts", "customers", "--kind", "conflict")
    assert listed.exit_code == 0 and str(issue_id) in listed.output

    peers.target.reset_counts()
    result = cli("sync", "conflicts", "--resolve", str(issue_id), "--keep", keep, sync=sync)
    assert result.exit_code == 0, result.output
    assert "resolved" in result.output and keep in result.output and target_id in result.output
    name = peers.target.all("customers")[target_id]["name"]
    if keep == "source":
        assert name == "Edited at the source" and writes(peers) == 1
    else:
        assert name == "Edited at the target" and writes(peers) == 0

    with sync_database.session() as session:
        assert list_sync_issues(session, "customers", "conflict") == []
        (closed,) = list_sync_issues(session, "customers", "conflict", include_resolved=True)
        assert closed.detail["resolution"]["keep"] == keep
        assert closed.detail["resolution"]["action"] == ("updated" if keep == "source" else "kept")

    # Settled: the next run neither writes nor raises the conflict again...
    peers.target.reset_counts()
    peers.source.put(1, "Edited at the source", T0 + dt.timedelta(hours=1))  # same version read again
    counts = run_sync(sync)
    assert writes(peers) == 0 and counts.conflicts == 0
    # ...and the issue cannot be resolved twice.
    again = cli("sync", "conflicts", "--resolve", str(issue_id), "--keep", keep, sync=sync)
    assert again.exit_code == 1 and f"no open sync issue {issue_id}" in again.output


def test_keep_source_recreates_a_record_deleted_at_the_target(peers: Peers, sync_database: Any, cli: Any) -> None:
    from interlink.flows import run_sync
    from interlink.store import list_sync_issues

    seed_source(peers, 2)
    sync = make_sync(peers, sync_database, on_deleted="report", atomic=False)
    run_sync(sync)
    store = peers.target.all("customers")
    gone = next(i for i, c in store.items() if c["externalId"] == "2")
    del store[gone]
    peers.source.put(2, "Customer two", T0 + dt.timedelta(hours=1))
    assert run_sync(sync).deleted == 1
    with sync_database.session() as session:
        (issue,) = list_sync_issues(session, "customers", "deleted")

    result = cli("sync", "conflicts", "customers", "--resolve", str(issue.id), "--keep", "source", sync=sync)
    assert result.exit_code == 0, result.output
    assert "created" in result.output
    assert sorted(c["name"] for c in peers.customers()) == ["Customer 1", "Customer two"]
    peers.target.reset_counts()
    run_sync(sync)
    assert writes(peers) == 0


def test_resolve_refuses_what_it_cannot_do(peers: Peers, sync_database: Any, cli: Any) -> None:
    from interlink.flows import run_sync
    from interlink.store import list_sync_issues

    seed_source(peers, 2)
    peers.source.put(2, "", T0 + dt.timedelta(seconds=2))  # the target refuses an empty name: 422
    sync = make_sync(peers, sync_database, atomic=False)
    run_sync(sync)
    with sync_database.session() as session:
        (quarantined,) = list_sync_issues(session, "customers", "quarantine")
    # Quarantined records are retried, not resolved by choosing a side.
    refused = cli("sync", "conflicts", "--resolve", str(quarantined.id), "--keep", "source", sync=sync)
    assert refused.exit_code == 1 and "sync retry" in refused.output
    # An unknown id, an id of another sync, and an undeclared sync: exit 1.
    assert cli("sync", "conflicts", "--resolve", "999", "--keep", "source").exit_code == 1
    other = cli("sync", "conflicts", "orders", "--resolve", str(quarantined.id), "--keep", "source")
    assert other.exit_code == 1 and "for sync 'orders'" in other.output
    # A wrong command line: exit 2.
    assert cli("sync", "conflicts", "--resolve", "1").exit_code == 2
    assert cli("sync", "conflicts", "--keep", "source").exit_code == 2
    assert cli("sync", "conflicts", "--resolve", "1", "--keep", "both").exit_code == 2
    assert cli("sync", "conflicts", "--resolve", "0", "--keep", "source").exit_code == 2


def test_retry_sends_quarantined_records_again(peers: Peers, sync_database: Any, cli: Any) -> None:
    from interlink.flows import run_sync
    from interlink.store import list_sync_issues

    seed_source(peers, 4)
    peers.source.put(2, "", T0 + dt.timedelta(seconds=2))  # refused by the target: 422
    peers.source.put(3, "boom", T0 + dt.timedelta(seconds=3))  # refused by the transform

    def strict(c: dict[str, Any]) -> dict[str, Any]:
        if c["name"] == "boom":
            raise ValueError("no boom")
        return {"name": c["name"]}

    sync = make_sync(peers, sync_database, transform=strict, atomic=False)
    counts = run_sync(sync)
    assert (counts.created, counts.quarantined) == (2, 2)

    # Nothing fixed yet: both are refused again, still quarantined, exit 1, no duplicates.
    still = cli("sync", "retry", "customers", sync=sync)
    assert still.exit_code == 1 and "2 records still quarantined" in still.output
    with sync_database.session() as session:
        issues = list_sync_issues(session, "customers", "quarantine")
        assert sorted(i.source_id for i in issues) == ["2", "3"]
        assert len(list_sync_issues(session, "customers", "quarantine", include_resolved=True)) == 4

    # The transform fixed (a default for empty names, boom allowed): both go through.
    fixed = make_sync(peers, sync_database, transform=lambda c: {"name": c["name"] or "(unnamed)"}, atomic=False)
    done = cli("sync", "retry", "customers", sync=fixed)
    assert done.exit_code == 0, done.output
    assert "retried 2 quarantined records" in done.output
    assert sorted(c["name"] for c in peers.customers()) == ["(unnamed)", "Customer 1", "Customer 4", "boom"]
    listing = cli("sync", "conflicts", "customers", "--json")
    assert listing.exit_code == 0 and listing.output.strip() == ""

    # Nothing left: a retry is a no-op, and the next run skips them.
    assert cli("sync", "retry", "customers", sync=fixed).exit_code == 0
    peers.target.reset_counts()
    run_sync(fixed)
    assert writes(peers) == 0


def test_retry_of_an_unknown_sync_exits_1(cli: Any) -> None:
    result = cli("sync", "retry", "no-such-sync")
    assert result.exit_code == 1 and "no sync named 'no-such-sync'" in result.output
