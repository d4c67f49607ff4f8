"""The wire's parsers are bounded: raw form bodies and raw JSON bodies, however made, decode or
give a WireError/400 — never another exception — and a refused body costs little memory."""

from __future__ import annotations

import dataclasses
import datetime as dt
import gc
import json
import string
import tracemalloc
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from interlink.errors import BadArguments
from interlink.server._body import form_pairs, json_body
from interlink.wire import (
    INT_MAX,
    INT_MIN,
    MAX_DEPTH,
    MAX_FIELDS,
    Arguments,
    FileUpload,
    Parameter,
    WireError,
    parse_json,
)


@dataclasses.dataclass
class Leaf:
    n: int = 0
    x: float = 0.0
    when: dt.datetime | None = None


@dataclasses.dataclass
class Node:
    label: str = ""
    leaf: Leaf | None = None
    children: list[Node] = dataclasses.field(default_factory=list)


ARGUMENTS = Arguments(
    [
        Parameter("i", int | None, None),
        Parameter("f", float | None, None),
        Parameter("d", Decimal | None, None),
        Parameter("t", dt.datetime | None, None),
        Parameter("ints", list[int], []),
        Parameter("table", dict[int, list[Leaf]], {}),
        Parameter("node", Node | None, None),
        Parameter("anything", Any, None),
        Parameter("upload", FileUpload | None, None),
    ]
)

# -- forms ------------------------------------------------------------------------------------

NAME_PARTS = st.sampled_from(
    ["i", "f", "d", "t", "ints", "table", "node", "anything", "children", "leaf", "n", "x", "when",
     "label", "0", "1", "007", "1" * 12, "-1", "", "é", "\ud800"]
)
NUMBERS = st.sampled_from(
    ["0", "-1", "1e999999999", "-1e999999999", "1e-999999999", "nan", "-inf", "Infinity", "1_000", " 7 ",
     str(INT_MAX), str(INT_MAX + 1), str(INT_MIN - 1), "1" * 200, "0x10", "1.5e308", "9" * 19, "1e13"]
)
FORM_BODIES = st.lists(
    st.tuples(
        st.one_of(st.lists(NAME_PARTS, min_size=1, max_size=40).map(".".join), st.text(string.printable, max_size=8)),
        st.one_of(NUMBERS, st.text(max_size=6)),
    ),
    max_size=8,
).map(lambda pairs: "&".join(f"{_quote(n)}={_quote(v)}" for n, v in pairs).encode("utf-8", "surrogatepass"))


def _quote(text: str) -> str:
    from urllib.parse import quote

    return quote(text.encode("utf-8", "surrogatepass"), safe=".")


@settings(max_examples=800, deadline=None)
@given(st.one_of(FORM_BODIES, st.binary(max_size=60)))
def test_fuzz_form_body_to_arguments(body: bytes) -> None:
    try:
        ARGUMENTS.decode_pairs(form_pairs(body))
    except BadArguments as error:
        assert error.status == 400
    except WireError as error:
        assert error.message and len(error.field) <= 101


# -- JSON -------------------------------------------------------------------------------------

JSON_LEAVES = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=6), NUMBERS,
)
JSON_VALUES = st.recursive(
    JSON_LEAVES,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.one_of(NAME_PARTS, st.text(max_size=4)), children, max_size=4),
    max_leaves=20,
)
RAW_TOKENS = st.sampled_from(
    ["[", "]", "{", "}", ",", ":", '"', "\\", "\\ud800", "\\ude00", "\\u00e9", "NaN", "Infinity", "-Infinity",
     "1e999", "1" * 150, "-0", "null", "true", '"i"', '"node"', '"children"', " "]
)


def _json_text(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass")


JSON_BODIES = st.one_of(
    st.dictionaries(NAME_PARTS, JSON_VALUES, max_size=5).map(_json_text),
    JSON_VALUES.map(_json_text),
    st.lists(RAW_TOKENS, max_size=30).map(lambda tokens: "".join(tokens).encode("utf-8", "surrogatepass")),
    st.integers(min_value=0, max_value=60).map(lambda n: ('{"anything": ' + "[" * n + "]" * n + "}").encode()),
    st.binary(max_size=40),
)


@settings(max_examples=800, deadline=None)
@given(JSON_BODIES)
def test_fuzz_json_body_to_arguments(body: bytes) -> None:
    try:
        ARGUMENTS.decode_json(json_body(body))
    except BadArguments as error:
        assert error.status == 400
    except WireError as error:
        assert error.message and len(error.field) <= 101


@settings(max_examples=300, deadline=None)
@given(JSON_VALUES)
def test_json_within_the_limits_reads_as_json_loads_does(value: Any) -> None:
    body = _json_text(value)
    try:
        got = parse_json(body)
    except WireError as error:  # only for what the wire refuses on purpose
        assert any(word in error.message for word in ("at most", "surrogate", "UTF-8"))
        return
    assert got == json.loads(body)


# -- the limits themselves --------------------------------------------------------------------


def test_json_depth_limit_is_exact() -> None:
    assert parse_json(b"[" * MAX_DEPTH + b"]" * MAX_DEPTH) is not None
    with pytest.raises(WireError, match="deeper than"):
        parse_json(b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1))


def test_json_value_limit() -> None:
    assert len(parse_json(b"[" + b",".join([b"1"] * (MAX_FIELDS - 1)) + b"]")) == MAX_FIELDS - 1
    with pytest.raises(WireError, match="more than"):
        parse_json(b"[" + b",".join([b"1"] * (MAX_FIELDS + 1)) + b"]")


def test_json_strings_do_not_count() -> None:
    body = json.dumps(["[{,\\\"" * 20_000]).encode()
    assert parse_json(body) == ["[{,\\\"" * 20_000]


def test_refused_json_body_allocates_little_and_keeps_nothing() -> None:
    """A million items are refused from the text: json.loads never builds them, nothing is kept."""
    body = b'{"ints": [' + b",".join([b"1"] * 1_000_000) + b"]}"
    gc.collect()
    tracemalloc.start()
    try:
        for _ in range(3):
            with pytest.raises(BadArguments):
                json_body(body)
        gc.collect()
        current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 3 * len(body)  # a copy or two of the text, not a million objects
    assert current < 100_000


def test_form_names_are_refused_before_the_trie_grows() -> None:
    dots, deep = "." * 5_000_000, "node" + ".children.0" * 49 + ".label"  # deep: 100 parts
    tracemalloc.start()
    try:
        with pytest.raises(WireError, match="at most 1000 characters"):
            ARGUMENTS.decode_pairs([(dots, "1")])
        with pytest.raises(WireError, match="deeper than its type allows"):
            ARGUMENTS.decode_pairs([(deep, "1")])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1_000_000


def test_decimal_and_datetime_bounds() -> None:
    assert ARGUMENTS.decode_pairs([("d", "1e99"), ("t", "253402300799.999999")])["t"].year == 9999
    for name, value in [("d", "1e100"), ("d", "1e-101"), ("t", "253402300800"), ("t", "-62135596801")]:
        with pytest.raises(WireError, match="out of range"):
            ARGUMENTS.decode_pairs([(name, value)])


def test_json_schema_says_int64() -> None:
    schema = Arguments([Parameter("i", int), Parameter("t", dt.datetime)]).json_schema()["properties"]
    assert schema["i"] == {"type": "integer", "format": "int64", "minimum": INT_MIN, "maximum": INT_MAX, "title": "I"}
    assert schema["t"]["minimum"] == -62_135_596_800 and schema["t"]["exclusiveMaximum"] == 253_402_300_800
