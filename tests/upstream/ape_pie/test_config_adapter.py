# Ported from ape-pie 0.2.0 (maykinmedia/ape-pie@c976a95) tests/test_config_adapter.py.
# Adaptations (see README.md): imports; requests-mock replaced by a real HTTPS server on
# 127.0.0.1 (loopback.py), so "https://from-factory.example.com" is that server's URL; what
# requests-mock recorded on the client side (``last_request.verify``/``.timeout``) is read from
# the client and from the response's request instead; hasattr(client, "timeout") (an httpx
# client always has one) becomes a check of its value; per-call verify=True becomes the test
# CA (the system store cannot trust a loopback server), plus a check that verify=True refuses it.
from unittest.mock import patch

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from requests.auth import HTTPBasicAuth

from interlink.http import APIClient
from interlink.http import InvalidURLError
from interlink.http import RequestKwargs

from .loopback import LOOPBACK
from .loopback import recording as requests_mock_Mocker

ANY = object()  # requests-mock's matcher; the real server answers everything


class TestConfigAdapter:
    @staticmethod
    def get_client_base_url():
        return LOOPBACK.base_url  # adapted: was "https://from-factory.example.com"

    @staticmethod
    def get_client_session_kwargs() -> RequestKwargs:
        return {
            "verify": False,
            "timeout": 20,
            "auth": HTTPBasicAuth("superuser", "letmein"),
        }


def _timeout(response):
    """adapted: requests-mock's ``last_request.timeout`` (the read timeout sent with)."""
    return response.request.extensions["timeout"]["read"]


def test_adapter_can_configure_session():
    adapter = TestConfigAdapter()

    client = APIClient.configure_from(adapter)

    assert client.verify is False
    assert client.auth is not None
    assert client.timeout == httpx.Timeout(20)  # adapted: was hasattr(client, "timeout") is False


http_methods = st.sampled_from(
    ["GET", "OPTIONS", "HEAD", "POST", "PUT", "PATCH", "DELETE"]
)


def test_runtime_request_kwargs(requests_mock):
    m = requests_mock
    m.get(ANY, text="ok")
    adapter = TestConfigAdapter()

    with APIClient.configure_from(adapter) as client:
        response = client.get(f"{LOOPBACK.base_url}/foo")

    assert m.last_request.url == f"{LOOPBACK.base_url}/foo"
    headers = m.last_request.headers
    assert "authorization" in headers
    assert headers["authorization"].startswith("Basic ") is True
    assert client.verify is False  # adapted; the untrusted server was reached
    assert _timeout(response) == 20.0


def test_request_kwargs_overrule_defaults(requests_mock):
    m = requests_mock
    m.get(ANY, text="ok")
    adapter = TestConfigAdapter()

    with APIClient.configure_from(adapter) as client:
        response = client.get(
            f"{LOOPBACK.base_url}/foo",
            timeout=5,
            verify=LOOPBACK.ca_path,  # adapted: was verify=True
        )
        with pytest.raises(httpx.ConnectError):  # adapted: verification is on for this call
            client.get(f"{LOOPBACK.base_url}/foo", verify=True)

    assert m.last_request.url == f"{LOOPBACK.base_url}/foo"
    headers = m.last_request.headers
    assert "authorization" in headers
    assert headers["authorization"].startswith("Basic ") is True
    assert _timeout(response) == 5.0


@given(method=http_methods)
@settings(suppress_health_check=[HealthCheck.too_slow])
def test_applies_to_any_http_method(method):
    adapter = TestConfigAdapter()

    with requests_mock_Mocker() as m, APIClient.configure_from(adapter) as client:
        m.register_uri(ANY, ANY)

        response = client.request(method, f"{LOOPBACK.base_url}/foo")

    assert len(m.request_history), 1
    assert m.last_request.url == f"{LOOPBACK.base_url}/foo"
    assert m.last_request.method, method
    headers = m.last_request.headers
    assert "authorization" in headers
    assert headers["authorization"].startswith("Basic ") is True
    assert client.verify is False
    assert _timeout(response) == 20.0


@given(method=http_methods)
@settings(suppress_health_check=[HealthCheck.too_slow])
def test_relative_urls_are_made_absolute(method):
    adapter = TestConfigAdapter()
    client = APIClient.configure_from(adapter)

    with (
        requests_mock_Mocker() as m,
        client,
    ):
        m.register_uri(ANY, ANY)

        client.request(method, "foo")

    assert len(m.request_history), 1
    assert m.last_request.url == f"{LOOPBACK.base_url}/foo"


@given(method=http_methods)
@settings(suppress_health_check=[HealthCheck.too_slow])
def test_relative_bytestring_urls_are_made_absolute(method):
    adapter = TestConfigAdapter()
    client = APIClient.configure_from(adapter)

    with (
        requests_mock_Mocker() as m,
        client,
    ):
        m.register_uri(ANY, ANY)

        client.request(method, b"foo")

    assert len(m.request_history), 1
    assert m.last_request.url == f"{LOOPBACK.base_url}/foo"


@given(method=http_methods)
def test_absolute_urls_must_match_base_url(method):
    adapter = TestConfigAdapter()
    client = APIClient.configure_from(adapter)

    with pytest.raises(InvalidURLError):
        client.request(method, "https://example.com/bar")


@given(method=http_methods)
@settings(suppress_health_check=[HealthCheck.too_slow])
def test_absolute_urls_must_match_base_url_happy_flow(method):
    adapter = TestConfigAdapter()
    client = APIClient.configure_from(adapter)

    with (
        requests_mock_Mocker() as m,
        client,
    ):
        m.register_uri(ANY, ANY)

        client.request(method, f"{LOOPBACK.base_url}/foo/bar")

    assert len(m.request_history), 1
    assert m.last_request.url == f"{LOOPBACK.base_url}/foo/bar"


@given(method=http_methods)
@settings(suppress_health_check=[HealthCheck.too_slow])
def test_discouraged_usage_without_context(method):
    client = APIClient(LOOPBACK.base_url, {"verify": False})  # adapted: was "https://example.com"

    with (
        requests_mock_Mocker() as m,
        patch.object(client, "close", wraps=client.close) as mock_close,
    ):
        m.register_uri(ANY, ANY)

        client.request(method, "foo")

    assert len(m.request_history), 1
    mock_close.assert_called_once()


@given(method=http_methods)
@settings(suppress_health_check=[HealthCheck.too_slow])
def test_encouraged_usage_with_context_do_not_close_prematurely(method):
    client = APIClient(LOOPBACK.base_url, {"verify": False})  # adapted: was "https://example.com"

    with (
        requests_mock_Mocker() as m,
        patch.object(client, "close", wraps=client.close) as mock_close,
        client,
    ):
        m.register_uri(ANY, ANY)

        client.request(method, "foo")

        # may not be called inside context block
        mock_close.assert_not_called()

    assert len(m.request_history), 1
    # must be called outside context block
    mock_close.assert_called_once()
