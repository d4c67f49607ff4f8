"""What telemetry costs a call, inside one process (as ``key_check`` measures keys).

Under wrk on a shared 2-core machine a few per cent drown in the drift between rounds. Here the
same server — in-memory keys, the ``async def`` method — is built three times: as it is, with
``Telemetry(api)`` (a span per call into a batching processor whose exporter drops the batches),
and with ``Telemetry(api, tracing=False, metrics=True)``; they are called through their ASGI
interface in alternating rounds and the best round of each is kept.
"""

from __future__ import annotations

import asyncio
from typing import Any

from benchmarks.key_check import _caller
from benchmarks.peers import common

ROUNDS = 12
CALLS = 2000


def _servers() -> dict[str, Any]:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    from interlink import ApiServer
    from interlink.store import MemoryKeys, Role
    from interlink.telemetry import Telemetry, uninstrument_clients

    from benchmarks.peers.interlink_default import list_users_async
    from benchmarks.peers.interlink_telemetry import Dropped

    servers = {}
    for name in ("plain", "traced", "metrics"):
        api = ApiServer(authenticator=MemoryKeys({common.KEY_ID: (common.KEY_SECRET, Role(name="bench"))}), docs=False)
        if name == "traced":
            provider = TracerProvider()
            provider.add_span_processor(BatchSpanProcessor(Dropped()))
            Telemetry(api, tracer_provider=provider)
            uninstrument_clients()  # this process's own clients stay as they were
        elif name == "metrics":
            Telemetry(api, tracing=False, metrics=True)
        api.method(module="home", name="list_users")(list_users_async)
        servers[name] = api
    return servers


async def _measure() -> dict[str, float]:
    calls = {name: _caller(api, common.KEY_ID, common.KEY_SECRET) for name, api in _servers().items()}
    best = {name: float("inf") for name in calls}
    for _ in range(ROUNDS):
        for name, call in calls.items():
            best[name] = min(best[name], await call(CALLS))
    return best


def in_process() -> dict[str, float]:
    """Best seconds per whole ASGI call: ``plain``, ``traced``, ``metrics``."""
    from interlink.observe import set_observer

    try:
        return asyncio.run(_measure())
    finally:
        set_observer(None)


if __name__ == "__main__":
    for name, seconds in in_process().items():
        print(f"{name}: {seconds * 1e6:.1f} µs")
