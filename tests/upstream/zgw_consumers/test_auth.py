# Ported from zgw-consumers 2.0.3 (maykinmedia/zgw-consumers@291c2c8) tests/test_auth.py.
# Adaptations (see README.md): imports; requests-mock replaced by a real server on 127.0.0.1
# (fake_network.py), so "https://example.com" is that server's root (fake_network.ROOT);
# Django's ServiceFactory/Service by records build_client reads (factories.py).
# The autouse clear_cache fixture (Django's cache) is conftest.py's clear_token_cache.
import time
from datetime import UTC, datetime

import jwt
import pytest
from freezegun import freeze_time

from interlink.http import build_client

from . import fake_network
from .factories import AuthTypes, ServiceFactory, ZGWAuth
from .fake_network import requests_mock


def test_zgw_auth_refresh_token():
    service = ServiceFactory.build(
        api_root=f"{fake_network.ROOT}/",
        auth_type=AuthTypes.zgw,
        client_id="my-client-id",
        secret="my-secret-that-is-sufficiently-long-enough",
    )

    with freeze_time("2024-11-27T10:00:00+02:00"):
        auth = ZGWAuth(service)
        token = jwt.decode(auth._token, service.secret, algorithms=["HS256"])

        assert token["iat"] == int(time.time())

    with freeze_time("2024-11-27T15:00:00+02:00"):  # 5 hours later
        auth.refresh_token()
        token = jwt.decode(auth._token, service.secret, algorithms=["HS256"])

        assert token["iat"] == int(time.time())


@freeze_time("2025-04-01T11:52:13Z")
def test_jwt_exp_configuration():
    service = ServiceFactory.build(
        auth_type=AuthTypes.zgw,
        client_id="my-client-id",
        secret="my-secret-that-is-sufficiently-long-enough",
        jwt_valid_for=5 * 60,  # 5 minutes
    )

    with (
        requests_mock.Mocker() as m,
        build_client(service) as client,
    ):
        m.get(requests_mock.ANY, status_code=200)

        resp = client.get("irrelevant")
        assert resp.status_code == 200

        auth_header = resp.request.headers["Authorization"]

    type, token = auth_header.split(" ")
    assert type == "Bearer"

    decoded = jwt.decode(
        token, "my-secret-that-is-sufficiently-long-enough", algorithms=["HS256"]
    )
    assert "exp" in decoded
    # https://www.rfc-editor.org/rfc/rfc7519#section-2 NumericDate (number of seconds
    # since epoch, in UTC)
    exp = datetime.fromtimestamp(decoded["exp"], tz=UTC)
    # 5 minutes later than "now"
    assert exp == datetime(2025, 4, 1, 11, 57, 13, tzinfo=UTC)


@pytest.fixture
def oauth2_service():
    return ServiceFactory.build(
        api_root=f"{fake_network.ROOT}/",
        auth_type=AuthTypes.oauth2_client_credentials,
        client_id="my-client-id",
        secret="my-secret-that-is-sufficiently-long-enough",
        oauth2_token_url=f"{fake_network.ROOT}/token/",
    )


def mock_token_response(m, access_token="mock-access-token", expires_in=3600):
    m.post(
        f"{fake_network.ROOT}/token/",
        json={
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": expires_in,
        },
    )


def test_oauth2_token_is_added_to_the_headers(oauth2_service):
    with requests_mock.Mocker() as m:
        mock_token_response(m)
        m.get(f"{fake_network.ROOT}/irrelevant", text="OK")

        with build_client(oauth2_service) as client:
            resp = client.get("irrelevant")

        assert resp.status_code == 200
        last_req = m.request_history[-1]
        assert last_req.headers["Authorization"] == "Bearer mock-access-token"


def test_non_oauth2_auth_type_does_not_fetch_token():
    service = ServiceFactory.build(
        api_root=f"{fake_network.ROOT}/",
        auth_type=AuthTypes.no_auth,
    )

    with requests_mock.Mocker() as m:
        m.get(f"{fake_network.ROOT}/irrelevant", text="OK")

        with build_client(service) as client:
            resp = client.get("irrelevant")

        assert resp.status_code == 200
        assert not any(r.method == "POST" for r in m.request_history)


@freeze_time("2025-04-01T00:00:00Z")
def test_token_refresh_on_expiry(oauth2_service):
    with requests_mock.Mocker() as m:
        mock_token_response(m, access_token="first-token", expires_in=12)
        m.get(f"{fake_network.ROOT}/irrelevant", text="OK")

        with build_client(oauth2_service) as client:
            client.get("irrelevant")

        # force token expiry
        with freeze_time("2025-04-01T00:00:15Z"):
            mock_token_response(m, access_token="second-token")
            with build_client(oauth2_service) as client:
                client.get("irrelevant")

        # the second call should fetch a new token
        post_requests = [r for r in m.request_history if r.method == "POST"]
        assert len(post_requests) == 2


def test_token_is_cached(oauth2_service):
    with requests_mock.Mocker() as m:
        mock_token_response(m, access_token="cached-token")
        m.get(f"{fake_network.ROOT}/irrelevant", text="OK")

        # first call -> fetches token and caches it
        with build_client(oauth2_service) as client:
            client.get("irrelevant")

        # second call -> uses cached token (no POST expected)
        with build_client(oauth2_service) as client:
            client.get("irrelevant")

        post_requests = [r for r in m.request_history if r.method == "POST"]
        assert len(post_requests) == 1
