"""interlink.django under Django's own test client: the specification's rules through Django's
request handling (WSGI-style and, with AsyncClient, ASGI-style), on the project in
tests/django_project migrated on a SQLite file. Real servers: tests/test_django_servers.py."""

from __future__ import annotations

import json
import re
import time
import uuid
from typing import Any

import pytest

from django_support import basic, django_ready, new_key, new_user

django_ready()

from django.contrib.auth import get_user_model  # noqa: E402
from django.test import AsyncClient, Client  # noqa: E402
from django.urls import reverse  # noqa: E402

from interlink import ApiServer  # noqa: E402
from interlink.credentials import check_key_secret  # noqa: E402
from interlink.server import Call  # noqa: E402
from interlink.django import Key, Role  # noqa: E402

from django_project.accounts.models import Note  # noqa: E402

FORM = "application/x-www-form-urlencoded"
PASSWORD = "correct horse battery"


@pytest.fixture
def client() -> Client:
    return Client(enforce_csrf_checks=True)


@pytest.fixture
def user() -> Any:
    return new_user(password=PASSWORD)


@pytest.fixture
def key(user: Any) -> tuple[str, str]:
    return new_key(user)


def post(client: Client, method: str, body: str = "", **extra: Any) -> Any:
    return client.post(f"/api/home/{method}", data=body, content_type=FORM, **extra)


def error(response: Any) -> dict[str, Any]:
    assert response["Content-Type"] == "application/json"
    body = json.loads(response.content)
    assert set(body) == {"error"}, body
    return body["error"]


# -- the app: models, URLs, exports -------------------------------------------------------------


def test_every_exported_name_can_be_imported() -> None:
    import interlink.django as package

    for name in package.__all__:
        assert getattr(package, name) is not None


def test_url_names_are_module_slash_method_in_the_api_namespace() -> None:
    assert reverse("api:home/describe_user") == "/api/home/describe_user"
    assert reverse("api:openapi") == "/api/openapi.json"
    assert reverse("api:docs") == "/api/docs"


def test_a_key_keeps_only_the_hash_of_its_secret(user: Any) -> None:
    key = Key.objects.create(role=Role.default_for(user))
    assert key.api_id == key.key_id and re.fullmatch(r"k-[0-9a-f]{16}", key.api_id)
    secret = key.create_secret()
    assert isinstance(secret, bytes) and len(secret) == 40
    stored = Key.objects.get(pk=key.pk)
    assert secret.decode() not in json.dumps([stored.secret_hash, stored.key_id])
    assert check_key_secret(secret.decode(), stored.secret_hash)


def test_default_role_is_made_once_and_may_do_everything(user: Any) -> None:
    role = Role.default_for(user)
    assert Role.default_for(user).pk == role.pk
    assert role.api_id.startswith("r-") and role.is_default and role.has("anything")
    other = Role.objects.create(user=user, name="everyday", permissions=["reports.read"])
    assert other.has("reports.read") and not other.has("users.write")


def test_api_model_ids_are_made_on_insert(user: Any) -> None:
    assert re.fullmatch(r"u-[0-9a-f]{16}", user.api_id)
    notes = Note.objects.bulk_create([Note(owner=user, text="a"), Note(owner=user, text="b")])
    ids = {n.api_id for n in Note.objects.filter(owner=user)}
    assert len(ids) == 2 and all(i.startswith("n-") for i in ids) and notes


# -- credentials --------------------------------------------------------------------------------


def test_authorisation_field(client: Client, user: Any, key: tuple[str, str]) -> None:
    response = post(client, "describe_user", f"user={user.api_id}&authorisation={key[0]}:{key[1]}")
    assert response.status_code == 200
    assert json.loads(response.content) == {"user": user.api_id, "username": user.username}


def test_basic_user_key_basic_key_and_bearer(client: Client, user: Any, key: tuple[str, str]) -> None:
    key_id, secret = key
    for header in (basic(user.username, f"{key_id}:{secret}"), basic(key_id, secret), f"Bearer {key_id}:{secret}"):
        response = post(client, "whoami", headers={"Authorization": header})
        assert response.status_code == 200, response.content
        assert json.loads(response.content)["user"] == user.username


def test_basic_user_key_of_another_user_is_refused(client: Client, key: tuple[str, str]) -> None:
    other = new_user()
    response = post(client, "whoami", headers={"Authorization": basic(other.username, f"{key[0]}:{key[1]}")})
    assert response.status_code == 401
    assert error(response)["code"] == "not_authorised"


def test_query_authorisation_works_warns_and_is_not_logged(client: Client, key: tuple[str, str],
                                                            caplog: pytest.LogCaptureFixture) -> None:
    import logging

    caplog.set_level(logging.INFO)
    response = client.post(f"/api/home/whoami?authorisation={key[0]}:{key[1]}")
    assert response.status_code == 200
    warnings = [r for r in caplog.records if r.name == "interlink.server" and r.levelno == logging.WARNING]
    assert warnings and "query string" in warnings[0].getMessage()
    assert all(key[1] not in r.getMessage() for r in caplog.records)


def test_basic_password_through_authenticate(client: Client, user: Any) -> None:
    response = post(client, "whoami", headers={"Authorization": basic(user.username, PASSWORD)})
    assert response.status_code == 200
    assert json.loads(response.content) == {"user": user.username, "role": "default", "client": "127.0.0.1"}


def test_an_inactive_user_cannot_use_the_password(client: Client) -> None:
    user = new_user(password=PASSWORD, is_active=False)
    response = post(client, "whoami", headers={"Authorization": basic(user.username, PASSWORD)})
    assert response.status_code == 401


def test_wrong_passwords_are_limited(client: Client, user: Any) -> None:
    statuses = []
    for _ in range(7):
        response = post(client, "whoami", headers={"Authorization": basic(user.username, "wrong password")})
        statuses.append(response.status_code)
    assert statuses[:5] == [401] * 5
    assert statuses[-1] == 429
    assert int(response["Retry-After"]) >= 1
    assert error(response)["code"] == "too_many_requests"


def test_no_credentials_is_401_with_a_bearer_challenge(client: Client) -> None:
    response = post(client, "whoami")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'
    assert "needs credentials" in error(response)["message"]


def test_wrong_key_is_401(client: Client, key: tuple[str, str]) -> None:
    response = post(client, "whoami", f"authorisation={key[0]}:{'x' * 40}")
    assert response.status_code == 401
    assert error(response) == {"code": "not_authorised", "message": "unknown, revoked or wrong key"}


def test_a_revoked_key_is_refused_within_two_seconds(client: Client, key: tuple[str, str]) -> None:
    body = f"authorisation={key[0]}:{key[1]}"
    assert post(client, "whoami", body).status_code == 200  # now remembered by the authenticator
    Key.objects.get(key_id=key[0]).revoke()
    time.sleep(2.05)
    assert post(client, "whoami", body).status_code == 401


def test_a_key_outside_its_networks_is_forbidden(client: Client, user: Any) -> None:
    key_id, secret = new_key(user)
    Key.objects.filter(key_id=key_id).update(allowed_networks=["10.0.0.0/8"])
    response = post(client, "whoami", f"authorisation={key_id}:{secret}")
    assert response.status_code == 403
    assert key_id in error(response)["message"]


def test_permissions(client: Client, user: Any) -> None:
    without = new_key(user, "everyday")
    response = post(client, "report", f"authorisation={without[0]}:{without[1]}")
    assert response.status_code == 403
    assert "reports.read" in error(response)["message"]
    granted = new_key(user, "reports", ["reports.read"])
    assert post(client, "report", f"authorisation={granted[0]}:{granted[1]}").status_code == 200


def test_public_method_needs_no_credentials(client: Client) -> None:
    response = post(client, "ping")
    assert response.status_code == 200 and json.loads(response.content) == "pong"


# -- the session and Django's CSRF --------------------------------------------------------------


def csrf_token_of(page: Any) -> str:
    found = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page.content)
    assert found is not None
    return found.group(1).decode()


def test_a_page_form_posted_with_the_csrf_token_runs_as_the_default_role(client: Client, user: Any) -> None:
    assert client.login(username=user.username, password=PASSWORD)
    page = client.get("/page/")
    action = re.search(rb'<form id="describe" method="POST" action="([^"]+)"', page.content)
    assert action is not None and action.group(1) == b"/api/home/describe_user"
    user_field = re.search(rb'name="user" value="([^"]+)"', page.content)
    assert user_field is not None and user_field.group(1).decode() == user.api_id
    response = client.post("/api/home/describe_user", {"csrfmiddlewaretoken": csrf_token_of(page), "user": user.api_id})
    assert response.status_code == 200, response.content
    assert json.loads(response.content) == {"user": user.api_id, "username": user.username}


def test_the_session_without_a_csrf_token_is_403(client: Client, user: Any) -> None:
    client.login(username=user.username, password=PASSWORD)
    response = client.post("/api/home/whoami", {"text": "x"})
    assert response.status_code == 403
    message = error(response)["message"]
    assert "CSRF" in message and "{% csrf_token %}" in message


def test_the_session_with_a_wrong_csrf_token_is_403(client: Client, user: Any) -> None:
    client.login(username=user.username, password=PASSWORD)
    client.get("/page/")
    response = client.post("/api/home/whoami", {"csrfmiddlewaretoken": "x" * 64})
    assert response.status_code == 403


def test_the_x_csrftoken_header_works_for_scripts(client: Client, user: Any) -> None:
    client.login(username=user.username, password=PASSWORD)
    token = csrf_token_of(client.get("/page/"))
    response = client.post("/api/home/whoami", data="{}", content_type="application/json",
                           headers={"X-CSRFToken": token})
    assert response.status_code == 200
    assert json.loads(response.content)["user"] == user.username


def test_a_key_needs_no_csrf_token_even_beside_a_session(client: Client, user: Any, key: tuple[str, str]) -> None:
    client.login(username=user.username, password=PASSWORD)
    response = post(client, "whoami", f"authorisation={key[0]}:{key[1]}")
    assert response.status_code == 200


def test_a_logged_out_session_is_401(client: Client, user: Any) -> None:
    client.login(username=user.username, password=PASSWORD)
    token = csrf_token_of(client.get("/page/"))
    session = client.cookies["sessionid"].value
    client.logout()
    client.cookies["sessionid"] = session  # the old cookie, sent again
    response = client.post("/api/home/whoami", {"csrfmiddlewaretoken": token})
    assert response.status_code in (401, 403)
    assert error(response)["code"] in ("not_authorised", "forbidden")


# -- arguments, as the specification sends them --------------------------------------------------


@pytest.fixture
def auth(key: tuple[str, str]) -> str:
    return f"authorisation={key[0]}:{key[1]}"


@pytest.mark.parametrize(
    ("method", "body", "expected"),
    [
        ("list_users", "usernames.0=joebloggs&usernames.1=johndoe", ["joebloggs", "johndoe"]),
        ("list_users", "usernames=joebloggs&usernames=johndoe", ["joebloggs", "johndoe"]),
        ("list_users", "usernames.=", []),
        ("list_users", "usernames.=&usernames=a", ["a"]),
        ("between", "filter.name_gt=a&filter.name_lt=p", ["a", "p"]),
        ("search", "search.=", {"username": "", "tags": []}),
        ("flag", "active=off&active=on", True),
        ("flag", "active=No", False),
        ("colour", "colour=green", "green"),
        ("when", "at=86400.5", 86400.5),
        ("counts", "counts.a=1&counts.b=2", {"a": 1, "b": 2}),
    ],
)
def test_arguments(client: Client, auth: str, method: str, body: str, expected: Any) -> None:
    response = post(client, method, f"{body}&{auth}")
    assert response.status_code == 200, response.content
    assert json.loads(response.content) == expected


@pytest.mark.parametrize(
    ("method", "body", "field"),
    [
        ("flag", "active=maybe", "active"),
        ("colour", "colour=purple", "colour"),
        ("when", "at=yesterday", "at"),
        ("counts", "counts.a=many", "counts.a"),
        ("describe_user", "user=u-0000000000000000", "user"),
        ("describe_user", "user=r-0000000000000000", "user"),
        ("between", "filter.name_gt=a", "filter.name_lt"),
    ],
)
def test_bad_arguments_are_400_naming_the_field(client: Client, auth: str, method: str, body: str, field: str) -> None:
    response = post(client, method, f"{body}&{auth}")
    assert response.status_code == 400, response.content
    assert error(response)["field"] == field


def test_json_body(client: Client, key: tuple[str, str]) -> None:
    body = json.dumps({"usernames": ["a", "b"], "authorisation": f"{key[0]}:{key[1]}"})
    response = client.post("/api/home/list_users", data=body, content_type="application/json")
    assert response.status_code == 200 and json.loads(response.content) == ["a", "b"]


def test_a_json_body_that_is_not_an_object_is_400(client: Client) -> None:
    response = client.post("/api/home/list_users", data="[1]", content_type="application/json")
    assert response.status_code == 400
    assert error(response)["code"] == "bad_arguments"


def test_invalid_utf8_is_400_as_on_the_asgi_server(client: Client, auth: str) -> None:
    response = client.post("/api/home/list_users", data=b"usernames=%FF%FE&" + auth.encode(), content_type=FORM)
    assert response.status_code == 400


def test_unsupported_content_type_is_415(client: Client) -> None:
    response = client.post("/api/home/list_users", data="x", content_type="text/csv")
    assert response.status_code == 415
    assert error(response)["code"] == "unsupported_media_type"


def test_file_upload(client: Client, key: tuple[str, str]) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("notes.txt", b"hello world", content_type="text/plain")
    response = client.post("/api/home/upload", {"upload": upload, "authorisation": f"{key[0]}:{key[1]}"})
    assert response.status_code == 200, response.content
    assert json.loads(response.content) == {"filename": "notes.txt", "size": 11}


def test_a_body_over_the_limit_is_413(client: Client, auth: str) -> None:
    from django_project.api import api

    body = f"usernames={'x' * (api.max_body_size + 1)}&{auth}"
    response = post(client, "list_users", body)
    assert response.status_code == 413
    assert error(response)["code"] == "payload_too_large"


# -- statuses, the transaction, errors ----------------------------------------------------------


def test_unknown_method_is_404_and_get_is_405(client: Client) -> None:
    response = post(client, "no_such_thing")
    assert response.status_code == 404 and error(response)["code"] == "no_such_method"
    response = client.get("/api/home/whoami")
    assert response.status_code == 405 and response["Allow"] == "POST"
    assert error(response)["code"] == "method_not_allowed"


def test_call_db_commits_on_return_and_rolls_back_on_error(client: Client, user: Any, auth: str) -> None:
    text = uuid.uuid4().hex
    response = post(client, "add_note", f"text={text}&{auth}")
    assert response.status_code == 200
    assert Note.objects.get(api_id=json.loads(response.content)).text == text
    response = post(client, "add_note", f"text=rolled-back-{text}&fail=yes&{auth}")
    assert response.status_code == 400 and error(response)["field"] == "fail"
    assert not Note.objects.filter(text=f"rolled-back-{text}").exists()
    assert json.loads(post(client, "notes", auth).content) == [text]


def test_a_bug_in_a_method_is_a_logged_500(client: Client, auth: str, caplog: pytest.LogCaptureFixture) -> None:
    response = post(client, "broken", auth)
    assert response.status_code == 500
    assert error(response) == {"code": "server_error", "message": "internal error; it has been logged"}
    assert "home.broken" in caplog.text


def test_async_method_under_the_sync_handler(client: Client, auth: str) -> None:
    response = post(client, "hello", f"name=joe&{auth}")
    assert response.status_code == 200 and json.loads(response.content) == "hello joe"


# -- the ASGI handler (AsyncClient) -------------------------------------------------------------


@pytest.mark.anyio
async def test_async_client_runs_async_and_plain_methods(key: tuple[str, str], user: Any) -> None:
    client = AsyncClient(enforce_csrf_checks=True)
    auth = f"authorisation={key[0]}:{key[1]}"
    response = await client.post("/api/home/hello", data=f"name=ann&{auth}", content_type=FORM)
    assert response.status_code == 200 and json.loads(response.content) == "hello ann"
    response = await client.post("/api/home/describe_user", data=f"user={user.api_id}&{auth}", content_type=FORM)
    assert response.status_code == 200 and json.loads(response.content)["username"] == user.username
    response = await client.post("/api/home/whoami", data="", content_type=FORM)
    assert response.status_code == 401
    response = await client.get("/api/openapi.json")
    assert response.status_code == 200


# -- OpenAPI and the docs page ------------------------------------------------------------------


def test_openapi_document_under_the_mount(client: Client) -> None:
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    document = json.loads(response.content)
    assert "/api/home/describe_user" in document["paths"]
    assert document["info"]["title"] == "django project"


def test_docs_page_and_its_assets(client: Client) -> None:
    page = client.get("/api/docs")
    assert page.status_code == 200 and b"/api/openapi.json" in page.content
    assert b"/api/docs/static/swagger-ui-bundle.js" in page.content
    asset = client.get("/api/docs/static/swagger-ui.css")
    assert asset.status_code == 200 and asset["Content-Type"].startswith("text/css")
    assert client.get("/api/docs/static/..%2Fsettings.py").status_code == 404


# -- the admin ----------------------------------------------------------------------------------


def test_the_admin_never_shows_a_secret_or_its_hash(client: Client) -> None:
    admin = get_user_model().objects.create_superuser(f"admin-{uuid.uuid4().hex[:8]}", password=PASSWORD)
    key = Key.objects.create(role=Role.default_for(admin))
    secret = key.create_secret().decode()
    key.refresh_from_db()
    client.force_login(admin)
    pages = [client.get(f"/admin/interlink/key/{key.pk}/change/"), client.get("/admin/interlink/key/"),
             client.get(f"/admin/interlink/role/{key.role.pk}/change/")]
    for page in pages:
        assert page.status_code == 200
        assert secret.encode() not in page.content
        assert key.secret_hash.encode() not in page.content and key.secret_hash[7:].encode() not in page.content
    assert key.key_id.encode() in pages[0].content
    assert client.get("/admin/interlink/key/add/").status_code == 403


# -- Django's settings that reach a call --------------------------------------------------------


@pytest.mark.anyio
async def test_atomic_requests_leave_the_views_alone(key: tuple[str, str]) -> None:
    # Django refuses ATOMIC_REQUESTS around an async view; the call keeps its own transaction.
    from django.db import connections

    settings_dict = connections.settings["default"]
    settings_dict["ATOMIC_REQUESTS"] = True
    try:
        client = AsyncClient()
        response = await client.post("/api/home/hello", data=f"name=x&authorisation={key[0]}:{key[1]}", content_type=FORM)
    finally:
        settings_dict["ATOMIC_REQUESTS"] = False
    assert response.status_code == 200


def test_djangos_memory_limit_on_form_bodies_is_413(client: Client, auth: str) -> None:
    from django.test import override_settings

    with override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=1000):
        response = post(client, "list_users", f"usernames={'x' * 2000}&{auth}")
    assert response.status_code == 413
    assert error(response)["code"] == "payload_too_large"


def test_client_address_behind_a_trusted_proxy(key: tuple[str, str]) -> None:
    from django.test import RequestFactory

    from interlink.django._shell import DjangoShell

    api = ApiServer(trusted_proxies=["127.0.0.1/32"])

    @api.method(module="home")
    def where(rl: Role, call: Call) -> str:
        return call.client or ""

    shell = DjangoShell(api)
    factory = RequestFactory()
    body = f"authorisation={key[0]}:{key[1]}"
    forwarded = factory.post("/api/home/where", data=body, content_type=FORM,
                             headers={"X-Forwarded-For": "198.51.100.7, 203.0.113.9"}, REMOTE_ADDR="127.0.0.1")
    assert json.loads(shell.answer(forwarded, "home/where").content) == "203.0.113.9"
    # From a peer that is not a trusted proxy, the header is the caller's word only: ignored.
    direct = factory.post("/api/home/where", data=body, content_type=FORM,
                          headers={"X-Forwarded-For": "203.0.113.9"}, REMOTE_ADDR="192.0.2.1")
    assert json.loads(shell.answer(direct, "home/where").content) == "192.0.2.1"


def test_a_session_with_nobody_logged_in_is_401_even_for_a_public_method(client: Client) -> None:
    session = client.session
    session["cart"] = ["an anonymous visitor's"]
    session.save()
    token = csrf_token_of(client.get("/login/"))
    response = client.post("/api/home/ping", {"csrfmiddlewaretoken": token})
    assert response.status_code == 401
    assert error(response)["code"] == "not_authorised"


def test_an_api_servers_own_authenticator_is_used(user: Any) -> None:
    from django.test import RequestFactory

    from interlink.django._shell import DjangoShell
    from interlink.store import MemoryKeys

    secret = "s" * 40
    api = ApiServer(authenticator=MemoryKeys({"k-00000000000000aa": (secret, Role(user=user, name="in memory"))}))

    @api.method(module="home")
    def role_name(rl: Role) -> str:
        return rl.name

    shell = DjangoShell(api)
    request = RequestFactory().post("/api/home/role_name", data=f"authorisation=k-00000000000000aa:{secret}",
                                    content_type=FORM)
    assert json.loads(shell.answer(request, "home/role_name").content) == "in memory"


def test_a_large_upload_goes_through_djangos_temporary_file(client: Client, key: tuple[str, str]) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    data = bytes(range(256)) * (3 * 4096)  # 3 MiB: past FILE_UPLOAD_MAX_MEMORY_SIZE, so on disk
    upload = SimpleUploadedFile("big.bin", data, content_type="application/octet-stream")
    response = client.post("/api/home/upload", {"upload": upload, "authorisation": f"{key[0]}:{key[1]}"})
    assert response.status_code == 200, response.content
    assert json.loads(response.content) == {"filename": "big.bin", "size": len(data)}


def test_a_key_revoked_with_the_admins_action_is_refused_within_two_seconds(client: Client, key: tuple[str, str]) -> None:
    body = f"authorisation={key[0]}:{key[1]}"
    assert post(client, "whoami", body).status_code == 200
    admin = get_user_model().objects.create_superuser(f"admin-{uuid.uuid4().hex[:8]}", password=PASSWORD)
    browser = Client()
    browser.force_login(admin)
    pk = Key.objects.get(key_id=key[0]).pk
    response = browser.post("/admin/interlink/key/", {"action": "revoke", "_selected_action": [str(pk)]})
    assert response.status_code == 302
    assert Key.objects.get(pk=pk).revoked_at is not None
    time.sleep(2.05)
    assert post(client, "whoami", body).status_code == 401
