"""ClientCredentialsAuth sends rest-tools' token request and fails with rest-tools' text.

Against the real oidc-provider peer, and side by side with rest-tools' own
``ClientCredentialsAuth`` (the bench extra installs it) on a recording loopback issuer.
"""

from __future__ import annotations

from urllib.parse import parse_qs

import pytest

from interlink.http import TokenRequestError
from interlink.rest import ClientCredentialsAuth
from rest_servers import JSONFilesServer


def test_scope_and_secret_as_rest_tools_sends_them(oidc_provider, resource_server) -> None:
    before = oidc_provider.stats()["byAuth"].get("post", 0)
    api = ClientCredentialsAuth(resource_server.url + "/api", oidc_provider.issuer, "svc-post", "svc-post-secret")
    assert api.request_seq("GET", "/protected")["ok"]
    stats = oidc_provider.stats()
    assert stats["lastScope"] == "offline_access"
    assert stats["byAuth"]["post"] - before == 1
    api.close()


def test_given_scopes_replace_offline_access(oidc_provider, resource_server) -> None:
    api = ClientCredentialsAuth(resource_server.url + "/api", oidc_provider.issuer, "svc-post", "svc-post-secret",
                                scopes=["api"])
    assert api.request_seq("GET", "/protected")["ok"]
    assert oidc_provider.stats()["lastScope"] == "api"
    api.close()


def test_refused_token_request_says_rest_tools_text(oidc_provider, resource_server) -> None:
    api = ClientCredentialsAuth(resource_server.url + "/api", oidc_provider.issuer, "svc-post", "wrong-secret")
    with pytest.raises(TokenRequestError, match=r"^Token request failed: invalid_client$") as caught:
        api.make_access_token()
    assert caught.value.error == "invalid_client"
    assert caught.value.description == "client authentication failed"
    assert "wrong-secret" not in str(caught.value)
    with pytest.raises(TokenRequestError, match=r"^Token request failed: invalid_client$"):
        api.request_seq("GET", "/protected")
    api.close()


@pytest.fixture
def issuer():
    server = JSONFilesServer()
    server.get("/.well-known/openid-configuration", json_body={
        "issuer": server.url, "token_endpoint": server.url + "/token", "jwks_uri": server.url + "/jwks",
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
    })
    server.get("/jwks", json_body={"keys": []})
    server.get("/token", json_body={"access_token": "tok", "token_type": "Bearer", "expires_in": 300})
    yield server
    server.close()


def _token_posts(server: JSONFilesServer) -> list[tuple[dict[str, list[str]], str | None]]:
    return [(parse_qs(body.decode()), headers.get("Authorization"))
            for path, headers, body in server.posted if path == "/token"]


def test_same_form_as_rest_tools(issuer) -> None:
    client = pytest.importorskip("rest_tools.client", reason="wipac-rest-tools (bench extra) is the reference")
    theirs = client.ClientCredentialsAuth("http://127.0.0.1:9/api", issuer.url, "svc", "s3cret")
    assert theirs.make_access_token() == "tok"
    theirs.close()
    ours = ClientCredentialsAuth("http://127.0.0.1:9/api", issuer.url, "svc", "s3cret")
    assert ours.make_access_token() == "tok"
    ours.close()
    (their_form, their_auth), (our_form, our_auth) = _token_posts(issuer)
    assert their_form == {"grant_type": ["client_credentials"], "client_id": ["svc"],
                          "client_secret": ["s3cret"], "scope": ["offline_access"]}
    assert our_form == their_form
    assert our_auth is None and their_auth is None


def test_refusal_text_same_as_rest_tools(issuer) -> None:
    client = pytest.importorskip("rest_tools.client", reason="wipac-rest-tools (bench extra) is the reference")
    del issuer.documents["/token"]  # now answered 404 {"error": "not found"}
    theirs = client.ClientCredentialsAuth("http://127.0.0.1:9/api", issuer.url, "svc", "s3cret")
    ours = ClientCredentialsAuth("http://127.0.0.1:9/api", issuer.url, "svc", "s3cret")
    try:
        with pytest.raises(Exception) as their_error:
            theirs.make_access_token()
        with pytest.raises(TokenRequestError) as our_error:
            ours.make_access_token()
    finally:
        theirs.close()
        ours.close()
    assert str(their_error.value) == "Token request failed: not found"
    assert str(our_error.value) == str(their_error.value)
