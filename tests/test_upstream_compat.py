"""The last differences from the upstream projects that a user of theirs would hit.

Each test pins one behaviour of ape-pie, zgw-consumers, rest-tools or Open Forms that code
written for them relies on, against real servers on 127.0.0.1.
"""

from __future__ import annotations

import io
import json
import time
import urllib.parse
from collections.abc import Iterator
from typing import Any

import httpx
import jwt
import pytest
import requests

from servers import UvicornThread
from upstream.rest_tools._client_loopback import LoopbackMock, SeenRequest
from upstream.rest_tools._client_loopback import _loopback_server, requests_mock  # noqa: F401 - fixtures


# -- ape-pie: redirects as a requests.Session follows them -------------------------------------


async def _hops(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """``/hop/N`` redirects to ``/hop/N-1``; ``/hop/0`` answers ``ok``."""
    if scope["type"] != "http":
        return
    left = int(scope["path"].rsplit("/", 1)[-1] or 0)
    if left > 0:
        await send({"type": "http.response.start", "status": 302, "headers": [(b"location", f"/hop/{left - 1}".encode())]})
    else:
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"ok" if left == 0 else b""})


@pytest.fixture(scope="module")
def hops() -> Iterator[str]:
    server = UvicornThread(_hops)
    yield server.start()
    server.stop()


def test_api_client_follows_as_many_redirects_as_a_requests_session(hops: str) -> None:
    from interlink.http import APIClient

    session = requests.Session()
    session.trust_env = False
    assert session.max_redirects == 30
    assert len(session.get(f"{hops}/hop/30").history) == 30
    with pytest.raises(requests.TooManyRedirects):
        session.get(f"{hops}/hop/31")

    with APIClient(hops, {"allow_redirects": True}) as client:
        assert client.max_redirects == 30
        answer = client.get("hop/30")
        assert answer.status_code == 200 and len(answer.history) == 30  # httpx alone stops at 20
        with pytest.raises(httpx.TooManyRedirects):
            client.get("hop/31")
        client.max_redirects = 40  # a requests user's way of raising it
        assert len(client.get("hop/35").history) == 35


def test_async_and_record_built_clients_follow_30_redirects_too(hops: str) -> None:
    import asyncio

    from interlink.http import AsyncAPIClient, build_client

    async def main() -> int:
        async with AsyncAPIClient(hops) as client:
            return len((await client.get("hop/30", follow_redirects=True)).history)

    assert asyncio.run(main()) == 30

    class Record:
        slug = "hops"
        base_url = hops
        auth_type = "no_auth"

    with build_client(Record()) as client:
        assert len(client.get("hop/30", allow_redirects=True).history) == 30


# -- rest-tools: an expired saved refresh token goes straight to the device login ---------------


def _device_provider(requests_mock: LoopbackMock) -> list[dict[str, list[str]]]:
    """Discovery, device and token endpoints on the loopback server; the token requests seen."""
    token_requests: list[dict[str, list[str]]] = []
    discovery = {"token_endpoint": f"{requests_mock.url}/token",
                 "device_authorization_endpoint": f"{requests_mock.url}/device"}
    requests_mock.get("/.well-known/openid-configuration", content=json.dumps(discovery).encode())
    device = {"device_code": "D" * 24, "user_code": "ABCD-EFGH", "verification_uri": f"{requests_mock.url}/verify",
              "expires_in": 600, "interval": 0.1}
    requests_mock.post("/device", content=json.dumps(device).encode())

    def token(request: SeenRequest, context: Any) -> bytes:
        body = urllib.parse.parse_qs(str(request.body))
        token_requests.append(body)
        if body["grant_type"][0] == "refresh_token" and body["refresh_token"][0].startswith("expired"):
            context.status_code = 400
            return json.dumps({"error": "invalid_grant"}).encode()
        return json.dumps({"access_token": "A" * 20, "refresh_token": "fresh-refresh", "token_type": "bearer",
                           "expires_in": 300}).encode()

    requests_mock.post("/token", content=token)
    return token_requests


def test_saved_refresh_token_already_expired_is_not_sent(requests_mock: LoopbackMock, tmp_path: Any) -> None:
    from interlink.rest.client import SavedDeviceGrantAuth

    token_requests = _device_provider(requests_mock)
    # Keycloak signs refresh tokens with a key of its own (HS256): the client cannot check the
    # signature, but it can read that the token expired an hour ago.
    expired = jwt.encode({"exp": int(time.time()) - 3600, "typ": "Refresh", "scope": "openid"},
                         "k" * 32, algorithm="HS256")
    saved = tmp_path / "refresh"
    saved.write_text(expired)
    SavedDeviceGrantAuth("http://127.0.0.1:9/api", requests_mock.url, str(saved), "cli", out=io.StringIO())
    grants = [body["grant_type"][0] for body in token_requests]
    assert grants == ["urn:ietf:params:oauth:grant-type:device_code"]  # no refresh_token grant
    assert all(expired not in json.dumps(body) for body in token_requests)
    assert saved.read_text() == "fresh-refresh"


def test_saved_refresh_token_not_expired_is_tried_first(requests_mock: LoopbackMock, tmp_path: Any) -> None:
    from interlink.rest.client import SavedDeviceGrantAuth

    token_requests = _device_provider(requests_mock)
    valid = jwt.encode({"exp": int(time.time()) + 3600, "typ": "Refresh"}, "k" * 32, algorithm="HS256")
    saved = tmp_path / "refresh"
    saved.write_text(valid)
    SavedDeviceGrantAuth("http://127.0.0.1:9/api", requests_mock.url, str(saved), "cli", out=io.StringIO())
    assert [body["grant_type"][0] for body in token_requests] == ["refresh_token"]
    assert token_requests[0]["refresh_token"] == [valid]
    assert saved.read_text() == "fresh-refresh"


def test_refresh_token_expiry_is_read_only_from_a_jwt() -> None:
    from interlink.rest._device import refresh_token_expired

    now = 1_800_000_000
    assert refresh_token_expired(jwt.encode({"exp": now - 1}, "k" * 32), now)
    assert refresh_token_expired(jwt.encode({"exp": now}, "k" * 32), now)
    assert not refresh_token_expired(jwt.encode({"exp": now + 60}, "k" * 32), now)
    assert not refresh_token_expired(jwt.encode({"sub": "x"}, "k" * 32), now)  # no exp: unknown
    assert not refresh_token_expired("an-opaque-token", now)


def test_rest_clients_identity_provider_requests_follow_30_redirects(hops: str) -> None:
    # Discovery and device requests of the rest-tools clients went through requests (30).
    from interlink.rest.client import RestClient

    with RestClient(hops, retries=0).idp_client() as idp:
        assert len(idp.get(f"{hops}/hop/30").history) == 30
        with pytest.raises(httpx.TooManyRedirects):
            idp.get(f"{hops}/hop/31")
