"""interlink.rest's OpenAPI validation beyond rest-tools' own tests: no value echoed, odd
input gets a 400 (never a 500), sync handler methods, and the parsers' fuzz tests."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import Iterator

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

openapi_core = pytest.importorskip("openapi_core")  # the rest-server extra (in the test extra)
import tornado.httpserver  # noqa: E402
import tornado.ioloop  # noqa: E402
import tornado.web  # noqa: E402
from jsonschema_path import SchemaPath  # noqa: E402

from interlink.rest import from_environment, strtobool, validate_request  # noqa: E402
from interlink.rest._client import LineSplitter  # noqa: E402
from interlink.rest._openapi_validation import schema_error_text  # noqa: E402

SPEC = openapi_core.OpenAPI(SchemaPath.from_dict({
    "openapi": "3.1.0",
    "info": {"title": "t", "version": "1"},
    "paths": {
        "/login": {"post": {
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "additionalProperties": False, "required": ["user", "pin"],
                "properties": {"user": {"type": "string", "maxLength": 8},
                               "pin": {"type": "string", "pattern": "^[0-9]{4}$"},
                               "tags": {"type": "array", "maxItems": 2, "items": {"enum": ["a", "b"]}}},
            }}}},
            "responses": {"200": {"description": "ok"}},
        }},
        "/sync/{n}": {"get": {
            "parameters": [{"name": "n", "in": "path", "required": True, "schema": {"type": "integer"}}],
            "responses": {"200": {"description": "ok"}},
        }},
    },
}))


class Login(tornado.web.RequestHandler):
    @validate_request(SPEC)
    async def post(self) -> None:
        self.write({"ok": True})


class SyncHandler(tornado.web.RequestHandler):
    @validate_request(SPEC)
    def get(self, n: str) -> None:  # a plain method works too
        self.write({"n": int(n)})


@pytest.fixture(scope="module")
def tornado_url() -> Iterator[str]:
    ready = threading.Event()
    holder: dict = {}

    def run() -> None:
        asyncio.set_event_loop(asyncio.new_event_loop())
        app = tornado.web.Application([(r"/login", Login), (r"/sync/(?P<n>[^/]+)", SyncHandler)])
        server = tornado.httpserver.HTTPServer(app)
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        sock.listen(128)
        sock.setblocking(False)
        server.add_sockets([sock])
        holder.update(loop=tornado.ioloop.IOLoop.current(), server=server, port=sock.getsockname()[1])
        ready.set()
        holder["loop"].start()
        server.stop()
        holder["loop"].close(all_fds=True)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    ready.wait(10)
    yield f"http://127.0.0.1:{holder['port']}"
    holder["loop"].add_callback(holder["loop"].stop)
    thread.join(10)


def test_reasons_name_the_field_and_rule_but_never_the_value(tornado_url: str) -> None:
    secret = "hunter2-secret-value"
    with httpx.Client(base_url=tornado_url) as http:
        r = http.post("/login", json={"user": secret, "pin": "12"})
        assert r.status_code == 400
        assert secret not in r.reason_phrase and secret not in r.text
        assert "'user': must be no more than 8 characters long" in r.reason_phrase
        assert "'pin': must match the pattern '^[0-9]{4}$'" in r.reason_phrase
        r = http.post("/login", json={"user": "u", "pin": "1234", "tags": ["a", "z"]})
        assert r.reason_phrase == "'tags.1': must be one of: 'a', 'b'"
        assert http.post("/login", json={"user": "u", "pin": "1234"}).json() == {"ok": True}
        assert http.get("/sync/7").json() == {"n": 7}
        assert http.get("/sync/x").reason_phrase == "Path parameter error: n"
        r = http.post("/login", content=b'{"user": "u", "pin": "' + secret.encode(), headers={"Content-Type": "application/json"})
        assert r.status_code == 400 and secret not in r.reason_phrase
        assert r.reason_phrase == "Request body validation error: Failed to deserialize value with application/json mimetype"


def test_schema_error_text_covers_each_keyword() -> None:
    from jsonschema import Draft202012Validator

    schema = {"type": "object", "properties": {
        "a": {"minimum": 3}, "b": {"maximum": 1}, "c": {"minLength": 2}, "d": {"minItems": 1},
        "e": {"uniqueItems": True}, "f": {"oneOf": [{"type": "string"}, {"type": "integer"}]},
        "g": {"minProperties": 1}, "h": {"maxProperties": 0}, "i": {"const": 1}, "j": {"type": "boolean"}}}
    errors = Draft202012Validator(schema).iter_errors(
        {"a": 1, "b": 2, "c": "x", "d": [], "e": [1, 1], "f": 1.5, "g": {}, "h": {"k": 1}, "i": 2, "j": "no"})
    texts = sorted(schema_error_text(e) for e in errors)
    assert texts == sorted([
        "'a': must be at least 3", "'b': must be no more than 1", "'c': must be at least 2 characters long",
        "'d': must have at least 1 items", "'e': items must be unique", "'f': must match one of the accepted types",
        "'g': must have at least 1 entries", "'h': must have no more than 0 entries", "'i': failed 'const' constraint",
        "'j': must be type 'boolean' (bool)",
    ])


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.one_of(json_values.map(lambda v: json.dumps(v).encode()), st.binary(max_size=200)),
       content_type=st.sampled_from(["application/json", "text/plain", "application/x-www-form-urlencoded", ""]))
def test_any_body_is_answered_200_or_400_never_500(tornado_url: str, body: bytes, content_type: str) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    r = httpx.post(tornado_url + "/login", content=body, headers=headers)
    assert r.status_code in (200, 400), r.text
    assert len(r.reason_phrase) <= 1000 and "\n" not in r.reason_phrase


@given(chunks=st.lists(st.binary(max_size=30), max_size=12))
def test_line_splitter_matches_a_one_shot_split(chunks: list[bytes]) -> None:
    lines = LineSplitter()
    got = [line for chunk in chunks for line in lines.feed(chunk)] + lines.end()
    expected = [line.strip() for line in b"".join(chunks).split(b"\n") if line.strip()]
    assert got == expected


@given(st.text(max_size=12))
def test_strtobool_accepts_only_the_documented_words(text: str) -> None:
    word = text.strip().lower()
    if word in {"y", "yes", "t", "true", "on", "1"}:
        assert strtobool(text) is True
    elif word in {"n", "no", "f", "false", "off", "0"}:
        assert strtobool(text) is False
    else:
        with pytest.raises(ValueError):
            strtobool(text)


@given(st.dictionaries(st.sampled_from(["A", "B", "C"]), st.text(max_size=10)))
def test_from_environment_casts_or_refuses_clearly(env: dict[str, str]) -> None:
    defaults = {"A": 0, "B": 0.5, "C": "x"}
    try:
        config = from_environment(defaults, environ=env)
    except ValueError as error:
        assert "key='A'" in str(error) or "key='B'" in str(error)
        return
    assert config["C"] == env.get("C", "x")
    assert isinstance(config["A"], int) and isinstance(config["B"], float)


_jwt_shaped = st.builds(
    lambda parts: ".".join(parts),
    st.lists(st.one_of(st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_", max_size=40),
                       st.sampled_from(["eyJhbGciOiJIUzI1NiJ9", "eyJhbGciOiJub25lIn0", "eyJraWQiOiJrMSJ9", "e30"])),
             min_size=1, max_size=4),
)


@settings(max_examples=200, deadline=None)
@given(token=st.one_of(st.text(max_size=60), _jwt_shaped))
def test_refresh_token_scope_never_fails_unexpectedly(token: str) -> None:
    """Any string as a refresh token: a scope string, or a JWT error / ``BadJwtKey`` (never a
    KeyError, TypeError... from half-read tokens)."""
    import jwt

    from interlink.rest import BadJwtKey
    from interlink.rest._openid import IssuerKeys, refresh_token_scope

    keys = IssuerKeys(None, fetch=lambda url: {"keys": []})
    try:
        assert isinstance(refresh_token_scope(token, keys), str)
    except (BadJwtKey, jwt.PyJWTError):
        pass


def test_load_openapi_spec_checks_the_file_and_fills_info_from_a_package(tmp_path) -> None:
    from openapi_spec_validator.validation.exceptions import OpenAPIValidationError

    from interlink.rest import get_version_vmaj, load_openapi_spec

    spec = {"openapi": "3.1.0", "info": {"title": "t", "version": "2.4.0"}, "paths": {}}
    path = tmp_path / "openapi.json"
    path.write_text(json.dumps(spec))
    loaded, as_dict = load_openapi_spec(path, "interlink")
    assert isinstance(loaded, openapi_core.OpenAPI)
    assert as_dict["info"]["title"] == "t" and as_dict["info"]["summary"].startswith("One toolkit")
    assert as_dict["info"]["license"] == {"name": "MIT"}
    assert get_version_vmaj(as_dict) == "v2"
    path.write_text(json.dumps({**spec, "info": {**spec["info"], "summary": "mine"}}))
    with pytest.raises(RuntimeError, match=r"Cannot auto-populate OpenAPI specification field 'info.summary'"):
        load_openapi_spec(path, "interlink")
    path.write_text(json.dumps({"openapi": "3.1.0", "info": {"title": "t"}, "paths": {}}))
    with pytest.raises(OpenAPIValidationError):
        load_openapi_spec(path)
