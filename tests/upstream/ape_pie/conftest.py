from __future__ import annotations

from collections.abc import Iterator

import pytest

from servers import UvicornThread

from .loopback import LOOPBACK, Recording, app, requests_mock_fixture


@pytest.fixture(scope="session", autouse=True)
def loopback_server(tls_pki) -> Iterator[None]:
    server = UvicornThread(app(), ssl_certfile=str(tls_pki.directory / "server.pem"),
                           ssl_keyfile=str(tls_pki.directory / "server.key"))
    LOOPBACK.base_url = server.start("https")
    LOOPBACK.ca_path = str(tls_pki.directory / "ca.pem")
    yield
    server.stop()


@pytest.fixture
def requests_mock() -> Recording:
    """requests-mock's pytest fixture, as a recorder of the real server's requests."""
    return requests_mock_fixture()
