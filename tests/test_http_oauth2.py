"""OAuth2 client credentials against a real OpenID provider (oidc-provider under Node)."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from interlink.http import APIClient, AsyncAPIClient, OAuth2ClientCredentials, TokenRequestError

GRANT = "client_credentials"


def _auth(provider, client_id: str = "svc-basic", method: str = "client_secret_basic", secret: str | None = None):
    return OAuth2ClientCredentials(
        f"{provider.issuer}/token", client_id, secret or f"{client_id}-secret", scope="api", auth_method=method
    )


@pytest.mark.parametrize(("client_id", "method"), [("svc-basic", "client_secret_basic"), ("svc-post", "client_secret_post")])
def test_token_fetched_once_and_reused(oidc_provider, resource_server, client_id: str, method: str) -> None:
    auth = _auth(oidc_provider, client_id, method)
    before = oidc_provider.token_requests(GRANT)
    with APIClient(resource_server.url + "/api/", {"auth": auth}) as client:
        for _ in range(20):
            response = client.get("protected")
            assert response.status_code == 200, response.text
    assert oidc_provider.token_requests(GRANT) - before == 1
    assert auth.token_fetches == 1
    assert len(set(resource_server.state.tokens_seen)) == 1


def test_a_wrong_secret_is_a_clear_token_error(oidc_provider, resource_server) -> None:
    auth = _auth(oidc_provider, "svc-basic", secret="not-the-secret")
    with APIClient(resource_server.url, {"auth": auth}) as client:
        with pytest.raises(TokenRequestError) as info:
            client.get("api/protected")
    assert info.value.error == "invalid_client"
    assert "not-the-secret" not in str(info.value)


def test_concurrent_async_requests_share_one_token_fetch(oidc_provider, resource_server) -> None:
    auth = _auth(oidc_provider)
    before = oidc_provider.token_requests(GRANT)

    async def main() -> list[int]:
        async with AsyncAPIClient(resource_server.url + "/api/", {"auth": auth}) as client:
            responses = await asyncio.gather(*(client.get("protected") for _ in range(25)))
            return [r.status_code for r in responses]

    assert asyncio.run(main()) == [200] * 25
    assert oidc_provider.token_requests(GRANT) - before == 1


def test_concurrent_threads_share_one_token_fetch(oidc_provider, resource_server) -> None:
    from concurrent.futures import ThreadPoolExecutor

    auth = _auth(oidc_provider)
    before = oidc_provider.token_requests(GRANT)
    with APIClient(resource_server.url + "/api/", {"auth": auth}) as client:
        with ThreadPoolExecutor(8) as pool:
            codes = list(pool.map(lambda _: client.get("protected").status_code, range(24)))
    assert codes == [200] * 24
    assert oidc_provider.token_requests(GRANT) - before == 1


def test_a_401_gets_one_retry_with_a_fresh_token(oidc_provider, resource_server) -> None:
    auth = _auth(oidc_provider)
    with APIClient(resource_server.url + "/api/", {"auth": auth}) as client:
        assert client.post("protected", json={"n": 1}).status_code == 200
        first = resource_server.state.tokens_seen[-1]
        httpx.post(resource_server.url + "/_test/revoke", content=first)
        before = oidc_provider.token_requests(GRANT)
        response = client.post("protected", json={"n": 2})
        assert response.status_code == 200
        assert response.json()["body"] == '{"n":2}'  # the body was sent again
        assert oidc_provider.token_requests(GRANT) - before == 1
        assert resource_server.state.tokens_seen[-1] != first
        # A server that keeps refusing gets exactly one retry, then the 401 comes back.
        resource_server.state.revoked.add("*")
        before = oidc_provider.token_requests(GRANT)
        assert client.get("protected").status_code == 401
        assert oidc_provider.token_requests(GRANT) - before == 1


def test_expired_tokens_are_renewed_for_real(oidc_provider_short, resource_server) -> None:
    auth = _auth(oidc_provider_short)  # tokens live 2 s at this provider
    before = oidc_provider_short.token_requests(GRANT)
    with APIClient(resource_server.url + "/api/", {"auth": auth}) as client:
        assert client.get("protected").status_code == 200
        assert client.get("protected").status_code == 200
        assert oidc_provider_short.token_requests(GRANT) - before == 1
        time.sleep(2.1)
        assert client.get("protected").status_code == 200
    assert oidc_provider_short.token_requests(GRANT) - before == 2
    assert len(set(resource_server.state.tokens_seen)) == 2
