"""Fixtures for the SOAP and StUF tests: real servers on 127.0.0.1 (see tests/peers/soap_server.py,
tests/peers/stuf_server.py), shared per session, and duck-typed service records."""

from __future__ import annotations

import os
import ssl
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "peers"))

from servers import UvicornThread  # noqa: E402

SOAP_PASSWORD = "wsse-pass"


@dataclass
class Record:
    """A service record as interlink.http reads it (the store's Service has the same names)."""

    base_url: str
    auth_type: str = "none"
    username: str = ""
    secret: str = ""
    client_id: str = ""
    token_url: str = ""
    scope: str = ""
    api_key_header: str = ""
    client_certificate: str | None = None
    client_private_key: str | None = None
    server_ca: str | None = None
    timeout: float | None = None
    extra_headers: dict[str, str] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)

    def get_secret(self) -> str:
        return self.secret

    def get_client_private_key(self) -> str | None:
        return self.client_private_key


@dataclass
class SoapKeys:
    client_cert: str
    client_key: str
    server_cert: str
    server_key: str
    forged_cert: str
    forged_key: str


@dataclass
class Peer:
    url: str
    app: Any
    server: Any


@pytest.fixture(scope="session")
def soap_keys(tls_pki: Any) -> SoapKeys:
    import trustme

    # zeep signs with RSA (rsa-sha1 by default): RSA keys, not trustme's default ECDSA
    rsa = trustme.KeyType.RSA
    ca = trustme.CA(key_type=rsa)
    client = ca.issue_cert("client@example.org", key_type=rsa)
    server = ca.issue_cert("soap-signer.example.org", key_type=rsa)
    forged = trustme.CA(key_type=rsa).issue_cert("soap-signer.example.org", key_type=rsa)

    def pem(cert: Any) -> tuple[str, str]:
        return cert.cert_chain_pems[0].bytes().decode(), cert.private_key_pem.bytes().decode()

    server_cert, server_key = pem(server)
    forged_cert, forged_key = pem(forged)
    client_cert, client_key = pem(client)
    return SoapKeys(client_cert, client_key, server_cert, server_key, forged_cert, forged_key)


@pytest.fixture(scope="session")
def soap_peer(soap_keys: SoapKeys) -> Iterator[Peer]:
    from soap_server import SoapPeer, WsseChecker

    wsse = WsseChecker(password=SOAP_PASSWORD, client_cert_pem=soap_keys.client_cert,
                       server_key_pem=soap_keys.server_key, server_cert_pem=soap_keys.server_cert,
                       forged_key_pem=soap_keys.forged_key, forged_cert_pem=soap_keys.forged_cert)
    app = SoapPeer(wsse=wsse)
    server = UvicornThread(app, interface="wsgi")
    url = server.start()
    yield Peer(url, app, server)
    server.stop()


@pytest.fixture(scope="session")
def soap_mtls_peer(tls_pki: Any) -> Iterator[Peer]:
    from soap_server import SoapPeer

    app = SoapPeer()
    server = UvicornThread(
        app, interface="wsgi",
        ssl_certfile=str(tls_pki.directory / "server.pem"), ssl_keyfile=str(tls_pki.directory / "server.key"),
        ssl_ca_certs=str(tls_pki.directory / "ca.pem"), ssl_cert_reqs=ssl.CERT_REQUIRED,
    )
    url = server.start("https")
    yield Peer(url, app, server)
    server.stop()


@pytest.fixture(scope="session")
def stuf_peer() -> Iterator[Peer]:
    from stuf_server import StufPeer

    app = StufPeer()
    server = UvicornThread(app.asgi())
    url = server.start()
    yield Peer(url, app, server)
    server.stop()


@pytest.fixture(scope="session")
def stuf_mtls_peer(tls_pki: Any) -> Iterator[Peer]:
    """The StUF peer over HTTPS, refusing clients without a certificate from the test CA."""
    from stuf_server import StufPeer

    app = StufPeer()
    server = UvicornThread(
        app.asgi(),
        ssl_certfile=str(tls_pki.directory / "server.pem"), ssl_keyfile=str(tls_pki.directory / "server.key"),
        ssl_ca_certs=str(tls_pki.directory / "ca.pem"), ssl_cert_reqs=ssl.CERT_REQUIRED,
    )
    url = server.start("https")
    yield Peer(url, app, server)
    server.stop()
