"""Hostile arguments for ArgumentHandler: whatever a caller sends, the answer is the parsed
arguments or a 400 whose reason is printable (it is the HTTP status line too) — never a 500,
never output on stderr, never an exit.

The parser is pure, so most examples run without a server; one property drives a real Tornado
server to show the same holds on the wire.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_servers import TornadoThread

from interlink.rest._arguments import (
    ArgumentParser,
    ArgumentProblem,
    ArgumentSource,
    read_json_object,
)

NAMES = ["name", "alias", "is-citrus", "amount", "supply", "pick", "h", "help", "-h", "--help"]
names = st.one_of(st.sampled_from(NAMES), st.text(max_size=12))
scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=20))
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4), max_leaves=12)


def declared() -> ArgumentParser:
    parser = ArgumentParser()
    parser.add_argument("name", type=str)
    parser.add_argument("alias", dest="other_names", type=str, nargs="*", default=[])
    parser.add_argument("is-citrus", type=bool, default=False)
    parser.add_argument("amount", type=float, required=True)
    parser.add_argument("supply", type=dict, default={})
    parser.add_argument("pick", choices=["a", "b"], default="a")
    return parser


def assert_reason(problem: ArgumentProblem) -> None:
    reason = str(problem)
    assert reason and all(" " <= c <= "~" for c in reason) and "<" not in reason, reason
    assert len(reason) < 2000


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(pairs=st.lists(st.tuples(names, st.lists(st.text(max_size=20), max_size=3)), max_size=8))
def test_query_arguments_parse_or_refuse(pairs: list[tuple[str, list[str]]], capsys: pytest.CaptureFixture[str]) -> None:
    try:
        result = declared().parse(ArgumentSource.QUERY_ARGUMENTS, pairs)
        assert isinstance(result, argparse.Namespace)
        assert isinstance(result.amount, float)
    except ArgumentProblem as problem:
        assert_reason(problem)
    assert capsys.readouterr() == ("", "")


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(body=st.dictionaries(names, json_values, max_size=8))
def test_json_arguments_parse_or_refuse(body: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    try:
        result = declared().parse(ArgumentSource.JSON_BODY_ARGUMENTS, body)
        assert isinstance(result.amount, float) and isinstance(result.supply, dict)
    except ArgumentProblem as problem:
        assert_reason(problem)
    assert capsys.readouterr() == ("", "")


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.binary(max_size=200), json_values.map(lambda v: json.dumps(v).encode())))
def test_json_body_reads_or_refuses(body: bytes) -> None:
    try:
        assert isinstance(read_json_object(body), dict)
    except ArgumentProblem as problem:
        assert_reason(problem)


@pytest.mark.parametrize(
    "body",
    [b"[" * 100_000, b'{"a":' * 50 + b"1" + b"}" * 50, b"[" + b"0," * 20_000 + b"0]", b'{"a": 1' + b"0" * 5000 + b"}"],
)
def test_json_body_bounds(body: bytes) -> None:
    with pytest.raises(ArgumentProblem) as caught:
        read_json_object(body)
    assert_reason(caught.value)


def test_too_many_query_arguments() -> None:
    pairs = [(f"k{i}", ["v"]) for i in range(10_001)]
    with pytest.raises(ArgumentProblem, match="too many arguments"):
        declared().parse(ArgumentSource.QUERY_ARGUMENTS, pairs)


# -- the same over HTTP -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    def build() -> Any:
        from interlink.rest import ArgumentHandler, RestHandler, RestServer

        class Fruits(RestHandler):
            def _args(self, source: ArgumentSource) -> None:
                argo = ArgumentHandler(source, self)
                argo.add_argument("name", type=str)
                argo.add_argument("alias", dest="other_names", type=str, nargs="*", default=[])
                argo.add_argument("is-citrus", type=bool, default=False)
                argo.add_argument("amount", type=float, required=True)
                argo.add_argument("pick", choices=["a", "b"], default="a")
                self.write({"name": argo.parse_args().name})

            def get(self) -> None:
                self._args(ArgumentSource.QUERY_ARGUMENTS)

            def post(self) -> None:
                self._args(ArgumentSource.JSON_BODY_ARGUMENTS)

        server = RestServer(max_body_size=100_000)
        server.add_route("/fruits", Fruits)
        return server

    server = TornadoThread(build)
    url = server.start()
    yield url
    server.stop()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(
    query=st.lists(st.tuples(names, st.text(max_size=10)), max_size=6),
    body=st.one_of(st.binary(max_size=100), st.dictionaries(names, json_values, max_size=6).map(lambda v: json.dumps(v).encode())),
)
def test_over_http_only_200_or_400(site: str, query: list[tuple[str, str]], body: bytes) -> None:
    with httpx.Client(base_url=site, trust_env=False, timeout=10) as http:
        for response in (http.get("/fruits", params=query), http.post("/fruits", params=query, content=body)):
            assert response.status_code in (200, 400), response.text
            if response.status_code == 400:
                assert response.json() == {"code": 400, "error": response.reason_phrase}
