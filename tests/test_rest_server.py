"""interlink.rest's server side over real HTTP: a RestServer on Tornado on 127.0.0.1.

What rest-tools users rely on (error bodies, bearer JWTs, get_argument, the decorators) and
what is fixed or added on purpose (Server header, max_body_size, CORS, JSON 404, interlink
keys), each asserted on the wire.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from rest_servers import TornadoThread

SECRET = "0123456789abcdef" * 8
SERVER = "fruit-stand/1.0"
ORIGIN = "https://app.example.org"


def _build(authenticator: Any) -> Any:
    import tornado.web

    from interlink.rest import (
        RestHandler,
        RestHandlerSetup,
        RestServer,
        authenticated,
        catch_error,
        keycloak_role_auth,
        role_authorization,
        scope_role_auth,
    )

    class Echo(RestHandler):
        def get(self) -> None:
            self.write({"name": self.get_argument("name", "none")})

        def post(self) -> None:
            self.write({"name": self.get_argument("name", "none"), "kind": self.get_argument("kind")})

    class Fail(RestHandler):
        def get(self) -> None:
            raise tornado.web.HTTPError(400, reason="no fruit today")

        def post(self) -> None:
            raise RuntimeError("a detail the caller must not see")

    class Caught(RestHandler):
        @catch_error
        async def get(self) -> None:
            raise RuntimeError("a detail the caller must not see")

    class Me(RestHandler):
        @authenticated
        async def get(self) -> None:
            self.write({"user": self.current_user, "claims": self.auth_data, "auth_key": self.auth_key})

    class Admin(RestHandler):
        @role_authorization(roles=["admin"])
        async def get(self) -> None:
            self.write({"ok": True})

    class Scoped(RestHandler):
        @scope_role_auth(prefix="fruit", roles=["write"])
        async def get(self) -> None:
            self.write({"ok": True})

    class Realm(RestHandler):
        @keycloak_role_auth(roles=["admin"])
        async def get(self) -> None:
            self.write({"ok": True})

    setup = RestHandlerSetup(
        {"auth": {"secret": SECRET}, "server_header": SERVER, "cors": {"allowed_origins": [ORIGIN]}},
        authenticator=authenticator,
    )
    plain = RestHandlerSetup({"auth": {"secret": SECRET}})  # no CORS, default Server header
    server = RestServer(max_body_size=2000, server_header=SERVER)
    for path, handler in [
        ("/echo", Echo), ("/fail", Fail), ("/caught", Caught), ("/me", Me),
        ("/admin", Admin), ("/scoped", Scoped), ("/realm", Realm),
    ]:
        server.add_route(path, handler, setup)
    server.add_route("/plain", Echo, plain)
    # Every call counts as too slow: after four, the route is overloaded.
    server.add_route("/busy", Echo, RestHandlerSetup({"route_stats": {"timeout": 1e-9}}))
    return server


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """interlink's store in an SQLite file: user alice with roles admin and default, a key each."""
    from interlink.store import Database, KeyAuthenticator, create_key, create_role, create_user

    database = Database(f"sqlite:///{tmp_path_factory.mktemp('rest-keys') / 'store.db'}")
    database.migrate()
    with database.session() as session:
        alice = create_user(session, "alice")
        admin_key, admin_secret = create_key(session, create_role(session, alice, "admin"))
        plain_key, plain_secret = create_key(session, alice.default_role)
        found = {
            "admin": f"{admin_key.key_id}:{admin_secret.decode()}",
            "admin_id": admin_key.key_id,
            "default": f"{plain_key.key_id}:{plain_secret.decode()}",
        }
        session.commit()
    found["authenticator"] = KeyAuthenticator(database)
    yield found
    database.engine.dispose()


@pytest.fixture(scope="module")
def site(keys: dict[str, Any]) -> Iterator[str]:
    server = TornadoThread(lambda: _build(keys["authenticator"]))
    url = server.start()
    yield url
    server.stop()


@pytest.fixture(scope="module")
def http(site: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=site, trust_env=False, timeout=10) as client:
        yield client


def token(subject: str = "alice", **claims: Any) -> str:
    from interlink.rest import Auth

    return Auth(SECRET).create_token(subject, expiration=60, payload=claims)


def bearer(credential: str) -> dict[str, str]:
    return {"Authorization": f"bearer {credential}"}


def assert_error(response: httpx.Response, status: int, reason: str) -> None:
    assert response.status_code == status
    assert response.reason_phrase == reason
    assert response.json() == {"code": status, "error": reason}


# -- errors -----------------------------------------------------------------------------------
def test_http_error_is_json_with_the_reason_on_the_status_line(http: httpx.Client) -> None:
    assert_error(http.get("/fail"), 400, "no fruit today")


def test_an_exception_is_500_without_its_text(http: httpx.Client) -> None:
    response = http.post("/fail", json={})
    assert_error(response, 500, "Internal Server Error")
    assert "detail" not in response.text


def test_catch_error_names_the_handler(http: httpx.Client) -> None:
    assert_error(http.get("/caught"), 500, "Error in Caught")


def test_unknown_path_is_json_404(http: httpx.Client) -> None:
    response = http.get("/no/such/fruit")
    assert_error(response, 404, "Not Found")
    assert response.headers["Server"] == SERVER


def test_method_not_implemented_is_json_405(http: httpx.Client) -> None:
    assert_error(http.delete("/echo"), 405, "Method Not Allowed")


# -- get_argument ---------------------------------------------------------------------------
def test_get_argument_query_then_json_body_then_default(http: httpx.Client) -> None:
    assert http.get("/echo", params={"name": " apple "}).json() == {"name": "apple"}
    assert http.get("/echo").json() == {"name": "none"}
    both = http.post("/echo?name=query", json={"name": "body", "kind": "citrus"}).json()
    assert both == {"name": "query", "kind": "citrus"}
    assert http.post("/echo", json={"name": "body", "kind": 3}).json() == {"name": "body", "kind": 3}


def test_get_argument_without_default_is_400(http: httpx.Client) -> None:
    response = http.post("/echo", json={"name": "x"})
    assert response.status_code == 400
    assert response.json()["code"] == 400


@pytest.mark.parametrize(
    ("body", "reason"),
    [(b"{not json", "requests body is not JSON-encoded"), (b"[1, 2]", "JSON-encoded requests body must be a 'dict'")],
)
def test_body_that_is_not_a_json_object(http: httpx.Client, body: bytes, reason: str) -> None:
    assert_error(http.post("/echo", content=body), 400, reason)


# -- fixed: Server header, body size, CORS ----------------------------------------------------------
def test_server_header_is_the_configured_one_on_success_and_error(http: httpx.Client) -> None:
    assert http.get("/echo").headers["Server"] == SERVER
    assert http.get("/fail").headers["Server"] == SERVER
    assert http.get("/plain").headers["Server"] == "REST"  # rest-tools' default
    assert "TornadoServer" not in http.get("/plain").headers.get("Server", "")


def test_max_body_size_is_enforced_with_413(http: httpx.Client) -> None:
    fits = json.dumps({"name": "a" * 1000, "kind": "k"}).encode()
    assert http.post("/echo", content=fits).status_code == 200
    response = http.post("/echo", content=json.dumps({"name": "a" * 5000, "kind": "k"}).encode())
    assert_error(response, 413, "Payload Too Large")
    assert response.headers["Server"] == SERVER


def test_max_body_size_holds_for_chunked_bodies(site: str) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"name": "'
        for _ in range(10):
            yield b"a" * 500
        yield b'", "kind": "k"}'

    with httpx.Client(base_url=site, trust_env=False, timeout=10) as client:
        response = client.post("/echo", content=chunks())
    assert_error(response, 413, "Payload Too Large")


def test_cors_preflight_for_an_allowed_origin(http: httpx.Client) -> None:
    response = http.options(
        "/echo", headers={"Origin": ORIGIN, "Access-Control-Request-Method": "POST",
                          "Access-Control-Request-Headers": "authorization, content-type"},
    )
    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert set(response.headers["Access-Control-Allow-Methods"].split(", ")) == {"GET", "POST"}
    assert "Authorization" in response.headers["Access-Control-Allow-Headers"]
    simple = http.get("/echo", headers={"Origin": ORIGIN})
    assert simple.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert simple.headers["Vary"] == "Origin"


def test_cors_refuses_other_origins_and_is_off_unless_configured(http: httpx.Client) -> None:
    preflight = {"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"}
    assert_error(http.options("/echo", headers=preflight), 403, "CORS origin not allowed")
    assert "Access-Control-Allow-Origin" not in http.get("/echo", headers={"Origin": "https://evil.example"}).headers
    assert http.options("/plain", headers={**preflight, "Origin": ORIGIN}).status_code == 405
    assert "Access-Control-Allow-Origin" not in http.get("/plain", headers={"Origin": ORIGIN}).headers


def test_overloaded_route_answers_503_with_retry_after(http: httpx.Client) -> None:
    for _ in range(4):
        assert http.get("/busy").status_code == 200
    response = http.get("/busy")
    assert_error(response, 503, "server overloaded")
    assert int(response.headers["Retry-After"]) >= 1  # fixed: rest-tools' Retry-After was lost
    assert http.get("/echo").status_code == 200  # stats are per route


def test_route_stats_remember_a_bounded_number_of_paths() -> None:
    from interlink.rest._stats import RouteStatsTable

    table = RouteStatsTable(max_paths=100)
    for number in range(1000):
        table[f"/fruits/{number}"].append(0.1)
    assert len(table) == 100
    assert "/fruits/999" in table and "/fruits/0" not in table


# -- JWTs and decorators --------------------------------------------------------------------------
def test_bearer_jwt_makes_current_user_and_auth_data(http: httpx.Client) -> None:
    credential = token("alice", role="admin")
    body = http.get("/me", headers=bearer(credential)).json()
    assert body["user"] == "alice"
    assert body["claims"]["role"] == "admin"
    assert body["auth_key"] == credential


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "bearer not-a-jwt"}, {"Authorization": "Basic YTpi"}],
)
def test_authenticated_refuses_without_a_valid_token(http: httpx.Client, headers: dict[str, str]) -> None:
    assert_error(http.get("/me", headers=headers), 403, "authentication failed")


def test_a_token_signed_with_another_secret_is_refused(http: httpx.Client) -> None:
    from interlink.rest import Auth

    forged = Auth("another secret" * 8).create_token("alice", payload={"role": "admin"})
    assert_error(http.get("/admin", headers=bearer(forged)), 403, "authentication failed")


def test_role_decorators_over_http(http: httpx.Client) -> None:
    assert http.get("/admin", headers=bearer(token(role="admin"))).json() == {"ok": True}
    assert_error(http.get("/admin", headers=bearer(token(role="reader"))), 403, "authorization failed")
    assert http.get("/scoped", headers=bearer(token(scope="fruit:write other"))).status_code == 200
    assert_error(http.get("/scoped", headers=bearer(token(scope="fruit:read"))), 403, "authorization failed")
    assert http.get("/realm", headers=bearer(token(realm_access={"roles": ["admin"]}))).status_code == 200
    assert_error(http.get("/realm", headers=bearer(token())), 403, "authorization failed")


# -- interlink keys ---------------------------------------------------------------------------------
def test_interlink_key_is_a_bearer_credential(http: httpx.Client, keys: dict[str, Any]) -> None:
    body = http.get("/me", headers=bearer(keys["admin"])).json()
    assert body["user"] == "alice"
    assert body["claims"]["role"] == "admin"
    assert body["claims"]["interlink_key"] == keys["admin_id"]
    assert body["auth_key"] == keys["admin_id"]  # the key id, never its secret
    assert keys["admin"].split(":", 1)[1] not in json.dumps(body)


def test_role_decorators_apply_to_interlink_keys(http: httpx.Client, keys: dict[str, Any]) -> None:
    assert http.get("/admin", headers=bearer(keys["admin"])).json() == {"ok": True}
    assert http.get("/realm", headers=bearer(keys["admin"])).status_code == 200
    assert_error(http.get("/admin", headers=bearer(keys["default"])), 403, "authorization failed")


def test_wrong_interlink_key_secret_is_refused(http: httpx.Client, keys: dict[str, Any]) -> None:
    wrong = keys["admin_id"] + ":" + "x" * 40
    assert_error(http.get("/me", headers=bearer(wrong)), 403, "authentication failed")


def test_keys_are_not_accepted_without_a_store() -> None:
    server = TornadoThread(lambda: _build(None))
    url = server.start()
    try:
        credential = "k-0123456789abcdef:secret"
        response = httpx.get(url + "/me", headers=bearer(credential), trust_env=False)
        assert_error(response, 403, "authentication failed")
    finally:
        server.stop()


# -- client-only installs -------------------------------------------------------------------------
def test_interlink_rest_imports_without_tornado(tmp_path: Path) -> None:
    """A client-only install: the client names import, a server name says which extra."""
    import subprocess
    import sys

    (tmp_path / "tornado.py").write_text("raise ImportError('No module named tornado')\n")
    code = (
        "import interlink.rest as r\n"
        "assert r.RestClient and r.Auth and r.ArgumentSource\n"
        "try:\n    r.RestServer\nexcept ImportError as e:\n    print(e)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
        env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stderr
    assert "rest-server" in done.stdout


def test_a_key_refused_by_the_store_is_not_authenticated() -> None:
    """The store raises Forbidden for a good key used from outside its allowed networks: the
    handler treats it as no credential (403 authentication failed), never as a 500."""
    from interlink.errors import Forbidden

    class OutsideNetworks:
        async def authenticate_key(self, key_id: str, secret: str, *, client: str | None = None) -> Any:
            raise Forbidden(f"key {key_id} may not be used from {client}")

    server = TornadoThread(lambda: _build(OutsideNetworks()))
    url = server.start()
    try:
        response = httpx.get(url + "/me", headers=bearer("k-0123456789abcdef:secret"), trust_env=False)
        assert_error(response, 403, "authentication failed")
        assert httpx.get(url + "/me", headers=bearer(token()), trust_env=False).status_code == 200  # JWTs still work
    finally:
        server.stop()
