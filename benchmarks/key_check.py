"""Store keys against in-memory keys, and the access log on against off, inside one process.

Across processes under wrk, a few per cent is within what a shared 2-core machine drifts between
rounds. Here both servers live in one process and are called in alternating rounds through their
ASGI interface (no sockets), and the best round of each is kept: what is left is the cost of the
key check (or of the access log's middleware and its writes to a file) itself. The method is
``async def`` so that no thread hop adds its own noise.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any, Awaitable, Callable

from benchmarks.peers import common

ROUNDS = 12
CALLS = 2000
CHECKS = 20000


def _caller(app: Any, key_id: str, secret: str) -> Callable[[int], Awaitable[float]]:
    body = common.form_body(secret, key_id).encode()
    scope = {
        "type": "http", "method": "POST", "path": common.PATH, "query_string": b"", "root_path": "",
        "headers": [(b"content-type", b"application/x-www-form-urlencoded"), (b"content-length", str(len(body)).encode())],
        "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 80), "scheme": "http",
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def calls(n: int) -> float:
        start = time.perf_counter()
        for _ in range(n):
            sent.clear()
            await app(dict(scope), receive, send)
        elapsed = (time.perf_counter() - start) / n
        if sent[0]["status"] != 200:
            raise RuntimeError(f"the in-process call answered {sent[0]['status']}: {sent[1]['body']!r}")
        return elapsed

    return calls


async def _measure(database_url: str, key: tuple[str, str]) -> dict[str, float]:
    from interlink import ApiServer
    from interlink.store import Database, KeyAuthenticator, MemoryKeys, Role

    from benchmarks.peers.interlink_default import list_users_async

    memory_keys = MemoryKeys({common.KEY_ID: (common.KEY_SECRET, Role(name="bench"))})
    from interlink.server._access_log import AccessLog, BufferedLines

    store_api = ApiServer(database=database_url, docs=False)
    memory_api = ApiServer(authenticator=memory_keys, docs=False)
    for api in (store_api, memory_api):
        api.method(module="home", name="list_users")(list_users_async)
    log_file = open(Path(database_url.removeprefix("sqlite:///")).with_name("access.log"), "w")  # noqa: SIM115
    logged_api = AccessLog(store_api, BufferedLines(log_file))  # as `interlink serve` wraps it
    calls = {"store": _caller(store_api, *key), "memory": _caller(memory_api, common.KEY_ID, common.KEY_SECRET),
             "logged": _caller(logged_api, *key)}
    best = {name: float("inf") for name in calls}
    for _ in range(ROUNDS):
        for name, call in calls.items():
            best[name] = min(best[name], await call(CALLS))

    store_keys = KeyAuthenticator(Database(database_url))
    checks = {"store check": (store_keys, key), "memory check": (memory_keys, (common.KEY_ID, common.KEY_SECRET))}
    for name in checks:
        best[name] = float("inf")
    for _ in range(7):
        for name, (authenticator, (key_id, secret)) in checks.items():
            start = time.perf_counter()
            for _ in range(CHECKS):
                await authenticator.authenticate_key(key_id, secret, client="127.0.0.1")
            best[name] = min(best[name], (time.perf_counter() - start) / CHECKS)
    logged_api.write.flush()
    log_file.close()
    return best


def in_process(create_store_key: Callable[[str], tuple[str, str]]) -> dict[str, float]:
    """Best seconds per call: ``store``/``memory``/``logged`` (a whole call: store keys, in-memory
    keys, store keys behind the access log), ``store check``/``memory check`` (the check alone)."""
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'keys.db'}"
        return asyncio.run(_measure(url, create_store_key(url)))
