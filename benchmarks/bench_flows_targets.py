"""Sync flows at 20,000 records, each against the target's own ceiling: the project's JSON:API
server and a JSON:API server nobody here wrote, Django REST framework JSON:API at its stock
settings.

Peers, each measured in this run: the paged REST source and the project's JSON:API target of
``tests/peers/jsonapi_peer.py`` (uvicorn, one process for both; the target checks every bearer
token against the OpenID provider's keys and offers Atomic Operations), Django REST framework
JSON:API (``tests/drf_jsonapi_peer/``: Django on SQLite in WAL mode, one gunicorn worker with 8
threads, a bearer token checked per request, no Atomic Operations), and the OpenID provider
(oidc-provider under Node) issuing client-credentials tokens.

* **hand-written pattern** (against each target, on ``BENCH_TARGETS_HAND`` records, 2,000, and
  a quarter of that: its cost is a token request and a new connection per record, so its rate
  does not change with the records): per record a new token from the provider (``requests``,
  client secret in the body) and one POST on a new connection. The project's server checks that
  token; DRF checks its own token, not the provider's: there the pattern's cost is the fetching.
* **the target's ceiling**: a hand-tuned loader with what interlink has and nothing else: one
  token, keep-alive connections, the source read page by page (200) with the next page read
  while one is written (as interlink reads ahead), and the same batching and
  concurrency as interlink: Atomic Operations batches of 100, one at a time, where the target
  offers them (the project's server), else 8 single POSTs in flight (DRF JSON:API); no
  bookkeeping.
* **interlink.flows**: ``Sync.run()`` in one long-lived process (as a worker serving a
  deployment, or a program on a schedule, runs it), its store migrated beforehand (as
  ``interlink migrate`` leaves it), on a Prefect server started beforehand: the
  first run of ``BENCH_TARGETS_RECORDS`` records (20,000), then re-runs after 0.1%, 1% and 10% of
  the source records changed; Prefect alone (an empty async flow run) in the same process.

``BENCH_TARGETS_ONLY=peer`` (or ``drf``) measures one target only, for trying a change.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from benchmarks.bench_flows import JSONAPI, ROOT, _control, _prefect_floor, _tests, peer_process, prefect_server

RECORDS = int(os.environ.get("BENCH_TARGETS_RECORDS", "20000"))
HAND = int(os.environ.get("BENCH_TARGETS_HAND", "2000"))
SHARES = (0.001, 0.01, 0.1)
CONCURRENCY = 8
BATCH = 100
SERVICE = {"client_id": "svc-post", "client_secret": "svc-post-secret", "scope": "api"}


def _customers(source: str, limit: int) -> list[dict]:
    import httpx

    found, url = [], f"{source}/api/customers?page_size=1000"
    with httpx.Client(timeout=60) as client:
        while url and len(found) < limit:
            body = client.get(url).json()
            found.extend(body["results"])
            url = body["next"]
    return found[:limit]


def hand_written(source: str, target: str, issuer: str, token: str | None, records: int) -> float:
    """Per record: a new token from the provider and one POST on a new connection. ``token``:
    the target's own token (DRF JSON:API checks its own, not the provider's; the pattern's cost
    is the fetching), or ``None`` for the project's server, which checks the fetched token."""
    import requests

    drf = token is not None
    start = time.perf_counter()
    for customer in _customers(source, records):
        answer = requests.post(f"{issuer}/token", data={"grant_type": "client_credentials", **SERVICE})
        fetched = answer.json()["access_token"]
        response = requests.post(
            f"{target}/customers", headers={"Content-Type": JSONAPI, "Authorization": f"Bearer {token or fetched}"},
            data=json.dumps({"data": {"type": "Customer" if drf else "customers", "attributes": {
                "name": customer["name"], "external_id" if drf else "externalId": str(customer["id"])}}}))
        response.raise_for_status()
    return time.perf_counter() - start


def ceiling(source: str, target: str, token: str, atomic: bool) -> tuple[float, float]:
    """The target's own ceiling: one token, keep-alive, interlink's batching, no bookkeeping.
    Its seconds, and the CPU time the loader itself used."""
    import httpx

    local = threading.local()
    headers = {"Accept": JSONAPI, "Authorization": f"Bearer {token}"}

    def client() -> httpx.Client:
        if not hasattr(local, "client"):
            local.client = httpx.Client(base_url=target, headers=headers, timeout=60)
        return local.client

    def post(customer: dict) -> None:  # DRF JSON:API: type Customer, attribute external_id
        body = {"data": {"type": "Customer", "attributes": {"name": customer["name"],
                                                            "external_id": str(customer["id"])}}}
        client().post("/customers", content=json.dumps(body),
                      headers={"Content-Type": JSONAPI}).raise_for_status()

    def batch(customers: list[dict]) -> None:  # the project's server: one atomic request per 100
        ops = [{"op": "add", "data": {"type": "customers", "attributes": {
            "name": c["name"], "externalId": str(c["id"])}}} for c in customers]
        client().post("/operations", content=json.dumps({"atomic:operations": ops}), headers={
            "Content-Type": f'{JSONAPI}; ext="https://jsonapi.org/ext/atomic"'}).raise_for_status()

    def pages(reader: httpx.Client) -> Any:
        url: str | None = f"{source}/api/customers?page_size=200"
        while url:
            body = reader.get(url).json()
            yield body["results"]
            url = body["next"]

    start, cpu = time.perf_counter(), time.process_time()
    with httpx.Client(timeout=60) as reader, ThreadPoolExecutor(CONCURRENCY) as pool, \
            ThreadPoolExecutor(1) as ahead:
        # The next page is read while this one is written, as interlink reads ahead.
        source_pages = pages(reader)
        upcoming = ahead.submit(next, source_pages, None)
        while (results := upcoming.result()) is not None:
            upcoming = ahead.submit(next, source_pages, None)
            if atomic:
                for first in range(0, len(results), BATCH):
                    batch(results[first:first + BATCH])
            else:
                list(pool.map(post, results))
    return time.perf_counter() - start, time.process_time() - cpu


def _token(issuer: str) -> str:
    import httpx

    answer = httpx.post(f"{issuer}/token", data={"grant_type": "client_credentials", **SERVICE}, timeout=60)
    return str(answer.json()["access_token"])


def _touch_ids(share: float, offset: int) -> list[int]:
    count = max(1, round(RECORDS * share))
    step = RECORDS // count
    return [1 + offset + i * step for i in range(count)]


def child(kind: str, source: str, target: str, secret: str, database: str) -> dict:
    """A long-lived process running the sync again and again, as a served deployment's worker.
    ``kind``: ``drf`` (``secret`` is its token) or ``peer`` (``secret`` is the token issuer)."""
    from types import SimpleNamespace

    import httpx
    import prefect  # noqa: F401 - imported before the clock starts, as a worker has it

    from interlink.flows import JsonApiTarget, RestSource, Sync
    from interlink.http import APIClient, BearerAuth, build_client

    if kind == "drf":
        jsonapi = JsonApiTarget(APIClient(target, {"auth": BearerAuth(secret)}), type="Customer", path="/customers",
                                filter="filter[{field}.in]", match="external_id")
    else:
        service = SimpleNamespace(base_url=target, auth_type="oauth2_client_credentials", token_url=f"{secret}/token",
                                  secret=SERVICE["client_secret"], client_auth_method="client_secret_post",
                                  client_id=SERVICE["client_id"], scope=SERVICE["scope"])
        jsonapi = JsonApiTarget(build_client(service), type="customers", match="externalId")
    sync = Sync("customers", source=RestSource(APIClient(source), "api/customers", id="id", cursor="updated_at"),
                transform=lambda c: {"name": c["name"]}, target=jsonapi, database=database)
    # Prefect alone first: it also warms this process's Prefect client, as a worker's earlier runs have.
    floor = _prefect_floor()
    # The store exists and is migrated before the clock starts, as `interlink migrate` leaves it at
    # deployment (migrating a new SQLite file takes about 0.3 s, once per database, not per run).
    from interlink.flows import store_of

    store_of(sync)
    runs = []
    start, cpu = time.perf_counter(), time.process_time()  # CPU time: all of this process's threads
    counts = sync.run(progress=False)
    runs.append({"share": 0.0, "seconds": time.perf_counter() - start, "counts": counts.as_dict(),
                 "cpu": time.process_time() - cpu})
    for offset, share in enumerate(SHARES):
        httpx.post(f"{source}/_test/touch", json={"ids": _touch_ids(share, offset)}, timeout=60).raise_for_status()
        start = time.perf_counter()
        counts = sync.run(progress=False)
        runs.append({"share": share, "seconds": time.perf_counter() - start, "counts": counts.as_dict()})
    # The same 1% re-run without Prefect (the engine's run_sync, as Sync.run() calls it inside
    # its flow): what of the re-run is interlink's and what is Prefect's flow, task and artifact.
    from interlink.flows._engine import run_sync

    httpx.post(f"{source}/_test/touch", json={"ids": _touch_ids(0.01, len(SHARES))}, timeout=60).raise_for_status()
    start = time.perf_counter()
    run_sync(sync)
    return {"runs": runs, "floor": floor, "engine_rerun": time.perf_counter() - start}


def _served(kind: str, source: str, target: str, secret: str, database: str, env: dict[str, str]) -> dict:
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_flows_targets", "child", kind, source, target, secret, database],
        cwd=ROOT, env={**os.environ, **env}, capture_output=True, text=True, timeout=3600)
    if result.returncode != 0:
        raise RuntimeError(f"the sync's process failed: {result.stderr[-3000:]}")
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


def _count(target: str) -> int:
    import httpx

    return int(httpx.get(f"{target}/_test/count", timeout=30).json().get("customers", 0))


def _measure(tmp: str, provider: Any, env: dict[str, str], kinds: tuple[str, ...]) -> dict[str, Any]:
    from flows_peers import drf_peer_server

    results: dict[str, Any] = {}
    if "peer" in kinds:
        # The project's JSON:API server: a fresh peer process for each loader.
        hand = {}
        for size in (HAND // 4, HAND):
            with peer_process(provider.issuer) as (source, target):
                _control(f"{source}/_test/seed", {"count": size})
                hand[size] = hand_written(source, target, provider.issuer, None, size)
        with peer_process(provider.issuer) as (source, target):
            _control(f"{source}/_test/seed", {"count": RECORDS})
            peer_ceiling, peer_ceiling_cpu = ceiling(source, target, _token(provider.issuer), atomic=True)
            peer_ceiling_count = _count(target)
        with peer_process(provider.issuer) as (source, target):
            _control(f"{source}/_test/seed", {"count": RECORDS})
            results["peer"] = _served("peer", source, target, provider.issuer, f"sqlite:///{tmp}/peer.db", env)
            results["peer"]["count"] = f"{_count(target):,}"
        results["peer"].update(ceiling=peer_ceiling, ceiling_cpu=peer_ceiling_cpu, ceiling_count=peer_ceiling_count,
                               hand=hand)
    if "drf" in kinds:
        # Django REST framework JSON:API, emptied between the loaders.
        with peer_process(provider.issuer) as (source, _), drf_peer_server(Path(tmp), "stock") as drf:
            _control(f"{source}/_test/seed", {"count": RECORDS})
            hand = {}
            for size in (HAND // 4, HAND):
                drf.clear()
                hand[size] = hand_written(source, drf.url, provider.issuer, drf.token, size)
            drf.clear()
            drf_ceiling, drf_ceiling_cpu = ceiling(source, drf.url, drf.token, atomic=False)
            drf_ceiling_count = len(drf.customers())
            drf.clear()
            results["drf"] = _served("drf", source, drf.url, drf.token, f"sqlite:///{tmp}/drf.db", env)
            rows = drf.customers()
            results["drf"]["count"] = f"{len(rows):,} ({len({r['external_id'] for r in rows}):,} distinct external ids)"
        results["drf"].update(ceiling=drf_ceiling, ceiling_cpu=drf_ceiling_cpu, ceiling_count=drf_ceiling_count,
                              hand=hand)
    return results


LABELS = {"peer": "project's server", "drf": "DRF JSON:API"}
NAMES = {"peer": "the project's JSON:API server (Atomic Operations, batches of 100)",
         "drf": "Django REST framework JSON:API (8 single POSTs in flight)"}


def _ok(met: bool) -> str:
    return "met" if met else "NOT met"


def _rows(kind: str, r: dict[str, Any]) -> list[str]:
    label, ceiling_rate = LABELS[kind], RECORDS / r["ceiling"]
    runs, floor, first = r["runs"], r["floor"]["async"], r["runs"][0]["seconds"]
    lines = [f"| {label} | hand-written pattern (token per record, one POST per call, new connection) | "
             f"{size:,} | {seconds:.2f} | {size / seconds:,.0f} | {size / seconds / ceiling_rate:.0%} |"
             for size, seconds in sorted(r["hand"].items())]
    lines += [
        f"| {label} | the target's ceiling: one token, keep-alive, interlink's batching, no bookkeeping | "
        f"{RECORDS:,} | {r['ceiling']:.2f} | {ceiling_rate:,.0f} | 100% |",
        f"| {label} | `Sync.run()` first run | {RECORDS:,} | {first:.2f} | {RECORDS / first:,.0f} | "
        f"{RECORDS / first / ceiling_rate:.0%} |",
    ]
    for step in runs[1:]:
        c = step["counts"]
        lines.append(f"| {label} | `Sync.run()` re-run, {step['share']:.1%} changed ({c['updated']:,} updated, "
                     f"{c['read']:,} read) | {RECORDS:,} | {step['seconds']:.2f} | — | — |")
    lines += [
        f"| {label} | the same 1% re-run without Prefect (the engine's `run_sync`, right after) | {RECORDS:,} | "
        f"{r['engine_rerun']:.3f} | — | — |",
        f"| {label} | Prefect alone: an empty `async` flow run, same process (before the runs) | — | "
        f"{floor:.2f} | — | — |",
    ]
    return lines


def _notes(kind: str, r: dict[str, Any]) -> list[str]:
    ceiling_rate, runs, floor = RECORDS / r["ceiling"], r["runs"], r["floor"]["async"]
    first = runs[0]["seconds"]
    share = RECORDS / first / ceiling_rate
    one = next(s for s in runs if s["share"] == 0.01)
    hand_rate = HAND / r["hand"][HAND]
    first_rate = RECORDS / first
    notes = [
        f"* {NAMES[kind]}: first run **{share:.0%}** of the target's ceiling (goal ≥ 90%: {_ok(share >= 0.9)}); "
        f"re-run with 1% changed **{one['seconds'] / first:.1%}** of the first run's time (goal < 5%: "
        f"{_ok(one['seconds'] / first < 0.05)}), beside Prefect's own floor of {floor:.2f} s a run; re-runs by "
        "share changed: " + ", ".join(f"{s['share']:.1%}: {s['seconds']:.2f} s" for s in runs[1:])
        + f". The target holds {r['count']} records after the runs (the ceiling's loader wrote "
        f"{r['ceiling_count']:,}). CPU time of the loaders' own processes (all threads; Prefect's part of the run "
        f"included): the first run "
        f"{runs[0]['cpu']:.2f} s, the ceiling's loader {r['ceiling_cpu']:.2f} s.",
    ]
    if 0.05 * first < floor:
        notes.append(
            f"  5% of this first run is {0.05 * first * 1000:.0f} ms, less than Prefect's own floor measured in the "
            f"same process ({floor * 1000:.0f} ms for an empty flow run): no run through Prefect can meet that "
            f"goal here. The re-run's own part, the engine without Prefect, took {r['engine_rerun'] * 1000:.0f} ms "
            f"({r['engine_rerun'] / first:.1%} of the first run).")
    small, smallest = HAND // 4, r["hand"][HAND // 4]
    notes.append(
        f"  The first run is **{first_rate / hand_rate:.0f}×** the hand-written pattern's records/s (goal ≥ 30×: "
        f"{_ok(first_rate / hand_rate >= 30)}); the pattern's rate is {small / smallest:,.0f}/s at {small:,} "
        f"records and {hand_rate:,.0f}/s at {HAND:,}: a fixed cost per record, so its rate at {RECORDS:,} is the "
        f"same. The target's own ceiling is {ceiling_rate / hand_rate:.1f}× that rate"
        + (": against this target no loader reaches 30×." if ceiling_rate / hand_rate < 30 else "."))
    return notes


def run() -> str:
    _tests()
    import peers_fixtures

    # BENCH_TARGETS_ONLY=peer (or drf) measures one target, to iterate; the section lists both.
    kinds = tuple(k for k in ("peer", "drf") if os.environ.get("BENCH_TARGETS_ONLY", k) == k)
    load_before = os.getloadavg()  # the machine is shared: its load is printed beside the figures
    provider = peers_fixtures.start_oidc_provider(OIDC_ACCESS_TTL="600", OIDC_INTERVAL="1")
    tmp = tempfile.mkdtemp(prefix="bench-flows-targets-")
    try:
        with prefect_server(os.path.join(tmp, "prefect")) as env:
            startup, warm_up = env["_STARTUP"], env["_WARM_UP"]
            results = _measure(tmp, provider, env, kinds)
    finally:
        peers_fixtures.stop_oidc_provider(provider)
    load_after = os.getloadavg()

    lines = [
        "## Sync flows against real targets, at the target's own speed",
        "",
        f"{RECORDS:,} customers from a paged REST source (uvicorn) to two JSON:API targets on loopback: the "
        "project's own server (uvicorn; the same process as the source; bearer tokens checked against the "
        "OpenID provider's keys) and Django REST framework JSON:API at its stock settings (Django on SQLite in "
        "WAL mode, one gunicorn worker with 8 threads, a bearer token checked per request; "
        "`JsonApiTarget(type=\"Customer\", path=\"/customers\", filter=\"filter[{field}.in]\", "
        "match=\"external_id\")`). interlink runs `Sync.run()` in one long-lived process, as a worker serving "
        "a deployment does, on a store migrated before the runs (as `interlink migrate` leaves it).",
        "",
        "| target | run | records | seconds | records/s | of the target's ceiling |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for kind in kinds:
        lines += _rows(kind, results[kind])
    lines.append("")
    for kind in kinds:
        lines += _notes(kind, results[kind])
    lines += LIMITS + [
        f"* Prefect's API server took {startup} s to start and its first flow run {warm_up} s, both before the "
        "runs above. The machine is shared by several engineers (2 cores): load average (`uptime`) "
        f"{', '.join(f'{x:.2f}' for x in load_before)} when this section started and "
        f"{', '.join(f'{x:.2f}' for x in load_after)} when it ended; under load the ratios move by tens of percent "
        "from run to run.",
    ]
    return "\n".join(lines)


LIMITS = [
    "* The re-runs grow with the records changed, not with the records in the source: the cursor reads "
    "only the changed ones (and the record on the boundary). What stays is a fixed cost a run, mostly "
    "Prefect's: its flow run (the empty one above), the one task run and the summary artifact `Sync.run()` "
    "adds to it; the engine's own part is the re-run without Prefect above (reading the sync's state, one "
    "commit for the pages and the run's record, the pages themselves).",
    "* What limits it. Against DRF JSON:API, the target: its one gunicorn worker (Python, the GIL) takes every "
    "create through Django, DRF's serializers and SQLite (one writer at a time); runs of the same work on this "
    "shared 2-core machine have differed by 10–25%. Against the project's server, CPU time: a run overlaps its "
    "pages (page N's writes on their way to the target on one thread while page N+2 is planned and committed "
    "in flight with page N-1's outcome, one SQLite commit a page, reaching the disk a page before its page is "
    "sent), and a profile of a first run without Prefect (py-spy, all threads, wall time) finds the thread "
    "that plans waiting for the one that sends about 60% of the run, and the one that sends waiting for the "
    "target's answers about three quarters of its time: neither the store nor the planning holds the writes "
    "up. But the run's process spends several times the CPU time of the ceiling's loader (figures above: "
    "reading and parsing the source's pages and the target's answers and checking each, one hash per "
    "record, the id map's rows built and written twice, in flight and then the outcome, the HTTP client's "
    "layers per request), and on two cores shared with the target's process and with other work, that time "
    "is taken from the target's: the wall time is nearer the sum of the two processes' CPU times than the "
    "larger of them. The goal needs less CPU time a record in interlink's process, not more overlap.",
]


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "child":
        print(json.dumps(child(*sys.argv[2:7])))
    else:
        print(run())
