"""Site sessions and CSRF over real HTTP (httpx against uvicorn on 127.0.0.1): the login form's
double-submit token, the session cookie's attributes (Secure over HTTPS), API calls as the
user's default role with a CSRF field or header, 403 without one, logout, and the template
helpers."""

from __future__ import annotations

import re
import ssl
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from interlink import ApiServer, Role
from interlink.cli import main
from interlink.server import FailureLimiter, Site

PASSWORD = "joes site password"


def build(database: Any, tmp_path: Any, **options: Any) -> tuple[ApiServer, Site]:
    api = ApiServer(database=database, **options)
    home = api.module("home")

    @home.method
    def describe_user(rl: Role) -> dict[str, Any]:
        return {"user": rl.user.username, "default": rl.is_default}

    (tmp_path / "me.html").write_text(
        '<form id="f" method="post" action="{{ api_url(\'api:home/describe_user\') }}">'
        "{{ csrf_field() }}</form><span id=user>{{ user.username }}</span>"
    )
    site = Site(api, templates=tmp_path)
    site.page("/me", "me.html")
    return api, site


@pytest.fixture
def joe(database: Any) -> Any:
    result = CliRunner().invoke(
        main, ["--database", database.url, "users", "create", "joebloggs", "--password-stdin"], input=PASSWORD + "\n"
    )
    assert result.exit_code == 0, result.output
    return database


def login(client: httpx.Client, password: str = PASSWORD) -> httpx.Response:
    form = client.get("/login?next=/me").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', form)[1]  # type: ignore[index]
    return client.post("/login", data={"username": "joebloggs", "password": password,
                                       "csrf_token": token, "next": "/me"})


def csrf_of(client: httpx.Client) -> str:
    page = client.get("/me")
    assert page.status_code == 200, page.text
    return re.search(r'name="csrf_token" value="([^"]+)"', page.text)[1]  # type: ignore[index]


def test_login_session_cookie_and_csrf_protected_calls(joe: Any, live_server: Any, tmp_path: Any) -> None:
    api, _ = build(joe, tmp_path)
    with httpx.Client(base_url=live_server(api)) as client:
        assert client.get("/me").status_code == 303  # anonymous: to the login page
        response = login(client)
        assert response.status_code == 303 and response.headers["location"] == "/me"
        set_cookie = next(v for v in response.headers.get_list("set-cookie") if v.startswith("interlink_session="))
        assert "HttpOnly" in set_cookie and "SameSite=lax" in set_cookie and "Secure" not in set_cookie
        token = csrf_of(client)
        assert 'action="/api/home/describe_user"' in client.get("/me").text

        ok = client.post("/api/home/describe_user", data={"csrf_token": token})
        assert ok.status_code == 200 and ok.json() == {"user": "joebloggs", "default": True}
        # Django's field name and a header work too (forms ported from Django templates, scripts).
        assert client.post("/api/home/describe_user", data={"csrfmiddlewaretoken": token}).status_code == 200
        assert client.post("/api/home/describe_user", headers={"x-csrf-token": token}).status_code == 200
        assert client.post("/api/home/describe_user", json={"csrf_token": token}).status_code == 200

        for data in ({}, {"csrf_token": "forged"}):
            refused = client.post("/api/home/describe_user", data=data)
            assert refused.status_code == 403
            assert refused.json()["error"]["message"].startswith("CSRF token missing or wrong")

        # Logout needs the token too, then ends the session in the database.
        assert client.post("/logout", data={}).status_code == 403
        cookie = client.cookies["interlink_session"]
        assert client.post("/logout", data={"csrf_token": token}).status_code == 303
    with httpx.Client(base_url=live_server(api), cookies={"interlink_session": cookie}) as stale:
        gone = stale.post("/api/home/describe_user", data={"csrf_token": token})
        assert gone.status_code == 401


def test_login_form_needs_its_csrf_token_and_the_right_password(joe: Any, live_server: Any, tmp_path: Any) -> None:
    api, _ = build(joe, tmp_path, login_limiter=FailureLimiter(per_user=2, per_address=100))
    with httpx.Client(base_url=live_server(api)) as client:
        client.get("/login")
        forged = client.post("/login", data={"username": "joebloggs", "password": PASSWORD, "csrf_token": "x"})
        assert forged.status_code == 403 and "CSRF" in forged.text
        assert login(client, "wrong").status_code == 401
        assert login(client, "wrong again").status_code == 401
        limited = login(client)
        assert limited.status_code == 429 and "too many failed logins" in limited.text
        assert "interlink_session" not in client.cookies


def test_open_redirects_are_refused(joe: Any, live_server: Any, tmp_path: Any) -> None:
    api, _ = build(joe, tmp_path)
    with httpx.Client(base_url=live_server(api)) as client:
        form = client.get("/login").text
        token = re.search(r'name="csrf_token" value="([^"]+)"', form)[1]  # type: ignore[index]
        response = client.post("/login", data={"username": "joebloggs", "password": PASSWORD,
                                               "csrf_token": token, "next": "//evil.example/"})
        assert response.status_code == 303 and response.headers["location"] == "/"


def test_key_calls_ignore_cookies_and_need_no_csrf(joe: Any, live_server: Any, tmp_path: Any) -> None:
    api, _ = build(joe, tmp_path)
    url = live_server(api)
    response = httpx.post(url + "/api/home/describe_user", auth=("joebloggs", PASSWORD),
                          cookies={"interlink_session": "whatever"})
    assert response.status_code == 200


def test_session_cookie_is_secure_over_https(joe: Any, live_server: Any, tmp_path: Any) -> None:
    import trustme

    authority = trustme.CA()
    cert = authority.issue_cert("127.0.0.1")
    certfile, keyfile = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.private_key_and_cert_chain_pem.write_to_path(str(certfile))
    cert.private_key_pem.write_to_path(str(keyfile))
    api, _ = build(joe, tmp_path)
    url = live_server(api, ssl_certfile=str(certfile), ssl_keyfile=str(keyfile)).replace("http:", "https:")
    context = ssl.create_default_context()
    authority.configure_trust(context)
    with httpx.Client(base_url=url, verify=context) as client:
        response = login(client)
        set_cookie = next(v for v in response.headers.get_list("set-cookie") if v.startswith("interlink_session="))
        assert "Secure" in set_cookie and "HttpOnly" in set_cookie
        assert client.post("/api/home/describe_user", data={"csrf_token": csrf_of(client)}).status_code == 200


def test_api_url_helper(joe: Any, tmp_path: Any) -> None:
    api, site = build(joe, tmp_path)
    assert site.api_url("api:home/describe_user") == "/api/home/describe_user"
    assert site.api_url("home.describe_user") == "/api/home/describe_user"
    with pytest.raises(LookupError):
        site.api_url("home/nothing")
