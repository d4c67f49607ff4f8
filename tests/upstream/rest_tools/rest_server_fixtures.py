"""Fixtures of rest-tools' server and utils tests (``tests/unit_server/fixtures.py`` and
``tests/unit_utils/fixtures.py`` upstream), plus the loopback stand-in for ``requests_mock``."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.rsa import generate_private_key

from rest_servers import JSONFilesServer

__all__ = ["gen_keys", "gen_keys_bytes", "shared_key", "strtobool", "loopback"]


@pytest.fixture(scope="session")
def gen_keys():
    priv = generate_private_key(65537, 2048)
    pub = priv.public_key()
    return (priv, pub)


@pytest.fixture(scope="session")
def gen_keys_bytes(gen_keys):
    priv, pub = gen_keys
    priv_pem = priv.private_bytes(
        encoding=serialization.Encoding.PEM,
        format=serialization.PrivateFormat.PKCS8,
        encryption_algorithm=serialization.NoEncryption(),
    )
    pub_pem = pub.public_bytes(
        encoding=serialization.Encoding.PEM,
        format=serialization.PublicFormat.SubjectPublicKeyInfo,
    )
    return (priv_pem, pub_pem)


@pytest.fixture(scope="module")
def shared_key():
    return secrets.token_hex(64)


@pytest.fixture
def loopback() -> Iterator[JSONFilesServer]:
    """A real HTTP server on 127.0.0.1 serving the JSON documents a test registers with
    ``loopback.get(url, text=…)``: stands in for upstream's ``requests_mock``."""
    server = JSONFilesServer()
    yield server
    server.close()


def strtobool(value: str) -> bool:
    """wipac_dev_tools.strtobool as documented there (the tests' oracle for ``type=bool``)."""
    lowered = value.lower()
    if lowered in ("y", "yes", "t", "true", "on", "1"):
        return True
    if lowered in ("n", "no", "f", "false", "off", "0"):
        return False
    raise ValueError(f"invalid truth value {value!r}")
