"""ArgumentHandler: rest-tools' behaviour where it is sound, and its argparse leaks fixed.

Where rest-tools (wipac-rest-tools, installed by the bench extra) is importable, the same
declarations and requests go through both and must give the same arguments or the same 400
reason; the faults fixed on purpose are asserted on interlink alone.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import logging
from typing import Any
from unittest.mock import Mock

import pytest
import requests
import tornado.web
from tornado import httputil

import interlink.rest as ours

# Requests built by hand, as rest-tools' tests build them, use Tornado's older constructor.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

CASES: list[tuple[str, Any, list[tuple[str, dict[str, Any]]]]] = [
    ("query", {"pick": "z"}, [("pick", {"choices": ["a", "b"]})]),
    ("json", {"pick": "z"}, [("pick", {"choices": ["a", "b"]})]),
    ("json", {"pick": {"x": 1}}, [("pick", {"choices": [{"x": 1}, {"y": 2}]})]),
    ("query", {"a": "1"}, [("a", {"type": int}), ("b", {}), ("c", {})]),
    ("query", {"a": "1", "x": "1", "y": "2"}, [("a", {"type": int})]),
    ("json", {"a": 1, "x": [1], "y": {"z": 2}}, [("a", {"type": int})]),
    ("query", {"is-c": "maybe"}, [("is-c", {"type": bool})]),
    ("query", {"is-c": "OFF"}, [("is-c", {"type": bool})]),
    ("json", {"is-c": 0}, [("is-c", {"type": bool})]),
    ("query", [("n", "1"), ("n", "2")], [("n", {"type": int, "nargs": "*"})]),
    ("json", {"n": [1, 2]}, [("n", {"nargs": "*"})]),
    ("query", {"n": "x"}, [("n", {"type": int, "default": "5"})]),
    ("query", {}, [("n", {"type": int, "default": "5"})]),
    ("json", {}, [("n", {"type": int, "default": "5"}), ("m", {"default": None})]),
    ("query", {"x": "bad"}, [("x", {"type": int}), ("r", {})]),
    ("query", {"old": "v"}, [("old", {"dest": "new"})]),
    ("json", {"a-b": {"k": [1, 2]}}, [("a-b", {"type": dict})]),
    ("query", {"f": "1e3"}, [("f", {"type": float})]),
]


def handler(module: Any, source: str, given: Any) -> Any:
    """A handler on a request built by hand, as rest-tools' own tests build them."""
    if source == "query":
        prepared = requests.Request(url="https://fruit.example/all", params=given).prepare()
        request = httputil.HTTPServerRequest(uri=prepared.url, headers=httputil.HTTPHeaders(prepared.headers))
        return module.ArgumentHandler(module.ArgumentSource.QUERY_ARGUMENTS, module.RestHandler(application=Mock(), request=request))
    prepared = requests.Request(url="https://fruit.example/all", json=given).prepare()
    request = httputil.HTTPServerRequest(uri=prepared.url, body=prepared.body, headers=httputil.HTTPHeaders(prepared.headers))
    return module.ArgumentHandler(module.ArgumentSource.JSON_BODY_ARGUMENTS, module.RestHandler(application=Mock(), request=request))


def outcome(module: Any, source: str, given: Any, declarations: list[tuple[str, dict[str, Any]]]) -> Any:
    argo = handler(module, source, given)
    for name, kwargs in declarations:
        argo.add_argument(name, **kwargs)
    try:
        return vars(argo.parse_args())
    except tornado.web.HTTPError as exc:
        return str(exc)


@pytest.mark.parametrize(("source", "given", "declarations"), CASES)
def test_same_as_rest_tools(source: str, given: Any, declarations: list, caplog: pytest.LogCaptureFixture) -> None:
    upstream = pytest.importorskip("rest_tools.server", reason="wipac-rest-tools (bench extra) is the reference")
    caplog.set_level(logging.CRITICAL)  # rest-tools logs every intercepted error
    with contextlib.redirect_stderr(io.StringIO()):  # and prints tracebacks
        expected = outcome(upstream, source, given, declarations)
    assert outcome(ours, source, given, declarations) == expected


@pytest.mark.parametrize(
    ("given", "declarations", "expected"),
    [
        # rest-tools matched ?amo= to --amount by prefix
        ({"amo": "1"}, [("amount", {"type": float})], "HTTP 400: the following arguments are required: amount"),
        # rest-tools printed usage for ?h= / ?help= and exited
        ({"h": "1", "help": "2"}, [("h", {}), ("help", {})], {"h": "1", "help": "2"}),
        ({"help": "x"}, [("a", {"default": 1})], "HTTP 400: unrecognized arguments: help"),
        # rest-tools took a value starting with '-' for an option
        ({"delta": "-x", "n": "--5"}, [("delta", {}), ("n", {})], {"delta": "-x", "n": "--5"}),
        ({"--x": "1"}, [("a", {"default": 1})], "HTTP 400: unrecognized arguments: --x"),
        # a repeated single-valued argument (rest-tools: "unrecognized arguments: " and nothing)
        ([("a", "1"), ("a", "2")], [("a", {})], "HTTP 400: argument a: expected one value, got 2"),
    ],
)
def test_argparse_leaks_are_fixed(given: Any, declarations: list, expected: Any, capsys: pytest.CaptureFixture[str]) -> None:
    assert outcome(ours, "query", given, declarations) == expected
    assert capsys.readouterr() == ("", "")


def test_a_faulty_type_function_is_logged_not_printed(caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]) -> None:
    def broken(value: str) -> str:
        raise KeyError(value)

    result = outcome(ours, "query", {"a": "1"}, [("a", {"type": broken})])
    assert result.startswith("HTTP 400: Unknown argument-handling error (")
    assert capsys.readouterr() == ("", "")
    assert any("type function" in record.getMessage() for record in caplog.records)


def test_argument_type_error_text_is_the_reason() -> None:
    def positive(value: str) -> int:
        if int(value) <= 0:
            raise argparse.ArgumentTypeError("must be positive")
        return int(value)

    assert outcome(ours, "query", {"n": "-3"}, [("n", {"type": positive})]) == "HTTP 400: argument n: must be positive"


def test_declaration_mistakes_are_caught_when_declaring() -> None:
    argo = handler(ours, "query", {})
    with pytest.raises(ValueError, match="marked as not required but no default"):
        argo.add_argument("a", required=False)
    argo.add_argument("b", default=1)
    with pytest.raises(ValueError, match="conflicting"):
        argo.add_argument("b", default=2)
    with pytest.raises(ValueError, match="action"):
        argo.add_argument("c", action="store_true", default=False)


# -- type=bool over real HTTP ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def bool_server() -> Any:
    from rest_servers import TornadoThread

    def build() -> Any:
        class Fruit(ours.RestHandler):
            def get(self) -> None:
                argo = ours.ArgumentHandler(ours.ArgumentSource.QUERY_ARGUMENTS, self)
                argo.add_argument("fresh", type=bool)
                self.write({"fresh": argo.parse_args().fresh})

            def post(self) -> None:
                argo = ours.ArgumentHandler(ours.ArgumentSource.JSON_BODY_ARGUMENTS, self)
                argo.add_argument("fresh", type=bool)
                self.write({"fresh": argo.parse_args().fresh})

        server = ours.RestServer()
        server.add_route("/fruit", Fruit)
        return server

    thread = TornadoThread(build)
    url = thread.start()
    yield url
    thread.stop()


SPELLINGS = [("y", True), ("YES", True), ("t", True), ("True", True), ("on", True), ("1", True),
             ("n", False), ("No", False), ("f", False), ("FALSE", False), ("off", False), ("0", False)]


@pytest.mark.parametrize(("text", "expected"), SPELLINGS)
def test_bool_reads_the_documented_spellings(bool_server: str, text: str, expected: bool) -> None:
    import httpx

    assert httpx.get(f"{bool_server}/fruit", params={"fresh": text}, trust_env=False).json() == {"fresh": expected}
    assert httpx.post(f"{bool_server}/fruit", json={"fresh": text}, trust_env=False).json() == {"fresh": expected}


@pytest.mark.parametrize(("value", "expected"), [(True, True), (False, False), (1, True), (0, False)])
def test_bool_reads_json_true_false_one_zero(bool_server: str, value: Any, expected: bool) -> None:
    import httpx

    assert httpx.post(f"{bool_server}/fruit", json={"fresh": value}, trust_env=False).json() == {"fresh": expected}


@pytest.mark.parametrize("value", [[False], ["no"], [], {"no": 0}, {}, None, 2, -1, 0.0, 1.0, "", "maybe", "[false]"])
def test_bool_refuses_everything_else_naming_the_argument(bool_server: str, value: Any) -> None:
    """rest-tools read ``[false]``, ``["no"]``, ``{"no": 0}`` and ``2`` as true (``bool(value)``)."""
    import httpx

    response = httpx.post(f"{bool_server}/fruit", json={"fresh": value}, trust_env=False)
    assert response.status_code == 400
    assert response.json() == {"code": 400, "error": "argument fresh: invalid type"}
    if isinstance(value, str):
        response = httpx.get(f"{bool_server}/fruit", params={"fresh": value}, trust_env=False)
        assert (response.status_code, response.json()["error"]) == (400, "argument fresh: invalid type")


def test_rest_tools_reads_json_lists_and_objects_as_true() -> None:
    """The difference from rest-tools, shown on rest-tools itself (where it is installed)."""
    upstream = pytest.importorskip("rest_tools.server", reason="wipac-rest-tools (bench extra) is the reference")
    for value in ([False], ["no"], {"no": 0}, 2):
        with contextlib.redirect_stderr(io.StringIO()):
            assert outcome(upstream, "json", {"fresh": value}, [("fresh", {"type": bool})]) == {"fresh": True}
        assert outcome(ours, "json", {"fresh": value}, [("fresh", {"type": bool})]) == "HTTP 400: argument fresh: invalid type"
