"""Auth schemes against real loopback servers: basic, API key, bearer, JWT bearer, mTLS."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import httpx
import pytest

from interlink.http import (
    APIClient,
    APIKeyAuth,
    AsyncAPIClient,
    BasicAuth,
    BearerAuth,
    JWTBearerAuth,
    MutualTLS,
)


def _get(base: str, auth: httpx.Auth, path: str = "api/x") -> dict:
    with APIClient(base, {"auth": auth}) as client:
        return client.get(path).json()


def test_basic_auth(resource_server) -> None:
    data = _get(resource_server.url, BasicAuth("user:name", "pa ss"))
    assert data["authorization"] == "Basic " + base64.b64encode(b"user:name:pa ss").decode()
    assert "pa ss" not in repr(BasicAuth("u", "pa ss"))


def test_basic_auth_as_a_tuple_like_requests(resource_server) -> None:
    data = _get(resource_server.url, ("u", "p"))  # type: ignore[arg-type]
    assert data["authorization"] == "Basic " + base64.b64encode(b"u:p").decode()


def test_api_key_in_a_header_or_the_query(resource_server) -> None:
    data = _get(resource_server.url, APIKeyAuth("k-1", header="X-Api-Key"))
    assert data["headers"]["x-api-key"] == "k-1" and data["authorization"] is None
    data = _get(resource_server.url, APIKeyAuth("Token k-2"))
    assert data["authorization"] == "Token k-2"
    data = _get(resource_server.url, APIKeyAuth("k-3", query="api_key"), "api/x?other=1")
    assert data["args"] == {"other": "1", "api_key": "k-3"}
    assert "k-3" not in repr(APIKeyAuth("k-3", query="api_key"))
    with pytest.raises(ValueError):
        APIKeyAuth("k", header="X", query="q")


def test_bearer_from_str_bytes_or_callable(resource_server) -> None:
    assert _get(resource_server.url, BearerAuth("abc"))["authorization"] == "Bearer abc"
    assert _get(resource_server.url, BearerAuth(b"def"))["authorization"] == "Bearer def"
    tokens = iter(["t1", "t2"])
    auth = BearerAuth(lambda: next(tokens))
    with APIClient(resource_server.url, {"auth": auth}) as client:
        assert [client.get("a").json()["authorization"] for _ in range(2)] == ["Bearer t1", "Bearer t2"]


def test_jwt_bearer_claims_and_signature(resource_server) -> None:
    auth = JWTBearerAuth("my-client", "s3cret", lifetime=300, user_id="u1", user_representation="Alice")
    before = int(time.time())
    token = _get(resource_server.url, auth)["authorization"].removeprefix("Bearer ")
    header, payload, signature = token.split(".")
    pad = lambda s: s + "=" * (-len(s) % 4)  # noqa: E731
    assert json.loads(base64.urlsafe_b64decode(pad(header))) == {"alg": "HS256", "typ": "JWT"}
    claims = json.loads(base64.urlsafe_b64decode(pad(payload)))
    assert claims["iss"] == claims["client_id"] == "my-client"
    assert before <= claims["iat"] <= int(time.time())
    assert claims["exp"] == claims["iat"] + 300
    assert (claims["user_id"], claims["user_representation"]) == ("u1", "Alice")
    expected = hmac.new(b"s3cret", f"{header}.{payload}".encode(), hashlib.sha256).digest()
    assert base64.urlsafe_b64decode(pad(signature)) == expected
    assert "s3cret" not in repr(auth)


def test_async_client_uses_the_same_auth_objects(resource_server) -> None:
    import asyncio

    async def main() -> list[str]:
        async with AsyncAPIClient(resource_server.url, {"auth": APIKeyAuth("k", header="X-K")}) as client:
            return [(await client.get("a")).json()["headers"]["x-k"]]

    assert asyncio.run(main()) == ["k"]


# -- mutual TLS -------------------------------------------------------------------------------
def test_mtls_with_pem_certificate_and_custom_ca(mtls_server, tls_pki) -> None:
    mtls = MutualTLS(cert=tls_pki.client_cert_pem, key=tls_pki.client_key_pem, ca=tls_pki.ca_pem)
    with APIClient(mtls_server.url + "/api/", {"cert": mtls}) as client:
        assert client.get("hello").json()["path"] == "/api/hello"
    assert "PRIVATE KEY" not in repr(mtls)


def test_mtls_with_requests_style_paths(mtls_server, tls_pki, tmp_path) -> None:
    (tmp_path / "c.pem").write_text(tls_pki.client_cert_pem)
    (tmp_path / "k.pem").write_text(tls_pki.client_key_pem)
    kwargs = {"cert": (str(tmp_path / "c.pem"), str(tmp_path / "k.pem")), "verify": str(tls_pki.directory / "ca.pem")}
    with APIClient(mtls_server.url, kwargs) as client:
        assert client.get("api/x").status_code == 200


def test_mtls_without_or_with_a_wrong_client_certificate_fails(mtls_server, tls_pki) -> None:
    import trustme

    stranger = trustme.CA().issue_cert("mallory@example.org")
    wrong = MutualTLS(
        cert="".join(b.bytes().decode() for b in stranger.cert_chain_pems),
        key=stranger.private_key_pem.bytes().decode(),
        ca=tls_pki.ca_pem,
    )
    for kwargs in ({"verify": tls_pki.ca_pem, "retries": 0}, {"cert": wrong, "retries": 0}):
        with APIClient(mtls_server.url, kwargs) as client:
            with pytest.raises((httpx.ConnectError, httpx.ReadError, httpx.RemoteProtocolError)):
                client.get("api/x")
    assert mtls_server.state.hits == {}


def test_server_not_trusted_without_its_ca(mtls_server, tls_pki) -> None:
    mtls = MutualTLS(cert=tls_pki.client_cert_pem, key=tls_pki.client_key_pem)  # system CAs only
    with APIClient(mtls_server.url, {"cert": mtls, "retries": 0}) as client:
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            client.get("api/x")
