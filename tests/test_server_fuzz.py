"""Arbitrary bodies, content types and field names at a live server: never a 500."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from test_wire_properties import NAMES, Colour, Inner

from servers import UvicornThread

from interlink import ApiServer, FileUpload
from interlink.store import MemoryKeys, Role  # a role row to build, not only to name

KEY = "k-0123456789abcdef"
SECRET = "a" * 40


@pytest.fixture(scope="module")
def fuzz_url() -> Any:
    api = ApiServer(authenticator=MemoryKeys({KEY: (SECRET, Role(name="fuzz"))}))

    @api.method(module="home")
    def call(
        rl: Role,
        filter: Inner,
        filters: list[Inner] = [],  # noqa: B006 - never mutated
        usernames: list[str] = [],  # noqa: B006
        active: bool = False,
        colour: Colour | None = None,
        counts: dict[int, float] = {},  # noqa: B006
        data: bytes = b"",
        upload: FileUpload | None = None,
        nested: dict[str, list[Inner]] = {},  # noqa: B006
    ) -> int:
        return len(filters) + len(usernames)

    server = UvicornThread(api)
    url = server.start()
    yield url
    server.stop()


BODIES = st.one_of(
    st.lists(st.tuples(NAMES, st.text(max_size=8)), max_size=6).map(lambda pairs: httpx.QueryParams(pairs).__str__().encode()),
    st.binary(max_size=64),
)
CONTENT_TYPES = st.sampled_from(
    ["application/x-www-form-urlencoded", "application/json", "multipart/form-data", "multipart/form-data; boundary=x",
     "text/plain", "", "application/x-www-form-urlencoded; charset=latin-1"]
)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(body=BODIES, content_type=CONTENT_TYPES, with_key=st.booleans(), method=st.sampled_from(["POST", "POST", "GET", "PUT"]))
def test_no_input_gives_a_500(fuzz_url: str, body: bytes, content_type: str, with_key: bool, method: str) -> None:
    headers = {"content-type": content_type} if content_type else {}
    if with_key:
        headers["authorization"] = httpx.BasicAuth("fuzz", f"{KEY}:{SECRET}")._auth_header
    response = httpx.request(method, f"{fuzz_url}/api/home/call", content=body, headers=headers, timeout=10)
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert set(response.json()["error"]) <= {"code", "message", "field"}
