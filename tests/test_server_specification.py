"""The API-calls specification's "Passing In Arguments" and "Authorising" rules, each sent as
the specification writes it, as a raw body to a real interlink server under uvicorn on
127.0.0.1 with a real database."""

from __future__ import annotations

import base64
import datetime as dt
import enum
import logging
import shutil
import subprocess
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from interlink import ApiServer, FileUpload, Role, User
from interlink.store import create_key, create_role, create_user

FORM = {"content-type": "application/x-www-form-urlencoded"}


class Colour(enum.Enum):
    red = "r"
    green = "g"


@dataclass
class UserFilter:
    name_gt: str
    name_lt: str


@dataclass
class NoFields:
    pass


@dataclass
class Search:
    username: str = ""
    tags: list[str] = field(default_factory=list)


@dataclass
class UserDescription:
    user: User
    username: str


def build_api(database: Any) -> ApiServer:
    api = ApiServer(database=database)
    home = api.module("home")

    @home.method
    def describe_user(rl: Role, user: User) -> UserDescription:
        return UserDescription(user=user, username=user.username)

    @home.method
    def describe_site(rl: Role) -> dict[str, str]:
        return {"role": rl.name, "user": rl.user.username}

    @home.method
    def single(
        rl: Role,
        n: None = None,
        b: bool | None = None,
        i: int | None = None,
        f: float | None = None,
        s: str | None = None,
        by: bytes | None = None,
        e: Colour | None = None,
        d: dt.datetime | None = None,
        u: User | None = None,
    ) -> dict[str, Any]:
        return {
            "n": repr(n), "b": repr(b), "i": repr(i), "f": repr(f), "s": repr(s), "by": repr(by),
            "e": repr(e), "d": repr(d), "u": u.username if u else None,
        }

    @home.method
    def find(rl: Role, filter: Search) -> dict[str, Any]:
        return {"username": filter.username, "tags": filter.tags}

    @home.method
    def checkbox(rl: Role, active: bool) -> bool:
        return active

    @home.method
    def list_users(rl: Role, filter: UserFilter) -> list[str]:
        return [filter.name_gt, filter.name_lt]

    @home.method
    def empty(rl: Role, filter: NoFields) -> str:
        return type(filter).__name__

    @home.method
    def usernames(rl: Role, usernames: list[str]) -> list[str]:
        return usernames

    @home.method
    def filters(rl: Role, filters: list[UserFilter]) -> list[list[str]]:
        return [[f.name_gt, f.name_lt] for f in filters]

    @home.method
    def prices(rl: Role, prices: dict[str, int]) -> dict[str, int]:
        return prices

    @home.method
    def by_number(rl: Role, names: dict[int, str]) -> list[list[Any]]:
        return sorted([k, v] for k, v in names.items())

    @home.method
    def upload(rl: Role, upload: FileUpload) -> dict[str, Any]:
        return {"filename": upload.filename, "type": upload.content_type, "data": upload.read().decode()}

    @home.method
    def when(rl: Role, at: dt.datetime) -> dict[str, Any]:
        return {"iso": at.isoformat(), "aware": at.tzinfo is not None}

    @home.method
    def colour(rl: Role, colour: Colour) -> Colour:
        return colour

    @home.method
    async def ping() -> str:
        return "pong"

    return api


@pytest.fixture
def site(database: Any, live_server: Any) -> dict[str, Any]:
    with database.session() as session:
        joe = create_user(session, "joebloggs")
        create_user(session, "johndoe")
        everyday = create_role(session, joe, "everyday")
        key, secret = create_key(session, everyday)
        session.commit()
        facts = {"user_id": joe.api_id, "key_id": key.key_id, "secret": secret.decode()}
    url = live_server(build_api(database))
    client = httpx.Client(base_url=url, timeout=10)
    auth = f"authorisation={facts['key_id']}:{facts['secret']}"

    def post(path: str, body: str, **kwargs: Any) -> httpx.Response:
        return client.post(f"/api/home/{path}", content=body, headers=FORM, **kwargs)

    yield {**facts, "url": url, "auth": auth, "post": post, "client": client}
    client.close()


def ok(response: httpx.Response) -> Any:
    assert response.status_code == 200, response.text
    return response.json()


def bad(response: httpx.Response, status: int = 400) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    return response.json()["error"]


# -- Passing In Arguments --------------------------------------------------------------------


def test_model_argument_as_seed_curl(site: dict[str, Any]) -> None:
    body = f"user={site['user_id']}&{site['auth']}"
    result = ok(site["post"]("describe_user", body))
    assert result == {"user": site["user_id"], "username": "joebloggs"}


def test_unknown_model_is_400_naming_field(site: dict[str, Any]) -> None:
    error = bad(site["post"]("describe_user", f"user=u-12346789&{site['auth']}"))
    assert error["field"] == "user" and "no such User" in error["message"]


def test_every_single_value_kind(site: dict[str, Any]) -> None:
    data = base64.b64encode(b"\x00\xffbytes").decode()
    body = (
        f"n=&b=yes&i=-42&f=2.5&s=joebloggs&by={data.replace('+', '%2B')}&e=green&d=1700000000.25"
        f"&u={site['user_id']}&{site['auth']}"
    )
    result = ok(site["post"]("single", body))
    assert result == {
        "n": "None", "b": "True", "i": "-42", "f": "2.5", "s": "'joebloggs'", "by": repr(b"\x00\xffbytes"),
        "e": "<Colour.green: 'g'>", "u": "joebloggs",
        "d": repr(dt.datetime(2023, 11, 14, 22, 13, 20, 250000, tzinfo=dt.UTC)),
    }


def test_dotted_single_value(site: dict[str, Any]) -> None:
    assert ok(site["post"]("find", f"filter.username=joebloggs&{site['auth']}")) == {"username": "joebloggs", "tags": []}


@pytest.mark.parametrize("name", ["i", "s", "e", "f"])
def test_single_value_sent_twice_is_400(site: dict[str, Any], name: str) -> None:
    value = {"i": "1", "s": "x", "e": "red", "f": "1.5"}[name]
    error = bad(site["post"]("single", f"{name}={value}&{name}={value}&{site['auth']}"))
    assert error["field"] == name and "more than once" in error["message"]


@pytest.mark.parametrize("text", ["0", "False", "false", "No", "no", "Off", "off"])
def test_bool_false_spellings(site: dict[str, Any], text: str) -> None:
    assert ok(site["post"]("checkbox", f"active={text}&{site['auth']}")) is False


@pytest.mark.parametrize("text", ["1", "True", "true", "Yes", "yes", "On", "on"])
def test_bool_true_spellings(site: dict[str, Any], text: str) -> None:
    assert ok(site["post"]("checkbox", f"active={text}&{site['auth']}")) is True


@pytest.mark.parametrize("text", ["", "2", "TRUE", "y", "maybe"])
def test_bool_other_spellings_are_400(site: dict[str, Any], text: str) -> None:
    assert bad(site["post"]("checkbox", f"active={text}&{site['auth']}"))["field"] == "active"


def test_checkbox_bool_hidden_off_then_checked_on(site: dict[str, Any]) -> None:
    # <input type="hidden" name="active" value="off"><input type="checkbox" name="active">
    assert ok(site["post"]("checkbox", f"active=off&active=on&{site['auth']}")) is True
    assert ok(site["post"]("checkbox", f"active=off&{site['auth']}")) is False
    assert ok(site["post"]("checkbox", f"active=on&active=off&{site['auth']}")) is False
    assert bad(site["post"]("checkbox", f"active=off&active=on&active=on&{site['auth']}"))["field"] == "active"


def test_enum_by_name_not_value(site: dict[str, Any]) -> None:
    assert ok(site["post"]("colour", f"colour=red&{site['auth']}")) == "red"
    error = bad(site["post"]("colour", f"colour=r&{site['auth']}"))
    assert error["field"] == "colour" and "red" in error["message"]


def test_datetime_as_float_timestamp_is_utc_aware(site: dict[str, Any]) -> None:
    result = ok(site["post"]("when", f"at=86400.5&{site['auth']}"))
    assert result == {"iso": "1970-01-02T00:00:00.500000+00:00", "aware": True}
    assert bad(site["post"]("when", f"at=yesterday&{site['auth']}"))["field"] == "at"


def test_file_upload_multipart(site: dict[str, Any]) -> None:
    response = site["client"].post(
        "/api/home/upload",
        data={"authorisation": f"{site['key_id']}:{site['secret']}"},
        files={"upload": ("notes.txt", b"hello upload", "text/plain")},
    )
    assert ok(response) == {"filename": "notes.txt", "type": "text/plain", "data": "hello upload"}
    assert bad(site["post"]("upload", f"upload=notafile&{site['auth']}"))["field"] == "upload"


def test_dataclass_dotted_fields(site: dict[str, Any]) -> None:
    assert ok(site["post"]("list_users", f"filter.name_gt=a&filter.name_lt=p&{site['auth']}")) == ["a", "p"]


def test_dataclass_missing_field_names_it(site: dict[str, Any]) -> None:
    error = bad(site["post"]("list_users", f"filter.name_gt=a&{site['auth']}"))
    assert error["field"] == "filter.name_lt"


def test_dataclass_unknown_field_names_it(site: dict[str, Any]) -> None:
    error = bad(site["post"]("list_users", f"filter.name_gt=a&filter.name_lt=p&filter.nmae=x&{site['auth']}"))
    assert error["field"] == "filter.nmae"


def test_dataclass_without_fields_by_blank_name(site: dict[str, Any]) -> None:
    assert ok(site["post"]("empty", f"filter.=&{site['auth']}")) == "NoFields"
    assert bad(site["post"]("empty", site["auth"]))["field"] == "filter"


def test_marker_with_fields(site: dict[str, Any]) -> None:
    body = f"filter.=&filter.name_gt=a&filter.name_lt=p&{site['auth']}"
    assert ok(site["post"]("list_users", body)) == ["a", "p"]


def test_marker_with_fields_exactly_as_the_seed_writes_it(site: dict[str, Any]) -> None:
    # ...-d 'filter.=filter.name_gt=a&filter.name_lt=p&&autho...'...
    body = f"filter.=filter.name_gt=a&filter.name_lt=p&&{site['auth']}"
    assert ok(site["post"]("list_users", body)) == ["a", "p"]


def test_marker_consumed_once(site: dict[str, Any]) -> None:
    error = bad(site["post"]("usernames", f"usernames.=&usernames.=&{site['auth']}"))
    assert error["field"] == "usernames."


def test_list_with_indices(site: dict[str, Any]) -> None:
    body = f"usernames.0=joebloggs&usernames.1=johndoe&{site['auth']}"
    assert ok(site["post"]("usernames", body)) == ["joebloggs", "johndoe"]


def test_list_indices_order_items(site: dict[str, Any]) -> None:
    body = f"usernames.1=johndoe&usernames.0=joebloggs&{site['auth']}"
    assert ok(site["post"]("usernames", body)) == ["joebloggs", "johndoe"]


def test_list_of_single_values_without_indices(site: dict[str, Any]) -> None:
    body = f"usernames=joebloggs&usernames=johndoe&{site['auth']}"
    assert ok(site["post"]("usernames", body)) == ["joebloggs", "johndoe"]


def test_list_marker_with_bare_values_and_alone(site: dict[str, Any]) -> None:
    body = f"usernames.=&usernames=joebloggs&usernames=johndoe&{site['auth']}"
    assert ok(site["post"]("usernames", body)) == ["joebloggs", "johndoe"]
    assert ok(site["post"]("usernames", f"usernames.=&{site['auth']}")) == []
    assert bad(site["post"]("usernames", site["auth"]))["field"] == "usernames"


def test_bare_and_indexed_mixed_is_400(site: dict[str, Any]) -> None:
    assert bad(site["post"]("usernames", f"usernames=a&usernames.0=b&{site['auth']}"))["field"] == "usernames"


def test_list_of_dataclasses_needs_indices(site: dict[str, Any]) -> None:
    body = f"filters.0.name_gt=a&filters.0.name_lt=b&filters.1.name_gt=c&filters.1.name_lt=d&{site['auth']}"
    assert ok(site["post"]("filters", body)) == [["a", "b"], ["c", "d"]]
    assert bad(site["post"]("filters", f"filters=a&{site['auth']}"))["field"] == "filters"
    assert bad(site["post"]("filters", f"filters.0.name_gt=a&{site['auth']}"))["field"] == "filters.0.name_lt"


def test_dictionary_keys_are_name_parts(site: dict[str, Any]) -> None:
    assert ok(site["post"]("prices", f"prices.apple=3&prices.pear=4&{site['auth']}")) == {"apple": 3, "pear": 4}
    assert ok(site["post"]("prices", f"prices.=&{site['auth']}")) == {}
    assert bad(site["post"]("prices", f"prices.apple=three&{site['auth']}"))["field"] == "prices.apple"
    assert ok(site["post"]("by_number", f"names.2=two&names.10=ten&{site['auth']}")) == [[2, "two"], [10, "ten"]]
    assert bad(site["post"]("by_number", f"names.two=2&{site['auth']}"))["field"] == "names.two"


def test_query_parameters_are_arguments_too(site: dict[str, Any]) -> None:
    response = site["client"].post("/api/home/list_users?filter.name_gt=a", content=f"filter.name_lt=p&{site['auth']}", headers=FORM)
    assert ok(response) == ["a", "p"]
    response = site["client"].post("/api/home/list_users?filter.name_gt=a", content=f"filter.name_gt=b&filter.name_lt=p&{site['auth']}", headers=FORM)
    assert bad(response)["field"] == "filter.name_gt"


def test_json_body_same_types(site: dict[str, Any]) -> None:
    client = site["client"]
    auth = f"{site['key_id']}:{site['secret']}"
    response = client.post("/api/home/single", json={"authorisation": auth, "b": True, "e": "green", "d": 86400, "u": site["user_id"]})
    result = ok(response)
    assert result["b"] == "True" and result["e"] == "<Colour.green: 'g'>" and result["u"] == "joebloggs"
    assert result["d"] == repr(dt.datetime(1970, 1, 2, tzinfo=dt.UTC))
    assert bad(client.post("/api/home/colour", json={"authorisation": auth, "colour": "r"}))["field"] == "colour"
    assert bad(client.post("/api/home/list_users", json={"authorisation": auth, "filter": {"name_gt": "a"}}))["field"] == "filter.name_lt"


# -- Results ---------------------------------------------------------------------------------


def test_public_method_needs_no_credentials(site: dict[str, Any]) -> None:
    assert ok(site["client"].post("/api/home/ping")) == "pong"


# -- Authorising -----------------------------------------------------------------------------


def test_authorisation_field_as_seed_curl(site: dict[str, Any]) -> None:
    assert ok(site["post"]("describe_site", site["auth"])) == {"role": "everyday", "user": "joebloggs"}


def test_missing_or_wrong_credentials_are_401(site: dict[str, Any]) -> None:
    error = bad(site["post"]("describe_site", ""), 401)
    assert "authorisation" in error["message"]
    wrong = f"authorisation={site['key_id']}:{'x' * 40}"
    error = bad(site["post"]("describe_site", wrong), 401)
    assert "x" * 40 not in error["message"]
    assert bad(site["post"]("describe_site", "authorisation=garbage"), 401)["code"] == "not_authorised"


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is installed by the machine image")
def test_basic_with_key_as_password_with_curl(site: dict[str, Any]) -> None:
    # curl -X POST -u joebloggs:k-0123456789abcdef:abcdef... -d ... https://.../api/home/describe_site
    run = subprocess.run(
        ["curl", "-s", "-X", "POST", "-u", f"joebloggs:{site['key_id']}:{site['secret']}", "-d", "",
         f"{site['url']}/api/home/describe_site"],
        capture_output=True, text=True, timeout=20,
    )
    assert run.stdout == '{"role":"everyday","user":"joebloggs"}'
    run = subprocess.run(
        ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST", "-u",
         f"johndoe:{site['key_id']}:{site['secret']}", "-d", "", f"{site['url']}/api/home/describe_site"],
        capture_output=True, text=True, timeout=20,
    )
    assert run.stdout == "401"  # the key is joebloggs', not johndoe's


def test_query_string_credentials_work_warn_and_are_not_logged(site: dict[str, Any], caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    response = site["client"].post(f"/api/home/describe_site?{site['auth']}")
    assert ok(response)["role"] == "everyday"
    warnings = [r for r in caplog.records if r.name == "interlink.server" and r.levelno == logging.WARNING]
    assert warnings and "query string" in warnings[0].getMessage()
    server_side = [r for r in caplog.records if not r.name.startswith("httpx")]  # httpx is the test's client
    assert all(site["secret"] not in r.getMessage() for r in server_side)


def test_access_log_redaction_filter() -> None:
    from interlink.server import RedactCredentials

    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
                               ("127.0.0.1:5", "POST", "/api/home/x?authorisation=k-1:SECRET&a=1", "1.1", 200), None)
    RedactCredentials().filter(record)
    assert "SECRET" not in record.getMessage() and "a=1" in record.getMessage()


# -- Errors ----------------------------------------------------------------------------------


def test_error_statuses(site: dict[str, Any]) -> None:
    client = site["client"]
    assert bad(client.get("/api/home/describe_site"), 405)["code"] == "method_not_allowed"
    assert bad(client.post("/api/home/nope"), 404)["code"] == "no_such_method"
    assert bad(client.post("/api/nope/nope"), 404)["code"] == "no_such_method"
    response = client.post("/api/home/ping", content=b"<x/>", headers={"content-type": "application/xml"})
    assert bad(response, 415)["code"] == "unsupported_media_type"
    assert bad(client.post("/api/home/ping", content=b"{", headers={"content-type": "application/json"}))["code"] == "bad_arguments"
    assert bad(client.post("/api/home/ping", content=b"x=%ff", headers=FORM))["code"] == "bad_arguments"


def test_body_limit_is_413(database: Any, live_server: Any) -> None:
    api = ApiServer(database=database, max_body_size=1000)

    @api.method(module="home")
    async def ping(data: str = "") -> int:
        return len(data)

    url = live_server(api)
    with httpx.Client(base_url=url) as client:
        assert client.post("/api/home/ping", content=b"data=" + b"x" * 900, headers=FORM).json() == 900
        assert bad(client.post("/api/home/ping", content=b"data=" + b"x" * 2000, headers=FORM), 413)["code"] == "payload_too_large"
        chunks = (b"data=" + b"x" * 600 for _ in range(3))  # streamed: no Content-Length
        assert client.post("/api/home/ping", content=chunks, headers=FORM).status_code == 413
        big = {"upload": ("big.bin", b"x" * 5000, "application/octet-stream")}
        assert client.post("/api/home/ping", files=big).status_code == 413


def test_method_errors_are_500_without_details(site: dict[str, Any], database: Any, live_server: Any) -> None:
    api = ApiServer(database=database)

    @api.method(module="home")
    def broken() -> None:
        raise RuntimeError("secret internals")

    url = live_server(api)
    response = httpx.post(f"{url}/api/home/broken")
    assert bad(response, 500)["code"] == "server_error"
    assert "secret internals" not in response.text
