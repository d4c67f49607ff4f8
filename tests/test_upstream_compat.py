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


# -- Open Forms / zgw-consumers: service records -------------------------------------------------

STUF_PARTIES = {
    "sector_alias": "bg",
    "zender": {"organisatie": "Gemeente X", "applicatie": "interlink"},
    "ontvanger": {"organisatie": "Gemeente X", "applicatie": "BRP"},
}


def _stuf_templates() -> str:
    import os

    return os.path.join(os.path.dirname(__file__), "stuf_templates")


def test_stuf_posts_to_the_service_url_exactly_as_configured(stuf_peer: Any) -> None:
    from soap_fixtures import Record

    from interlink.store import Service
    from interlink.stuf import StUFClient

    url = f"{stuf_peer.url}/stuf/Soap"  # no "/" at the end, and no endpoints of its own
    options = {"soap": {"version": "1.1"}, "stuf": STUF_PARTIES}
    stored = Service(slug="brp", label="BRP", base_url=url, options=options)
    assert stored.base_url == url  # kept as configured
    for record in (Record(base_url=url, options=options), stored):
        with StUFClient(record, templates=_stuf_templates()) as client:
            reply = client.templated_request("npsLv01", "bg/nps_vraag.xml", {"bsn": "111222333"})
        assert stuf_peer.app.requests[-1]["path"] == "/stuf/Soap"
        assert reply.body.tag.endswith("npsLa01")


def test_a_service_record_is_still_a_directory_for_rest_clients(live_server: Any) -> None:
    from interlink.http import build_client
    from interlink.store import Service

    seen: list[str] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        seen.append(scope["path"])
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    root = live_server(app)
    with build_client(Service(slug="zaken", base_url=f"{root}/api/v1", auth_type="no_auth")) as client:
        client.get("zaken")
    assert seen == ["/api/v1/zaken"]


def test_a_service_record_prints_as_its_label() -> None:
    from interlink.store import Service

    service = Service(slug="brp", label="Basisregistratie Personen", base_url="https://h.example/brp")
    assert str(service) == "Basisregistratie Personen"
    assert f"{service}" == "Basisregistratie Personen"
    assert "slug='brp'" in repr(service) and "https://h.example/brp" in repr(service)
    assert str(Service(slug="zaken", base_url="https://h.example/")) == "zaken"  # no label yet


def test_connection_check_is_a_property_of_the_record(live_server: Any) -> None:
    from interlink.store import Service

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        status = 200 if scope["path"] == "/api/health" else 404
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    root = live_server(app)
    service = Service(slug="s", base_url=f"{root}/api/", api_connection_check_path="health")
    assert service.api_connection_check_path == "health"
    assert service.connection_check == 200
    service.api_connection_check_path = ""
    assert service.connection_check == 404  # the base URL itself
    from servers import free_port

    unreachable = Service(slug="gone", base_url=f"http://127.0.0.1:{free_port()}/", timeout=2)
    assert unreachable.connection_check is None
