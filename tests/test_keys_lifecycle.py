"""Key lifecycle against a real server: expiry, revocation, rotation with two live secrets,
last-used time without a write per call, IP allowlists and trusted proxies, and permissions.
Keys are made with the `interlink` CLI, calls go over HTTP to uvicorn on 127.0.0.1."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from sqlalchemy import event

from interlink import ApiServer, Role
from interlink.cli import main
from interlink.store import KeyAuthenticator, find_key, utcnow


def cli(database: Any, *args: str) -> str:
    result = CliRunner().invoke(main, ["--database", database.url, *args])
    assert result.exit_code == 0, result.output
    return result.stdout


def new_key(database: Any, *args: str) -> tuple[str, str]:
    out = cli(database, "keys", "create", *args)
    match = re.search(r"access_key_id = (\S+)\naccess_key_secret = (\S+)", out)
    assert match, out
    return match[1], match[2]


def build_api(database: Any, **options: Any) -> ApiServer:
    api = ApiServer(database=database, **options)
    home = api.module("home")

    @home.method
    def describe_site(rl: Role) -> str:
        return rl.name

    @home.method(requires={"users.read"})
    def list_users(rl: Role) -> list[str]:
        return ["joebloggs"]

    @home.method
    def maybe_secret(rl: Role) -> str:
        return "secret" if rl.has("secrets.read") else "public"

    return api


@pytest.fixture
def db(database: Any) -> Any:
    cli(database, "users", "create", "joebloggs")
    cli(database, "roles", "create", "--user", "joebloggs", "everyday")
    cli(database, "roles", "create", "--user", "joebloggs", "reader", "--permission", "users.read",
        "--permission", "secrets.read")
    return database


def call(url: str, key: tuple[str, str], method: str = "describe_site", **kw: Any) -> httpx.Response:
    return httpx.post(f"{url}/api/home/{method}", data={"authorisation": f"{key[0]}:{key[1]}"}, **kw)


def test_expired_key_is_401(db: Any, live_server: Any) -> None:
    url = live_server(build_api(db))
    key = new_key(db, "--role", "everyday", "--expires-in", "30d")
    assert call(url, key).status_code == 200
    stale = new_key(db, "--role", "everyday")
    with db.session() as session:
        find_key(session, stale[0]).expires_at = utcnow() - dt.timedelta(seconds=1)
    response = call(url, stale)
    assert response.status_code == 401 and response.json()["error"]["code"] == "not_authorised"
    assert "expires" in cli(db, "keys", "list")


def test_revoked_key_is_401_and_listed(db: Any, live_server: Any) -> None:
    url = live_server(build_api(db, authenticator=KeyAuthenticator(db, cache_seconds=0)))
    key = new_key(db, "--role", "everyday")
    assert call(url, key).status_code == 200
    cli(db, "keys", "revoke", key[0])
    assert call(url, key).status_code == 401
    assert re.search(rf"{key[0]}.*revoked", cli(db, "keys", "list"))


def test_rotation_keeps_two_live_secrets_for_the_grace_time(db: Any, live_server: Any) -> None:
    url = live_server(build_api(db, authenticator=KeyAuthenticator(db, cache_seconds=0)))
    key_id, old = new_key(db, "--role", "everyday")
    out = cli(db, "keys", "rotate", key_id, "--grace", "1h")
    new = re.search(r"access_key_secret = (\S+)", out)[1]  # type: ignore[index]
    assert new != old
    assert call(url, (key_id, old)).status_code == 200
    assert call(url, (key_id, new)).status_code == 200
    assert "rotating" in cli(db, "keys", "list")
    # Rotating again with no grace: only the newest secret works.
    newest = re.search(r"access_key_secret = (\S+)", cli(db, "keys", "rotate", key_id, "--grace", "0"))[1]  # type: ignore[index]
    assert call(url, (key_id, old)).status_code == 401
    assert call(url, (key_id, new)).status_code == 401
    assert call(url, (key_id, newest)).status_code == 200


def test_old_secret_stops_when_the_grace_time_ends(db: Any, live_server: Any) -> None:
    url = live_server(build_api(db, authenticator=KeyAuthenticator(db, cache_seconds=0)))
    key_id, old = new_key(db, "--role", "everyday")
    cli(db, "keys", "rotate", key_id, "--grace", "1h")
    with db.session() as session:
        find_key(session, key_id).previous_secret_expires_at = utcnow() - dt.timedelta(seconds=1)
    assert call(url, (key_id, old)).status_code == 401


def test_last_used_is_recorded_in_batches_not_per_call(db: Any, live_server: Any) -> None:
    authenticator = KeyAuthenticator(db, cache_seconds=0, last_used_flush_seconds=3600)
    url = live_server(build_api(db, authenticator=authenticator))
    key = new_key(db, "--role", "everyday")
    writes: list[str] = []

    def on_execute(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith("UPDATE") and "interlink_keys" in statement:
            writes.append(statement)

    event.listen(db.engine, "before_cursor_execute", on_execute)
    try:
        for _ in range(10):
            assert call(url, key).status_code == 200
        assert writes == []  # ten calls (each even reloading the key): no write
        with db.session() as session:
            assert find_key(session, key[0]).last_used_at is None
        before = utcnow()
        assert authenticator.flush_last_used() == 1
        assert len(writes) == 1
    finally:
        event.remove(db.engine, "before_cursor_execute", on_execute)
    with db.session() as session:
        used = find_key(session, key[0]).last_used_at
    assert used is not None and before - dt.timedelta(minutes=1) < used <= utcnow()
    assert used.strftime("%Y-%m-%d %H:%M") in cli(db, "keys", "list")


def test_last_used_flushes_itself_on_a_cache_reload(db: Any, live_server: Any) -> None:
    authenticator = KeyAuthenticator(db, cache_seconds=0, last_used_flush_seconds=0)
    url = live_server(build_api(db, authenticator=authenticator))
    key = new_key(db, "--role", "everyday")
    assert call(url, key).status_code == 200
    assert call(url, key).status_code == 200  # this call's reload writes the first one's time
    with db.session() as session:
        assert find_key(session, key[0]).last_used_at is not None


def test_key_restricted_to_networks_is_403_elsewhere(db: Any, live_server: Any) -> None:
    url = live_server(build_api(db))
    local = new_key(db, "--role", "everyday", "--allow-network", "127.0.0.0/8")
    elsewhere = new_key(db, "--role", "everyday", "--allow-network", "192.0.2.0/24")
    assert call(url, local).status_code == 200
    response = call(url, elsewhere)
    assert response.status_code == 403 and "may not be used from 127.0.0.1" in response.json()["error"]["message"]
    # Basic user:keyid:secret is held to the same allowlist.
    response = httpx.post(f"{url}/api/home/describe_site", auth=("joebloggs", f"{elsewhere[0]}:{elsewhere[1]}"))
    assert response.status_code == 403
    assert "192.0.2.0/24" in cli(db, "keys", "list")


def test_forwarded_for_is_believed_only_from_trusted_proxies(db: Any, live_server: Any) -> None:
    # The X-Forwarded-For values are documentation addresses in a header: no traffic goes there.
    key = new_key(db, "--role", "everyday", "--allow-network", "198.51.100.0/24")
    forwarded = {"x-forwarded-for": "198.51.100.7"}
    # uvicorn itself rewrites the client from X-Forwarded-For for 127.0.0.1 unless told not to;
    # `interlink serve` and `make run` turn that off so that ApiServer(trusted_proxies=...) decides.
    untrusting = live_server(build_api(db), proxy_headers=False)
    assert call(untrusting, key, headers=forwarded).status_code == 403
    trusting = live_server(build_api(db, trusted_proxies=["127.0.0.1/32"]), proxy_headers=False)
    assert call(trusting, key, headers=forwarded).status_code == 200
    assert call(trusting, key).status_code == 403  # no header: the proxy itself is the client
    # A client can prepend a forged hop; the rightmost untrusted address is the one used.
    assert call(trusting, key, headers={"x-forwarded-for": "198.51.100.7, 203.0.113.9"}).status_code == 403


def test_permissions_from_the_cli_gate_methods(db: Any, live_server: Any) -> None:
    url = live_server(build_api(db))
    plain = new_key(db, "--role", "everyday")
    reader = new_key(db, "--role", "reader")
    default = new_key(db, "--role", "joebloggs/default")
    response = call(url, plain, "list_users")
    assert response.status_code == 403 and "users.read" in response.json()["error"]["message"]
    assert call(url, reader, "list_users").json() == ["joebloggs"]
    assert call(url, default, "list_users").status_code == 200  # the default role has them all
    assert call(url, plain, "maybe_secret").json() == "public"
    assert call(url, reader, "maybe_secret").json() == "secret"
    assert call(url, default, "maybe_secret").json() == "secret"
    openapi = httpx.get(f"{url}/api/openapi.json").json()
    operation = openapi["paths"]["/api/home/list_users"]["post"]
    assert operation["x-requires-permissions"] == ["users.read"]
