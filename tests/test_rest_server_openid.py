"""Tokens from a real OpenID provider (oidc-provider under Node, ``tests/peers``), checked by
``OpenIDAuth`` and by a RestServer route: discovery, the provider's JWKS, ``aud``/``iss``/``exp``,
and key rotation (the provider restarted on the same address with a new signing key)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import jwt
import pytest
from peers_fixtures import OIDCProvider, start_oidc_provider, stop_oidc_provider
from rest_servers import JSONFilesServer, TornadoThread
from servers import free_port

RESOURCE = "urn:interlink:test-api"  # the audience the peer puts in its JWT access tokens


def provider_token(provider: OIDCProvider) -> str:
    response = httpx.post(
        f"{provider.issuer}/token",
        data={"grant_type": "client_credentials", "scope": "api"},
        auth=("svc-basic", "svc-basic-secret"),
        trust_env=False,
    )
    response.raise_for_status()
    return response.json()["access_token"]


def test_discovery_and_jwks_validate_a_provider_token(oidc_provider: OIDCProvider) -> None:
    from interlink.rest import OpenIDAuth

    auth = OpenIDAuth(oidc_provider.issuer, audience=RESOURCE)
    assert auth.token_url == f"{oidc_provider.issuer}/token"
    assert auth.public_keys, "the provider's keys were read at startup"
    claims = auth.validate(provider_token(oidc_provider))
    assert claims["iss"] == oidc_provider.issuer
    assert claims["aud"] == RESOURCE
    assert claims["client_id"] == "svc-basic"


def test_audience_and_issuer_are_checked(oidc_provider: OIDCProvider) -> None:
    from interlink.rest import OpenIDAuth

    token = provider_token(oidc_provider)
    with pytest.raises(jwt.InvalidAudienceError):
        OpenIDAuth(oidc_provider.issuer, audience="urn:another-api").validate(token)
    with pytest.raises(jwt.InvalidIssuerError):
        OpenIDAuth(oidc_provider.issuer, issuers=["https://issuer.example"]).validate(token)
    OpenIDAuth(oidc_provider.issuer, issuers=[oidc_provider.issuer]).validate(token)  # and the right one passes


def test_expired_token_is_refused(oidc_provider_short: OIDCProvider) -> None:
    from interlink.rest import OpenIDAuth

    auth = OpenIDAuth(oidc_provider_short.issuer, leeway=0)
    token = provider_token(oidc_provider_short)  # lives 2 seconds
    auth.validate(token)
    time.sleep(3)
    with pytest.raises(jwt.ExpiredSignatureError):
        auth.validate(token)


def signing_keys(path: Any, kid: str) -> str:
    """A private JWK Set with one new RSA key, written for the provider's OIDC_JWKS_FILE."""
    from cryptography.hazmat.primitives.asymmetric.rsa import generate_private_key

    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(generate_private_key(65537, 2048)))
    path.write_text(json.dumps({"keys": [{**jwk, "kid": kid, "alg": "RS256", "use": "sig"}]}))
    return str(path)


def test_key_rotation_reads_the_new_key_set(tmp_path: Any) -> None:
    from interlink.rest import BadJwtKey, OpenIDAuth

    port = str(free_port())
    first = start_oidc_provider(OIDC_PORT=port, OIDC_JWKS_FILE=signing_keys(tmp_path / "one.json", "key-one"))
    try:
        auth = OpenIDAuth(first.issuer, audience=RESOURCE, refresh_interval=0)
        old_token = provider_token(first)
        auth.validate(old_token)
    finally:
        stop_oidc_provider(first)
    # The same issuer URL, with a new signing key.
    second = start_oidc_provider(OIDC_PORT=port, OIDC_JWKS_FILE=signing_keys(tmp_path / "two.json", "key-two"))
    try:
        assert second.issuer == first.issuer
        new_token = provider_token(second)
        assert jwt.get_unverified_header(old_token)["kid"] == "key-one"
        assert jwt.get_unverified_header(new_token)["kid"] == "key-two"
        assert auth.validate(new_token)["client_id"] == "svc-basic"
        with pytest.raises(BadJwtKey):
            auth.validate(old_token)  # the retired key is gone from the provider's set
    finally:
        stop_oidc_provider(second)


def test_unknown_key_ids_do_not_refetch_on_every_request(gen_rsa: Any) -> None:
    """Fixed on purpose: rest-tools fetched the key set for every token with an unknown kid."""
    from interlink.rest import Auth, BadJwtKey, OpenIDAuth

    private_pem, public_jwk = gen_rsa
    provider = JSONFilesServer()
    try:
        provider.get("/.well-known/openid-configuration", json_body={"token_endpoint": provider.url + "/token", "jwks_uri": provider.url + "/jwks"})
        provider.get("/jwks", json_body={"keys": [{**public_jwk, "kid": "k1"}]})
        auth = OpenIDAuth(provider.url, refresh_interval=60)
        signer = Auth(private_pem, algorithm="RS256", issuer=provider.url)
        assert auth.validate(signer.create_token("alice", headers={"kid": "k1"}))["sub"] == "alice"
        for _ in range(5):
            with pytest.raises(BadJwtKey):
                auth.validate(signer.create_token("mallory", headers={"kid": "made-up"}))
        # Read once at startup; unknown kids within refresh_interval of that read do not read again.
        assert provider.hits["/jwks"] == 1
    finally:
        provider.close()


@pytest.fixture(scope="module")
def gen_rsa() -> tuple[bytes, dict[str, Any]]:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.rsa import generate_private_key

    key = generate_private_key(65537, 2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return pem, json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))


@pytest.fixture(scope="module")
def openid_site(oidc_provider: OIDCProvider) -> Iterator[str]:
    def build() -> Any:
        from interlink.rest import RestHandler, RestHandlerSetup, RestServer, authenticated

        class Me(RestHandler):
            @authenticated
            async def get(self) -> None:
                self.write({"user": self.current_user, "client": self.auth_data["client_id"]})

        server = RestServer()
        server.add_route("/me", Me, RestHandlerSetup({"auth": {"openid_url": oidc_provider.issuer, "audience": RESOURCE}}))
        return server

    server = TornadoThread(build)
    url = server.start()
    yield url
    server.stop()


def test_rest_handler_accepts_provider_tokens(openid_site: str, oidc_provider: OIDCProvider) -> None:
    token = provider_token(oidc_provider)
    response = httpx.get(f"{openid_site}/me", headers={"Authorization": f"Bearer {token}"}, trust_env=False)
    assert response.status_code == 200
    assert response.json()["client"] == "svc-basic"
    assert response.json()["user"] == jwt.decode(token, options={"verify_signature": False})["sub"]
    refused = httpx.get(f"{openid_site}/me", headers={"Authorization": f"Bearer {token}x"}, trust_env=False)
    assert refused.status_code == 403
    assert refused.json() == {"code": 403, "error": "authentication failed"}
