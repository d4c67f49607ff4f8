# Ported from zgw-consumers 2.0.3 (maykinmedia/zgw-consumers@291c2c8) tests/test_clients.py.
# Adaptations (see README.md): imports; requests-mock replaced by a real server on 127.0.0.1
# (fake_network.py), so "https://example.com" is that server's root (fake_network.ROOT);
# Django's ServiceFactory/Service by records build_client reads (factories.py).
import time

import jwt
from freezegun import freeze_time

from interlink.http import build_client

from . import fake_network
from .factories import AuthTypes, ServiceFactory
from .fake_network import requests_mock


def test_retry_request_on_403_auth_zgw():
    service = ServiceFactory.build(
        api_root=f"{fake_network.ROOT}/",
        auth_type=AuthTypes.zgw,
        client_id="my-client-id",
        secret="my-secret-that-is-sufficiently-long-enough",
    )

    with requests_mock.Mocker() as m:
        m.get(
            f"{fake_network.ROOT}/",
            status_code=403,
        )

        with freeze_time("2024-11-27T10:00:00+02:00"):
            initial_time = int(time.time())
            client = build_client(service)

        with freeze_time("2024-11-27T15:00:00+02:00"):  # 5h later
            later_time = int(time.time())
            with client:
                client.get(f"{fake_network.ROOT}/")

        history = m.request_history

        assert len(history) == 2

        first_request = history[0]
        first_token = first_request.headers["Authorization"].removeprefix("Bearer ")
        time1 = jwt.decode(
            first_token,
            service.secret,
            algorithms=["HS256"],
            options={"verify_exp": False},
        )["iat"]

        assert time1 == initial_time

        second_request = history[1]
        second_token = second_request.headers["Authorization"].removeprefix("Bearer ")
        time2 = jwt.decode(
            second_token,
            service.secret,
            algorithms=["HS256"],
            options={"verify_exp": False},
        )["iat"]

        assert time2 == later_time


def test_retry_request_on_403_auth_api_key():
    service = ServiceFactory.build(
        api_root=f"{fake_network.ROOT}/",
        auth_type=AuthTypes.api_key,
        header_key="Some-Auth-Header",
        header_value="some-api-key",
    )

    with requests_mock.Mocker() as m:
        m.get(
            f"{fake_network.ROOT}/",
            status_code=403,
        )

        with freeze_time("2024-11-27T10:00:00+02:00"):
            client = build_client(service)

        with freeze_time("2024-11-27T15:00:00+02:00"), client:  # 5h later
            client.get(f"{fake_network.ROOT}/")

        history = m.request_history

        assert len(history) == 1


def test_retry_request_on_403_no_auth():
    service = ServiceFactory.build(
        api_root=f"{fake_network.ROOT}/",
        auth_type=AuthTypes.no_auth,
    )

    with requests_mock.Mocker() as m:
        m.get(
            f"{fake_network.ROOT}/",
            status_code=403,
        )

        with freeze_time("2024-11-27T10:00:00+02:00"):
            client = build_client(service)

        with freeze_time("2024-11-27T15:00:00+02:00"), client:  # 5h later
            client.get(f"{fake_network.ROOT}/")

        history = m.request_history

        assert len(history) == 1
