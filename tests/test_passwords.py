"""The API-calls specification's "User's Default Role": ``curl -u joebloggs:password``, with argon2id password
hashes set through the CLI, failed-login rate limits, and a check that costs the same for
unknown users. Real uvicorn server on 127.0.0.1, real database (SQLite and PostgreSQL)."""

from __future__ import annotations

import logging
import subprocess
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from interlink import ApiServer, Role
from interlink.cli import main
from interlink.server._ratelimit import FailureLimiter
from interlink.store import User, find_user

PASSWORD = "correct horse battery staple"


def cli(database: Any, *args: str, input: str | None = None) -> str:
    result = CliRunner().invoke(main, ["--database", database.url, *args], input=input)
    assert result.exit_code == 0, result.output
    return result.stdout


def build_api(database: Any, **options: Any) -> ApiServer:
    api = ApiServer(database=database, **options)
    home = api.module("home")

    @home.method
    def describe_site(rl: Role) -> dict[str, Any]:
        return {"user": rl.user.username, "role": rl.name, "default": rl.is_default}

    return api


def curl(url: str, user: str) -> tuple[int, str]:
    # The specification's form: curl -X POST -u joebloggs:password -d ... https://.../api/home/describe_site
    out = subprocess.run(
        ["curl", "-sS", "-X", "POST", "-u", user, "-d", "", "-w", "\n%{http_code}", url],
        capture_output=True, text=True, check=True, timeout=30,
    ).stdout
    body, _, status = out.rpartition("\n")
    return int(status), body


@pytest.fixture
def joe(database: Any) -> Any:
    cli(database, "users", "create", "joebloggs", "--password-stdin", input=PASSWORD + "\n")
    cli(database, "users", "create", "johndoe", "--password-stdin", input="johns password\n")
    return database


def test_seed_curl_with_username_and_password_runs_as_default_role(joe: Any, live_server: Any) -> None:
    url = live_server(build_api(joe)) + "/api/home/describe_site"
    status, body = curl(url, f"joebloggs:{PASSWORD}")
    assert status == 200, body
    assert '"user":"joebloggs"' in body and '"default":true' in body


def test_wrong_password_and_unknown_user_are_401(joe: Any, live_server: Any) -> None:
    url = live_server(build_api(joe)) + "/api/home/describe_site"
    assert curl(url, "joebloggs:not the password")[0] == 401
    assert curl(url, f"nobody:{PASSWORD}")[0] == 401
    with joe.session() as session:
        session.add(User(username="nopass"))  # a user without a password never logs in by one
    assert curl(url, "nopass:")[0] == 401


def test_password_is_stored_as_argon2id_and_never_plain(joe: Any) -> None:
    with joe.session() as session:
        stored = find_user(session, "joebloggs").password_hash
    assert stored is not None and stored.startswith("$argon2id$") and PASSWORD not in stored
    if joe.is_sqlite:
        path = joe.url.removeprefix("sqlite:///")
        joe.dispose()
        data = b"".join(open(p, "rb").read() for p in (path,))
        assert PASSWORD.encode() not in data


def test_set_password_replaces_the_old_one(joe: Any, live_server: Any) -> None:
    url = live_server(build_api(joe)) + "/api/home/describe_site"
    cli(joe, "users", "set-password", "joebloggs", "--password-stdin", input="a brand new one\n")
    assert curl(url, f"joebloggs:{PASSWORD}")[0] == 401
    assert curl(url, "joebloggs:a brand new one")[0] == 200


def test_short_password_is_refused_by_the_cli(database: Any) -> None:
    result = CliRunner().invoke(
        main, ["--database", database.url, "users", "create", "x", "--password-stdin"], input="short\n"
    )
    assert result.exit_code != 0 and "at least 8" in result.output


def test_password_never_reaches_the_logs(joe: Any, live_server: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    url = live_server(build_api(joe)) + "/api/home/describe_site"
    curl(url, "joebloggs:wrong password here")
    curl(url, f"joebloggs:{PASSWORD}")
    assert "wrong password here" not in caplog.text and PASSWORD not in caplog.text


def test_failed_logins_are_limited_per_user(joe: Any, live_server: Any) -> None:
    api = build_api(joe, login_limiter=FailureLimiter(per_user=3, per_address=100))
    url = live_server(api) + "/api/home/describe_site"
    for _ in range(3):
        assert curl(url, "joebloggs:guess")[0] == 401
    status, body = curl(url, f"joebloggs:{PASSWORD}")  # even the right password, for now
    assert status == 429 and "too many failed logins" in body
    assert curl(url, "johndoe:johns password")[0] == 200  # other users are not locked out


def test_failed_logins_are_limited_per_client_address(joe: Any, live_server: Any) -> None:
    api = build_api(joe, login_limiter=FailureLimiter(per_user=100, per_address=3))
    url = live_server(api) + "/api/home/describe_site"
    for name in ("a1", "a2", "a3"):
        assert curl(url, f"{name}:guess")[0] == 401
    assert curl(url, "johndoe:johns password")[0] == 429
    # Key guesses count too: the address is refused whatever it sends.
    response = httpx.post(url, data={"authorisation": "k-0123456789abcdef:nope"})
    assert response.status_code == 429


def test_unknown_user_check_runs_a_full_argon2_verification(monkeypatch: pytest.MonkeyPatch) -> None:
    # Constant time without a timing assertion: the unknown-user path must do the same work,
    # i.e. one argon2 verify of the given password against a hash with the real parameters.
    from interlink.store import _passwords as passwords

    calls: list[str] = []
    real = passwords._hasher

    class Spy:
        def verify(self, hash: str, password: str) -> bool:
            calls.append(hash.split("$")[3])  # the m=,t=,p= parameters
            return real.verify(hash, password)

        def __getattr__(self, name: str) -> Any:
            return getattr(real, name)

    monkeypatch.setattr(passwords, "_hasher", Spy())
    stored = passwords.hash_password("a real password")
    assert passwords.verify_password("guess", None) is False
    assert passwords.verify_password("guess", stored) is False
    assert len(calls) == 2 and calls[0] == calls[1] == stored.split("$")[3]
