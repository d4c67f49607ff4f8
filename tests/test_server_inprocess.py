"""The server shell in-process: httpx's ASGITransport drives the ASGI app directly (the way
httpx and Starlette test themselves), for fast coverage of credentials, ``Call``, results and
site pages. Real-server tests (uvicorn on 127.0.0.1) cover the same app over sockets elsewhere."""

from __future__ import annotations

import base64
import logging
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from interlink import Call
from interlink.server import ApiServer
from interlink.store import Database, MemoryKeys, Role, User, create_key, create_user, find_user

KEY = ("k-0123456789abcdef", "abcdefghijklmnopqrstABCDEFGHIJKLMNOPQRST")


def memory_api() -> ApiServer:
    api = ApiServer(authenticator=MemoryKeys({KEY[0]: (KEY[1], Role(name="default"))}), docs=False)

    @api.method(module="home")
    def whoami(rl: Role) -> str:
        return rl.name

    @api.method(module="home")
    def wrong_result(rl: Role) -> list[str]:
        return None  # type: ignore[return-value]

    @api.method(module="home")
    async def ping() -> str:
        return "pong"

    return api


def post(api: Any, path: str, **kwargs: Any) -> httpx.Response:
    import anyio

    async def go() -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=api), base_url="http://test") as client:
            return await client.post(path, **kwargs)

    return anyio.run(go)


def basic(user: str, password: str) -> dict[str, str]:
    return {"authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


# -- credentials ----------------------------------------------------------------------------


def test_bearer_key_is_accepted() -> None:
    response = post(memory_api(), "/api/home/whoami", headers={"authorization": f"Bearer {KEY[0]}:{KEY[1]}"})
    assert response.status_code == 200, response.text
    assert response.json() == "default"


def test_basic_with_the_key_id_as_user_name_is_accepted() -> None:
    response = post(memory_api(), "/api/home/whoami", headers=basic(*KEY))
    assert response.status_code == 200, response.text


def test_wrong_basic_password_names_the_key_forms() -> None:
    response = post(memory_api(), "/api/home/whoami", headers=basic("joe", "nope"))
    assert response.status_code == 401
    assert "keyid:secret" in response.json()["error"]["message"]


def test_an_empty_authorisation_field_is_not_sent_twice() -> None:
    # Swagger UI and HTML forms send empty optional fields; with a header key that is no conflict.
    response = post(
        memory_api(), "/api/home/whoami", data={"authorisation": ""},
        headers={"authorization": f"Bearer {KEY[0]}:{KEY[1]}"},
    )
    assert response.status_code == 200, response.text


def test_an_unknown_authorization_scheme_is_a_401_not_anonymous() -> None:
    response = post(memory_api(), "/api/home/ping", headers={"authorization": "Digest abc"})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authorised"


@pytest.mark.parametrize("body", [b"null", b"[1, 2]", b'"text"', b"3"])
def test_a_json_body_must_be_an_object(body: bytes) -> None:
    response = post(memory_api(), "/api/home/ping", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "bad_arguments"


# -- results ----------------------------------------------------------------------------------


def test_a_result_of_the_wrong_type_is_logged_with_the_declared_type(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, logger="interlink.server"):
        response = post(memory_api(), "/api/home/wrong_result", data={"authorisation": ":".join(KEY)})
    assert response.status_code == 500
    assert response.json() == {"error": {"code": "server_error", "message": "internal error; it has been logged"}}
    assert "home.wrong_result returned None, declared list[str]" in caplog.text


# -- Call: the database, role and user of a call ------------------------------------------------


@dataclass
class UserFilter:
    name_gt: str = ""


@pytest.fixture
def store_api(database: Database) -> tuple[ApiServer, str]:
    api = ApiServer(database=database, docs=False)
    home = api.module("home")

    @home.method
    def list_users(rl: Role, call: Call, filter: UserFilter) -> list[User]:
        return list(call.db.scalars(select(User).where(User.username > filter.name_gt).order_by(User.username)))

    @home.method
    def me(rl: Role, call: Call) -> str:
        assert call.user is not None and call.role is rl
        return f"{call.user.username} from {call.client}"

    @home.method
    def rename_then_fail(rl: Role, call: Call, name: str) -> str:
        user = call.db.get(User, rl.user.id)
        user.username = name
        call.db.flush()
        raise RuntimeError("after the change")

    @home.method
    async def rename(rl: Role, call: Call, name: str) -> str:
        call.db.get(User, rl.user.id).username = name
        return name

    with database.session() as session:
        joe = create_user(session, "joebloggs")
        create_user(session, "alice")
        key, secret = create_key(session, joe.default_role)
        authorisation = f"{key.key_id}:{secret.decode()}"
    return api, authorisation


def test_call_db_returns_real_rows(store_api: tuple[ApiServer, str]) -> None:
    api, authorisation = store_api
    response = post(api, "/api/home/list_users", data={"filter.name_gt": "b", "authorisation": authorisation})
    assert response.status_code == 200, response.text
    with api.app.backend.database.session() as session:  # type: ignore[union-attr]
        joe = find_user(session, "joebloggs")
    assert response.json() == [joe.api_id]


def test_call_knows_the_user_and_the_client_address(store_api: tuple[ApiServer, str]) -> None:
    api, authorisation = store_api
    response = post(api, "/api/home/me", data={"authorisation": authorisation})
    assert response.status_code == 200, response.text
    assert response.json().startswith("joebloggs from ")


def test_call_db_rolls_back_when_the_method_raises(store_api: tuple[ApiServer, str], database: Database) -> None:
    api, authorisation = store_api
    response = post(api, "/api/home/rename_then_fail", data={"name": "zed", "authorisation": authorisation})
    assert response.status_code == 500
    with database.session() as session:
        assert find_user(session, "joebloggs").username == "joebloggs"


def test_call_db_commits_when_an_async_method_returns(store_api: tuple[ApiServer, str], database: Database) -> None:
    api, authorisation = store_api
    response = post(api, "/api/home/rename", data={"name": "joseph", "authorisation": authorisation})
    assert response.status_code == 200, response.text
    with database.session() as session:
        assert session.scalar(select(User).where(User.username == "joseph")) is not None


def test_call_db_without_a_database_is_a_clear_server_error(caplog: pytest.LogCaptureFixture) -> None:
    api = ApiServer(authenticator=MemoryKeys({}), docs=False)

    @api.method(module="home")
    def count(call: Call) -> int:
        return len(list(call.db.scalars(select(User))))

    response = post(api, "/api/home/count")
    assert response.status_code == 500
    assert "has no database" in response.json()["error"]["message"]


# -- layers -----------------------------------------------------------------------------------


def test_importing_the_server_loads_no_database_or_crypto_code() -> None:
    import subprocess
    import sys

    code = (
        "import sys, interlink.server, interlink.wire;"
        "print(sorted(m for m in ('sqlalchemy','alembic','cryptography','httpx') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_the_wire_imports_nothing_of_interlinks() -> None:
    import subprocess
    import sys

    code = "import sys, interlink.wire; print(sorted(m for m in sys.modules if m.startswith('interlink.') and not m.startswith('interlink.wire')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


# -- the credential reader is a parser too: bounded, and only ever a 401 ------------------------

from hypothesis import given, settings, strategies as st  # noqa: E402

from interlink.errors import NotAuthorised  # noqa: E402
from interlink.server._credentials import KeyCredentials, PasswordCredentials, read_credentials  # noqa: E402
from interlink.server._redaction import redact  # noqa: E402


@settings(max_examples=400, deadline=None)
@given(
    authorisation=st.none() | st.text(max_size=80),
    header=st.none()
    | st.text(max_size=80)
    | st.builds(lambda s, b: f"{s} {b}", st.sampled_from(["Basic", "basic", "Bearer", "bearer", "Digest"]),
                st.binary(max_size=60).map(lambda b: base64.b64encode(b).decode()) | st.text(max_size=60)),
)
def test_any_credentials_read_as_credentials_or_a_401(authorisation: str | None, header: str | None) -> None:
    try:
        found = read_credentials(authorisation, header)
    except NotAuthorised as error:
        assert error.status == 401
        secret = (authorisation or "").partition(":")[2]
        if len(secret) >= 8:  # a shorter one turns up in any sentence by chance ("1" in "16 hex digits")
            assert secret not in error.message
        return
    assert found is None or isinstance(found, (KeyCredentials, PasswordCredentials))


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200), st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=8, max_size=40))
def test_redaction_never_leaves_a_query_credential(text: str, secret: str) -> None:
    line = f"POST /api/x?{text}&%61uthorisation=k-0123456789abcdef:{secret} HTTP/1.1"
    assert f":{secret}" not in redact(line)
