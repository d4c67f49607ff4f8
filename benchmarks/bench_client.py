"""Client calls/s over keep-alive: ``interlink.client.API`` against a plain ``requests`` loop.

Both call the same interlink server (``benchmarks/peers/interlink_app.py``, one uvicorn worker,
started by ``bench_server.serve`` and pinned to core 0) one call at a time on one kept-alive
connection, from this process pinned to core 1. The ``requests.Session`` and the bare
``httpx.Client`` loops post exactly the bytes the client would (built once from
``method.collate(...)`` and the key), so the difference is the client's own work per call:
collating the arguments, building the request, decoding the JSON into objects. Loops are
bounded (``BENCH_CLIENT_CALLS`` calls per round, interleaved rounds, median shown).
"""

from __future__ import annotations

import contextlib
import os
import statistics
import time
from collections.abc import Callable, Iterator
from urllib.parse import urlencode

import httpx
import requests

from benchmarks.bench_server import PEERS, _two_cores, serve
from benchmarks.peers import common
from interlink.client import API, to_plain

CALLS = int(os.environ.get("BENCH_CLIENT_CALLS", "2000"))
WARMUP = 200
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))


def arguments() -> dict[str, object]:
    return {
        "filter": common.UserFilter("b", "w"),
        "usernames": list(common.USERNAMES),
        "active": True,
    }


@contextlib.contextmanager
def on_core(core: int) -> Iterator[None]:
    """Pin this process to one core while measuring (the server has core 0)."""
    if not _two_cores():
        yield
        return
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {core})
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


def timed(call: Callable[[], object], calls: int) -> float:
    for _ in range(WARMUP):
        call()
    start = time.perf_counter()
    for _ in range(calls):
        call()
    return calls / (time.perf_counter() - start)


def measure(root: str) -> dict[str, list[float]]:
    api = API(root)
    session = api(key_id=common.KEY_ID, key_secret=common.KEY_SECRET)
    method = session.home.list_users
    kwargs = arguments()
    body = urlencode([*method.collate(**kwargs).items(), ("authorisation", f"{common.KEY_ID}:{common.KEY_SECRET}")])
    headers = {"content-type": "application/x-www-form-urlencoded"}
    url = root + "/home/list_users"
    plain = requests.Session()
    bare = httpx.Client()

    def with_requests() -> object:
        response = plain.post(url, data=body, headers=headers)
        response.raise_for_status()
        return response.json()

    def with_httpx() -> object:
        response = bare.post(url, content=body, headers=headers)
        response.raise_for_status()
        return response.json()

    loops: dict[str, Callable[[], object]] = {
        "`API`: `session.home.list_users(...)` (objects)": lambda: method(**kwargs),
        "`API`: `.json(...)` (plain JSON)": lambda: method.json(**kwargs),
        "plain `requests.Session` loop, same body": with_requests,
        "bare `httpx.Client` loop, same body": with_httpx,
    }
    expected = common.expected_answer()
    for name, loop in loops.items():  # every loop must get the same answer before it is timed
        if to_plain(loop()) != expected:
            raise RuntimeError(f"{name}: wrong answer")
    rounds: dict[str, list[float]] = {name: [] for name in loops}
    with on_core(1):
        for _ in range(ROUNDS):
            for name, loop in loops.items():
                rounds[name].append(timed(loop, CALLS))
    api.close()
    plain.close()
    bare.close()
    return rounds


def report(rounds: dict[str, list[float]]) -> str:
    medians = {name: statistics.median(values) for name, values in rounds.items()}
    baseline = medians["plain `requests.Session` loop, same body"]
    lines = [
        "## Client: calls/s over keep-alive",
        "",
        "One call at a time on one kept-alive connection to the interlink peer "
        "(`benchmarks/peers/interlink_app.py`, as in the server benchmark: `home.list_users` with a dataclass filter, 8 usernames, a bool and the key). "
        "The `requests` and `httpx` loops post the very bytes the client builds, prepared once.",
        "",
        "| client | calls/s | ÷ requests loop |",
        "|---|---:|---:|",
    ]
    for name, value in medians.items():
        lines.append(f"| {name} | {value:,.0f} | {value / baseline:.2f}× |")
    spread = "; ".join(f"{min(v):,.0f}–{max(v):,.0f}" for v in rounds.values())
    pinning = "server on core 0, clients on core 1" if _two_cores() else "not pinned (fewer than 2 cores)"
    lines += [
        "",
        f"{CALLS} calls per round after {WARMUP} warm-up calls, {ROUNDS} interleaved rounds, median "
        f"shown (ranges in row order: {spread}); {pinning}. A call's time includes the server's, "
        "so the ratio understates the client's own speed-up or cost.",
    ]
    return "\n".join(lines)


def run() -> str:
    with serve(PEERS["interlink"]) as (url, _pid):
        return report(measure(url + "/api"))


if __name__ == "__main__":
    print(run())
