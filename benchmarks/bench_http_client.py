"""Clients for other services: APIClient vs ape-pie on keep-alive loopback; OAuth2 token reuse.

Both clients make the same GET calls against the same uvicorn server on 127.0.0.1, each
inside ``with`` (one keep-alive connection). The OAuth2 row counts token requests *at the
OpenID provider* (oidc-provider under Node, its own counter) for 1,000 calls.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

CALLS = 2000
OAUTH_CALLS = 1000


def _peers():
    tests = str(Path(__file__).resolve().parent.parent / "tests")
    if tests not in sys.path:
        sys.path.insert(0, tests)
    import peers_fixtures

    return peers_fixtures


def _rate(fn, calls: int) -> float:
    fn()  # warm up: connect once
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return calls / (time.perf_counter() - start)


def run() -> str:
    peers = _peers()
    from interlink.http import APIClient, OAuth2ClientCredentials

    state = peers.ResourceState()
    server = peers.UvicornThread(peers.resource_app(state))
    url = server.start() + "/api/"
    rows = []
    try:
        with APIClient(url) as client:
            ours = _rate(lambda: client.get("fruits/apple?x=1").raise_for_status(), CALLS)
        rows.append(("interlink `APIClient` (httpx)", ours))
        try:
            from ape_pie import APIClient as ApePieClient

            with ApePieClient(url) as ape:
                theirs = _rate(lambda: ape.get("fruits/apple?x=1").raise_for_status(), CALLS)
            rows.append(("ape-pie `APIClient` (requests)", theirs))
        except ImportError:  # pragma: no cover - ape-pie is in the bench extra
            rows.append(("ape-pie `APIClient` (requests)", float("nan")))

        provider = peers.start_oidc_provider(OIDC_ACCESS_TTL="600")
        try:
            auth = OAuth2ClientCredentials(f"{provider.issuer}/token", "svc-basic", "svc-basic-secret", scope="api")
            before = provider.token_requests("client_credentials")
            with APIClient(url, {"auth": auth}) as client:
                for _ in range(OAUTH_CALLS):
                    client.get("protected").raise_for_status()
            token_requests = provider.token_requests("client_credentials") - before
        finally:
            peers.stop_oidc_provider(provider)
    finally:
        server.stop()

    lines = [
        "## Clients for other services (`interlink.http`)",
        "",
        f"{CALLS} sequential GETs on one keep-alive loopback connection to the same uvicorn server.",
        "",
        "| client | calls/s |",
        "| --- | ---: |",
    ]
    lines += [f"| {name} | {rate:,.0f} |" for name, rate in rows]
    lines += [
        "",
        "| OAuth2 client credentials (oidc-provider, 600 s tokens) | value | goal |",
        "| --- | ---: | ---: |",
        f"| token requests per {OAUTH_CALLS:,} calls | {token_requests} | 1 |",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    print(run())
