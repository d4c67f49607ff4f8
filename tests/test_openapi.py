"""The OpenAPI document says what the server does: credentials only as HTTP schemes, bodies that
refuse what the server refuses, every error status the server can answer. Each claim of the
document is checked against the example site served by uvicorn on a free loopback port."""

from __future__ import annotations

import dataclasses
import enum
import json
import os
from pathlib import Path
from typing import Any

import httpx
import pytest
from openapi_spec_validator import validate

from example_site import example_site, new_user_key
from interlink import ApiServer, Role
from interlink.server._openapi import markdown, openapi_document

ERROR_REF = {"$ref": "#/components/schemas/Error"}


@pytest.fixture
def site(tmp_path: Path, live_server: Any) -> tuple[str, dict[str, Any], httpx.Client]:
    module = example_site(tmp_path)
    key_id, secret = new_user_key(module.database, f"openapi-{os.getpid()}-{tmp_path.name}")
    base = live_server(module.api)
    document = httpx.get(base + "/api/openapi.json").json()
    client = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key_id}:{secret}"})
    return base, document, client


def operations(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {path: item["post"] for path, item in document["paths"].items()}


def test_credentials_are_http_basic_and_bearer_only(site: tuple[str, dict[str, Any], httpx.Client]) -> None:
    base, document, client = site
    validate(document)
    schemes = document["components"]["securitySchemes"]
    assert set(schemes) == {"basic", "bearer"}
    assert (schemes["basic"]["type"], schemes["basic"]["scheme"]) == ("http", "basic")
    assert (schemes["bearer"]["type"], schemes["bearer"]["scheme"], schemes["bearer"]["bearerFormat"]) == (
        "http", "bearer", "keyid:secret")
    for path, operation in operations(document).items():
        assert "parameters" not in operation, path
        for media_type, content in operation["requestBody"]["content"].items():
            assert "authorisation" not in content["schema"].get("properties", {}), (path, media_type)
        expected = [] if path == "/api/home/ping" else [{"basic": []}, {"bearer": []}]
        assert operation["security"] == expected, path
    assert '"authorisation"' not in json.dumps(document["paths"])
    # ... and the schemes work as declared.
    assert client.post("/api/home/describe_site").status_code == 200
    key_id, _, secret = client.headers["authorization"].removeprefix("Bearer ").partition(":")
    assert httpx.post(base + "/api/home/describe_site", auth=(key_id, secret)).status_code == 200
    assert httpx.post(base + "/api/home/describe_site").status_code == 401


def test_every_operation_declares_every_error_status_with_the_one_shape(
    site: tuple[str, dict[str, Any], httpx.Client],
) -> None:
    base, document, _ = site
    error = document["components"]["schemas"]["Error"]
    assert error["properties"]["error"]["required"] == ["code", "message"]
    assert set(error["properties"]["error"]["properties"]) == {"code", "message", "field"}
    for path, operation in operations(document).items():
        for status in ("400", "401", "403", "413", "415", "429", "500", "503"):
            assert operation["responses"][status]["content"]["application/json"]["schema"] == ERROR_REF, (path, status)
    # A public method answers 401 to wrong credentials: declared above, seen here.
    response = httpx.post(base + "/api/home/ping", headers={"Authorization": "Bearer k-0000000000000000:wrong"})
    assert response.status_code == 401 and response.json()["error"]["code"] == "not_authorised"
    declared = document["paths"]["/api/home/ping"]["post"]["responses"]["401"]["headers"]["WWW-Authenticate"]
    assert response.headers["www-authenticate"] == declared["schema"]["const"] == 'Bearer realm="api"'


def test_bodies_refuse_unknown_fields_and_non_objects_like_the_server(
    site: tuple[str, dict[str, Any], httpx.Client],
) -> None:
    _, document, client = site
    for path, operation in operations(document).items():
        for media_type, content in operation["requestBody"]["content"].items():
            assert content["schema"]["additionalProperties"] is False, (path, media_type)
        response = client.post(path, data={"not_an_argument": "1"})
        assert response.status_code == 400 and response.json()["error"]["field"] == "not_an_argument", path
        if "application/json" in operation["requestBody"]["content"]:
            assert operation["requestBody"]["content"]["application/json"]["schema"]["type"] == "object"
            for body in (b"null", b"[]", b"1", b'"x"'):
                response = client.post(path, content=body, headers={"content-type": "application/json"})
                assert response.status_code == 400, (path, body, response.text)


def test_required_structures_and_lists_as_the_server_reads_forms(
    site: tuple[str, dict[str, Any], httpx.Client],
) -> None:
    _, document, client = site
    paths = operations(document)
    list_users = paths["/api/home/list_users"]
    assert list_users["requestBody"]["required"] is True
    form = list_users["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"]
    # `filter` (fields all defaulted) is sent by its marker or by any of its fields; `paging` is optional.
    assert form["anyOf"] == [{"required": ["filter.name_gt"]}, {"required": ["filter.name_lt"]}, {"required": ["filter."]}]
    assert form["properties"]["filter."]["const"] == "" and "paging." in form["properties"]
    assert "required" not in form
    assert client.post("/api/home/list_users", data={}).json()["error"]["field"] == "filter"
    assert client.post("/api/home/list_users", data={"filter.": ""}).status_code == 200
    assert client.post("/api/home/list_users", data={"filter.name_lt": "z"}).status_code == 200
    assert client.post("/api/home/list_users", data={"filter.": "", "paging.": ""}).status_code == 200

    find_users = paths["/api/home/find_users"]["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert find_users["required"] == ["usernames"] and find_users["properties"]["usernames"]["minItems"] == 1
    assert client.post("/api/home/find_users", data={}).json()["error"]["field"] == "usernames"
    assert client.post("/api/home/find_users", data={"usernames": "x"}).status_code == 200

    upload = paths["/api/home/upload"]["requestBody"]
    assert list(upload["content"]) == ["multipart/form-data"] and upload["required"] is True
    assert paths["/api/home/ping"]["requestBody"]["required"] is False
    assert client.post("/api/home/ping").json() == "pong"


def test_values_are_described_as_they_travel(site: tuple[str, dict[str, Any], httpx.Client]) -> None:
    _, document, client = site
    schemas = document["components"]["schemas"]
    assert schemas["Paging"]["properties"]["order"]["default"] == "ascending"  # by name, like the enum
    assert schemas["Order"]["enum"] == ["ascending", "descending"]
    limit = schemas["Paging"]["properties"]["limit"]
    assert (limit["format"], limit["minimum"], limit["maximum"]) == ("int64", -(2**63), 2**63 - 1)
    response = client.post("/api/home/list_users", json={"filter": {}, "paging": {"order": "ascending", "limit": 2**63 - 1}})
    assert response.status_code == 200, response.text


class Colour(enum.Enum):
    red = "r"


@dataclasses.dataclass
class Inner:
    depth: int = 0


@dataclasses.dataclass
class Outer:
    inner: Inner
    colour: Colour = Colour.red


def test_docstrings_become_markdown_and_nested_structures_need_a_field() -> None:
    api = ApiServer(docs=False)

    @api.method(module="shapes")
    def nest(rl: Role, outer: Outer, tags: list[str]) -> int:
        """Reads ``outer.inner.depth``; see :func:`nest`.

        An example::

            outer.=&tags=a
        """
        return outer.inner.depth

    document = openapi_document(api)
    validate(document)
    operation = document["paths"]["/api/shapes/nest"]["post"]
    assert operation["summary"] == "Reads outer.inner.depth; see nest."
    assert operation["description"] == "Reads `outer.inner.depth`; see `nest`.\n\nAn example:\n\n    outer.=&tags=a"
    form = operation["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"]
    assert set(form["properties"]) == {"outer.inner.depth", "outer.colour", "outer.", "outer.inner.", "tags"}
    assert form["required"] == ["tags"]
    assert form["allOf"] == [
        {"anyOf": [{"required": ["outer.inner.depth"]}, {"required": ["outer.colour"]},
                   {"required": ["outer."]}, {"required": ["outer.inner."]}]},
        {"anyOf": [{"required": ["outer.inner.depth"]}, {"required": ["outer.inner."]}]},
    ]
    assert markdown("``a`` and ``b``") == "`a` and `b`"


@dataclasses.dataclass
class Item:
    name: str
    count: int = 0


def test_dictionaries_and_lists_of_structures_are_sent_under_their_prefix(live_server: Any) -> None:
    from interlink.store import MemoryKeys

    api = ApiServer(authenticator=MemoryKeys({}), docs=False)

    @api.method(module="shapes")
    def tally(labels: dict[str, str], items: list[Item]) -> int:
        return len(labels) + sum(item.count for item in items)

    form = openapi_document(api)["paths"]["/api/shapes/tally"]["post"]["requestBody"]["content"][
        "application/x-www-form-urlencoded"]["schema"]
    assert set(form["properties"]) == {"labels.", "items."}
    assert form["patternProperties"] == {r"^labels\.[^.]+$": {"type": "string"},
                                         r"^items\.(0|[1-9][0-9]*)\.(name|count)(\..+)?$": {}}
    assert form["allOf"] == [{"not": {"propertyNames": {"not": {"pattern": r"^labels\."}}}},
                             {"not": {"propertyNames": {"not": {"pattern": r"^items\."}}}}]
    base = live_server(api)
    sent = {"labels.a": "x", "items.0.name": "n", "items.0.count": "2"}
    assert httpx.post(base + "/api/shapes/tally", data=sent).json() == 3
    assert httpx.post(base + "/api/shapes/tally", data={"labels.": "", "items.": ""}).json() == 0
    assert httpx.post(base + "/api/shapes/tally", data={"items.": ""}).json()["error"]["field"] == "labels"
    assert httpx.post(base + "/api/shapes/tally", data={"labels": "", "items.": ""}).status_code == 400
