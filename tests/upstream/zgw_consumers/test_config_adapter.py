# Ported from zgw-consumers 2.0.3 (maykinmedia/zgw-consumers@291c2c8) tests/test_config_adapter.py.
# Adaptations (see README.md): imports; requests-mock replaced by a real server on 127.0.0.1
# (fake_network.py), so "https://example.com" is that server's root (fake_network.ROOT);
# Django's ServiceFactory/Service by records build_client reads (factories.py).
# Not ported: the three tests of certificate *files* (simple_certmanager storage); records
# hold PEM text here, tested in tests/test_services.py and tests/test_http_requests_compat.py.
import httpx

from interlink.http import APIClient, ServiceConfigAdapter

from . import fake_network
from .factories import AuthTypes, ServiceFactory
from .fake_network import requests_mock


def test_no_server_cert_specified():
    service = ServiceFactory.build()
    adapter = ServiceConfigAdapter(service)

    client = APIClient.configure_from(adapter)

    assert client.verify is True  # not just truthy, but identity check


def test_no_client_cert_specified():
    service = ServiceFactory.build()
    adapter = ServiceConfigAdapter(service)

    client = APIClient.configure_from(adapter)

    assert client.cert is None


def test_no_auth():
    service = ServiceFactory.build(auth_type=AuthTypes.no_auth)
    adapter = ServiceConfigAdapter(service)

    client = APIClient.configure_from(adapter)

    assert client.auth is None


def test_api_key_auth():
    service = ServiceFactory.build(
        api_root=f"{fake_network.ROOT}/",
        auth_type=AuthTypes.api_key,
        header_key="Some-Auth-Header",
        header_value="some-api-key",
    )
    adapter = ServiceConfigAdapter(service)
    client = APIClient.configure_from(adapter)

    assert client.auth is not None

    with requests_mock.Mocker() as m, client:
        m.get(f"{fake_network.ROOT}/foo")

        client.get("foo")

    headers = m.last_request.headers
    assert "Some-Auth-Header" in headers
    assert headers["Some-Auth-Header"] == "some-api-key"


def test_zgw_auth():
    service = ServiceFactory.build(
        api_root=f"{fake_network.ROOT}/",
        auth_type=AuthTypes.zgw,
        client_id="my-client-id",
        secret="my-secret-that-is-sufficiently-long-enough",
    )
    adapter = ServiceConfigAdapter(service)
    client = APIClient.configure_from(adapter)

    assert client.auth is not None

    with requests_mock.Mocker() as m, client:
        m.get(f"{fake_network.ROOT}/foo")

        client.get("foo")

    headers = m.last_request.headers
    assert "Authorization" in headers


def test_default_timeout():
    service = ServiceFactory.build(api_root=f"{fake_network.ROOT}/")
    adapter = ServiceConfigAdapter(service)
    client = APIClient.configure_from(adapter)

    with requests_mock.Mocker() as m, client:
        m.get(f"{fake_network.ROOT}/foo")

        response = client.get("foo")

    timeout = response.request.extensions["timeout"]  # adapted: was m.last_request.timeout
    assert timeout == httpx.Timeout(10).as_dict()  # connect and read alike, as requests


def test_custom_timeout():
    service = ServiceFactory.build(api_root=f"{fake_network.ROOT}/", timeout=30)
    adapter = ServiceConfigAdapter(service)
    client = APIClient.configure_from(adapter)

    with requests_mock.Mocker() as m, client:
        m.get(f"{fake_network.ROOT}/foo")

        response = client.get("foo")

    timeout = response.request.extensions["timeout"]  # adapted: was m.last_request.timeout
    assert timeout == httpx.Timeout(30).as_dict()
