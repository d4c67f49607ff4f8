"""Token requests travel the client's own stack: its TLS (client certificate) and retries; one
auth flow serves sync and async clients; client-side errors are not the server's errors."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from interlink.errors import ApiError, NotAuthorised
from interlink.http import (
    APIClient,
    AsyncAPIClient,
    ClientError,
    MutualTLS,
    OAuth2ClientCredentials,
    RetryPolicy,
    TokenRequestError,
    ssl_context,
)
from interlink.http._oauth2 import LOCK, UNLOCK
from servers import UvicornThread, free_port
from peers_fixtures import ResourceState, resource_app


def test_token_request_carries_the_client_certificate(mtls_server, tls_pki) -> None:
    """The token endpoint demands a client certificate; only the client's transport has one."""
    token_url = mtls_server.url + "/oauth/token"
    auth = OAuth2ClientCredentials(token_url, "svc", "svc-secret")
    mtls = MutualTLS(cert=tls_pki.client_cert_pem, key=tls_pki.client_key_pem, ca=tls_pki.ca_pem)
    with APIClient(mtls_server.url + "/api/", {"cert": mtls, "auth": auth}) as client:
        assert client.get("protected").json()["ok"]
    assert mtls_server.state.tokens_seen == ["tok-1"] and mtls_server.state.hits["token"] == 1
    # The same token request without the certificate is refused by the TLS handshake.
    with pytest.raises(httpx.HTTPError):
        httpx.post(token_url, verify=ssl_context(ca=tls_pki.ca_pem))


def test_token_request_is_retried_by_the_client_transport(resource_server) -> None:
    """Nothing listens at the token endpoint at first; it comes up during the client's retry wait."""
    port = free_port()
    token_server = UvicornThread(resource_app(token_state := ResourceState()), port=port)
    waits: list[float] = []

    def sleep_and_start(seconds: float) -> None:
        waits.append(seconds)
        if len(waits) == 1:
            token_server.start()

    auth = OAuth2ClientCredentials(f"http://127.0.0.1:{port}/oauth/token", "svc", "svc-secret")
    policy = RetryPolicy(retries=3, backoff_factor=0.25)
    try:
        with APIClient(resource_server.url + "/api/", {"auth": auth, "retry_policy": policy}) as client:
            client._interlink_transport._sleep = sleep_and_start
            assert client.get("protected").status_code == 200
    finally:
        token_server.stop()
    assert waits == [0.25]  # one failed connect to the token endpoint, one retry
    assert token_state.hits["token"] == 1 and resource_server.state.tokens_seen == ["tok-1"]


def test_one_flow_serves_sync_and_async_clients(resource_server) -> None:
    """The same auth object, one token cache: the async client reuses the sync client's token."""
    auth = OAuth2ClientCredentials(resource_server.url + "/oauth/token", "svc", "svc-secret")
    with APIClient(resource_server.url + "/api/", {"auth": auth}) as client:
        assert client.get("protected").status_code == 200

    async def main() -> list[int]:
        async with AsyncAPIClient(resource_server.url + "/api/", {"auth": auth}) as client:
            return [r.status_code for r in await asyncio.gather(*(client.get("protected") for _ in range(5)))]

    assert asyncio.run(main()) == [200] * 5
    assert auth.token_fetches == 1 and resource_server.state.hits["token"] == 1
    assert set(resource_server.state.tokens_seen) == {"tok-1"}
    # Both drivers run the one generator: it is what yields the token request and the lock steps.
    flow = auth.auth_flow(httpx.Request("GET", resource_server.url))
    assert next(flow).headers["Authorization"] == "Bearer tok-1"  # cached: no lock, no token request
    auth.state.invalidate("tok-1")
    flow = auth.auth_flow(httpx.Request("GET", resource_server.url))
    assert next(flow) is LOCK
    token_request = next(flow)
    assert str(token_request.url).endswith("/oauth/token") and token_request.method == "POST"
    response = httpx.post(str(token_request.url), content=token_request.read(), headers=token_request.headers)
    assert flow.send(response) is UNLOCK
    assert next(flow).headers["Authorization"] == "Bearer tok-2"


def test_token_errors_are_client_errors_not_the_servers_401(resource_server) -> None:
    auth = OAuth2ClientCredentials(resource_server.url + "/api/status/400", "svc", "svc-secret")
    with APIClient(resource_server.url + "/api/", {"auth": auth}) as client:
        with pytest.raises(TokenRequestError) as info:
            client.get("protected")
    assert isinstance(info.value, ClientError)
    assert not isinstance(info.value, (NotAuthorised, ApiError))
