"""The compiled form decoder and result encoder against the general path they stand in for.

For generated methods and generated pairs (valid ones from ``collate``, then mixed with
repeated, missing, unknown and malformed fields), the compiled ``decode_pairs`` must give what
the general path gives: the same values of the same types, or the same WireError. And the
compiled encoder of a generated type must give the same JSON, or the same error, as the shapes.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import inspect
import itertools
import json
import re
import typing
import uuid
from decimal import Decimal
from typing import Annotated, Any, Callable
from urllib.parse import parse_qsl, urlencode

import pydantic
import pytest
from pydantic_core import core_schema
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from interlink.wire import INT_MAX, INT_MIN, MAX_DEPTH, Arguments, FileUpload, Parameter, Result, WireError, shape_of
from interlink.wire._compiled import compile_encoder, compile_form_decoder


class Colour(enum.Enum):
    red = 1
    green = "g"


class Level(enum.IntEnum):
    low = 1
    high = 2


_counter = itertools.count()
TEXT = st.text(max_size=6)  # surrogates too: the compiled path must not treat them differently
Typed = tuple[Any, st.SearchStrategy[Any]]

SCALARS: list[Typed] = [
    (str, TEXT),
    (int, st.integers(INT_MIN, INT_MAX)),
    (float, st.floats(allow_nan=False, allow_infinity=False)),
    (bool, st.booleans()),
    (Colour, st.sampled_from(Colour)),
    (Level, st.sampled_from(Level)),
]
NOT_COMPILED: list[Typed] = [  # pydantic checks or changes these: always the general path
    (Annotated[str, pydantic.Field(max_length=2)], st.text(max_size=2)),
    (Decimal, st.decimals(allow_nan=False, allow_infinity=False, places=2, max_value=10**6, min_value=-(10**6))),
    (dt.date, st.dates()),
]


def optional(inner: Typed) -> Typed:
    return (inner[0] | None, st.none() | inner[1])


def list_of(inner: Typed) -> Typed:
    annotation, values = inner
    if annotation is str | None:  # a None item of list[str | None] travels as '' (docs/wire.md)
        values = values.filter(lambda v: v is not None)
    return (list[annotation], st.lists(values, max_size=3))  # type: ignore[valid-type]


ITEMS = st.sampled_from(SCALARS) | st.sampled_from(SCALARS).map(optional)
FLAT = st.one_of(
    st.sampled_from(SCALARS),
    st.sampled_from(SCALARS).map(optional),
    ITEMS.map(list_of),
    ITEMS.map(list_of).map(optional),
)


@st.composite
def struct_of(draw: st.DrawFn, children: st.SearchStrategy[Typed]) -> Typed:
    fields = draw(st.lists(children, min_size=1, max_size=3))
    specs: list[Any] = []
    for i, (annotation, values) in enumerate(fields):
        default = draw(st.sampled_from(["none", "value", "factory"]))
        value = draw(values)
        if default == "factory" and typing.get_origin(annotation) is list:
            specs.append((f"f{i}", annotation, dataclasses.field(default_factory=list)))
        elif default == "value" and _hashable(value):  # dataclasses refuse mutable defaults
            specs.append((f"f{i}", annotation, dataclasses.field(default=value)))
        else:
            specs.append((f"f{i}", annotation))
    specs.sort(key=lambda spec: len(spec) == 3)  # fields with a default come last
    cls: Any = dataclasses.make_dataclass(f"Generated{next(_counter)}", specs, kw_only=draw(st.booleans()))
    return cls, st.builds(cls, **{f"f{i}": values for i, (_, values) in enumerate(fields)})


def _hashable(value: object) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


TYPES = st.one_of(
    FLAT,
    struct_of(FLAT),
    struct_of(FLAT).map(optional),
    struct_of(st.one_of(FLAT, struct_of(FLAT), struct_of(FLAT).map(optional))),
    st.sampled_from(NOT_COMPILED),
)


@dataclasses.dataclass
class Method:
    parameters: list[Parameter]
    values: dict[str, Any]  # a valid call


@st.composite
def methods(draw: st.DrawFn) -> Method:
    typed = draw(st.lists(TYPES, min_size=0, max_size=4))
    parameters, values = [], {}
    for i, (annotation, strategy) in enumerate(typed):
        name = f"p{i}"
        value = draw(strategy)
        default: object = inspect.Parameter.empty
        if draw(st.integers(0, 3)) == 0:
            default = [] if typing.get_origin(annotation) is list else draw(strategy)
        parameters.append(Parameter(name, annotation, default))
        values[name] = value
    return Method(parameters, values)


def through_http(pairs: list[tuple[str, Any]]) -> list[tuple[str, str]]:
    return parse_qsl(urlencode(pairs), keep_blank_values=True)


def names_of(tp: Any, name: str) -> list[str]:
    """The form names a value of ``tp`` may be sent under, and some near misses."""
    found = [name, f"{name}.", f"{name}.0", f"{name}.x"]
    inner = [a for a in typing.get_args(tp) if a is not type(None)]
    if typing.get_origin(tp) in (typing.Union, __import__("types").UnionType) and inner:
        tp = inner[0]
    if dataclasses.is_dataclass(tp):
        hints = typing.get_type_hints(tp)
        for f in dataclasses.fields(tp):
            found += names_of(hints[f.name], f"{name}.{f.name}")
    return found


ODD_TEXTS = [
    "", "x", "0", "1", "-1", "+1", " 1", "1_0", "007", "-0", "1.5", "-2.25", ".5", "5.", "1e3", "nan", "inf", "٣",
    "9" * 18, "9" * 19, "-" + "9" * 17, "-" + "9" * 18, "-", "--1", "-1.", "1.-1", "1." + "9" * 98, "1." + "9" * 99, "true", "on", "No", "red", "green", "g",
    "low", "high", "a=b", "\udcff",
]
VALUES = st.one_of(st.sampled_from(ODD_TEXTS), TEXT, st.just(FileUpload(b"x", filename="x.txt")))


@st.composite
def calls(draw: st.DrawFn) -> tuple[Method, list[tuple[str, Any]]]:
    method = draw(methods())
    arguments = Arguments(method.parameters)
    sent = {k: v for k, v in method.values.items() if draw(st.integers(0, 5)) > 0}  # some left out
    pairs: list[tuple[str, Any]] = through_http(arguments.collate(sent))
    if draw(st.booleans()):  # lists as browsers send them: x=a&x=b, not x.0=a&x.1=b
        pairs = [(re.sub(r"\.[0-9]+$", "", name), value) for name, value in pairs]
    vocabulary = [n for p in method.parameters for n in names_of(p.annotation, p.name)] + ["", "other"]
    for _ in range(draw(st.integers(0, 4))):  # a few changes: add, drop, repeat, alter
        change = draw(st.sampled_from(["add", "drop", "repeat", "alter"]))
        if change == "add":
            pairs.insert(draw(st.integers(0, len(pairs))), (draw(st.sampled_from(vocabulary)), draw(VALUES)))
        elif pairs:
            i = draw(st.integers(0, len(pairs) - 1))
            if change == "drop":
                del pairs[i]
            elif change == "repeat":
                pairs += [pairs[i]] * draw(st.integers(1, 2))
            else:
                pairs[i] = (pairs[i][0], draw(VALUES))
    return method, pairs


def canonical(value: Any) -> Any:
    """Equal values of equal types, floats by their spelling (-0.0 is not 0.0 here)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return type(value), tuple((f.name, canonical(getattr(value, f.name))) for f in dataclasses.fields(value))
    if isinstance(value, list):
        return list, tuple(canonical(v) for v in value)
    if isinstance(value, dict):
        return dict, tuple((k, canonical(v)) for k, v in value.items())
    if isinstance(value, float):
        return float, repr(value)
    return type(value), value


def outcome(decode: Callable[..., dict[str, Any]], pairs: list[tuple[str, Any]]) -> Any:
    try:
        return canonical(decode(list(pairs)))
    except WireError as error:
        return "error", error.field, error.message


class Recorded:
    """The general path, counting how often the compiled decoder hands a call to it."""

    def __init__(self, arguments: Arguments) -> None:
        self.arguments = arguments
        self.calls = 0

    def __call__(self, pairs: Any, load: Any = None) -> dict[str, Any]:
        self.calls += 1
        return self.arguments.decode_in_full(pairs, load)


def compiled(arguments: Arguments) -> tuple[Any, Recorded]:
    general = Recorded(arguments)
    decoder = compile_form_decoder({n: (p.annotation, p.default) for n, p in arguments.parameters.items()}, general)
    return decoder, general


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(calls())
def test_compiled_decoder_answers_as_the_general_path(call: tuple[Method, list[tuple[str, Any]]]) -> None:
    method, pairs = call
    arguments = Arguments(method.parameters)
    decoder, general = compiled(arguments)
    if decoder is None:
        assert arguments.decode_pairs == arguments.decode_in_full
        return
    assert outcome(decoder, pairs) == outcome(arguments.decode_in_full, pairs)
    assert outcome(arguments.decode_pairs, pairs) == outcome(arguments.decode_in_full, pairs)


def test_a_mutable_default_is_a_copy_per_call() -> None:
    default: list[str] = []
    arguments = Arguments([Parameter("tags", list[str], default), Parameter("n", int, 3)])
    first, second = arguments.decode_pairs([]), arguments.decode_pairs([("n", "4")])
    assert first == {"tags": [], "n": 3} and second == {"tags": [], "n": 4}
    assert first["tags"] is not default and second["tags"] is not first["tags"]


SIMPLE = [tp for tp, _ in SCALARS]
SIMPLE_TYPES = [*SIMPLE, *(tp | None for tp in SIMPLE), *(list[tp] for tp in SIMPLE), *(list[tp | None] for tp in SIMPLE),  # type: ignore[valid-type]
                *(list[tp] | None for tp in SIMPLE)]  # type: ignore[valid-type]


@pytest.mark.parametrize("annotation", SIMPLE_TYPES, ids=str)
def test_every_odd_text_as_every_simple_type(annotation: Any) -> None:
    """Each odd text, sent one to three times, at the top and as a dataclass's field."""
    in_field = dataclasses.make_dataclass("Holder", [("x", annotation)])
    for parameter, name in ((Parameter("x", annotation), "x"), (Parameter("h", in_field), "h.x")):
        arguments = Arguments([parameter])
        decoder, _ = compiled(arguments)
        assert decoder is not None
        for text in [*ODD_TEXTS, FileUpload(b"x")]:
            for times in (1, 2, 3):
                pairs = [(name, text)] * times
                assert outcome(decoder, pairs) == outcome(arguments.decode_in_full, pairs), (annotation, name, text, times)


# -- which methods are compiled, and that the compiled decoder does answer ------------------------


@dataclasses.dataclass
class UserFilter:
    name_gt: str
    name_lt: str


@dataclasses.dataclass
class Page:
    size: int = 20
    after: str | None = None
    colours: list[Colour] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class Span:
    size: int
    unit: str = dataclasses.field(kw_only=True)  # required, and passed by name
    start: float


BENCHMARK = [Parameter("filter", UserFilter), Parameter("usernames", list[str]), Parameter("active", bool)]


@pytest.mark.parametrize(
    ("parameters", "pairs", "expected"),
    [
        (
            BENCHMARK,
            [("filter.name_gt", "b"), ("filter.name_lt", "w"), ("usernames", "bob"), ("usernames", "carol"), ("active", "true")],
            {"filter": UserFilter("b", "w"), "usernames": ["bob", "carol"], "active": True},
        ),
        (
            [Parameter("page", Page), Parameter("limit", int | None), Parameter("ratio", float, 0.5)],
            [("page.after", "x"), ("page.colours", "red"), ("limit", ""), ("active", "")][:3],
            {"page": Page(20, "x", [Colour.red]), "limit": None, "ratio": 0.5},
        ),
        (
            [Parameter("flag", bool | None), Parameter("level", Level, Level.low), Parameter("n", int)],
            [("flag", "off"), ("flag", "on"), ("n", "42")],
            {"flag": True, "level": Level.low, "n": 42},
        ),
        (
            [Parameter("span", Span)],
            [("span.unit", "m"), ("span.start", "-1.5"), ("span.size", "-3")],
            {"span": Span(-3, -1.5, unit="m")},
        ),
    ],
)
def test_compiled_decoder_answers_plain_calls_itself(parameters: list[Parameter], pairs: list[tuple[str, str]], expected: dict[str, Any]) -> None:
    arguments = Arguments(parameters)
    decoder, general = compiled(arguments)
    assert decoder is not None
    assert decoder(pairs) == expected == arguments.decode_in_full(pairs)
    assert general.calls == 0


@pytest.mark.parametrize(
    "pairs",
    [
        [("filter.name_gt", "b"), ("usernames", "bob"), ("active", "true")],  # a field missing
        [("filter.name_gt", "b"), ("filter.name_gt", "c"), ("filter.name_lt", "w"), ("usernames", "x"), ("active", "1")],
        [("filter.name_gt", "b"), ("filter.name_lt", "w"), ("usernames.", ""), ("active", "yes")],  # no names
        [("filter.name_gt", "b"), ("filter.name_lt", "w"), ("usernames", "x"), ("active", "maybe")],
        [("filter.name_gt", "b"), ("filter.name_lt", "w"), ("usernames", "x"), ("active", "1"), ("other", "1")],
        [("filter.name_gt", "b"), ("filter.name_lt", "w"), ("usernames", "x"), *[("active", "1")] * 3],
        [("x" * 2000, "1")],  # a name longer than the limit
        [("filter.name_gt.deeper.still", "b")],
    ],
)
def test_unusual_calls_go_the_general_way(pairs: list[tuple[str, str]]) -> None:
    arguments = Arguments(BENCHMARK)
    decoder, general = compiled(arguments)
    assert decoder is not None
    assert outcome(decoder, pairs) == outcome(arguments.decode_in_full, pairs)
    assert general.calls == 1


@dataclasses.dataclass
class Checked:
    name: str

    def __post_init__(self) -> None:
        self.name = self.name.upper()


@dataclasses.dataclass
class Watched:
    name: str

    def __setattr__(self, name: str, value: Any) -> None:
        object.__setattr__(self, name, value.upper() if isinstance(value, str) else value)


@dataclasses.dataclass(frozen=True)
class Frozen:
    name: str


@pydantic.dataclasses.dataclass
class Validated:
    name: str


class Form(pydantic.BaseModel):
    name: str


@dataclasses.dataclass
class SaysHow:
    name: str

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: pydantic.GetCoreSchemaHandler) -> Any:
        return core_schema.no_info_after_validator_function(lambda value: cls(value.name.upper()), handler(source))


class Shade(enum.Enum):
    dark = 1

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: pydantic.GetCoreSchemaHandler) -> Any:
        return core_schema.no_info_plain_validator_function(lambda value: cls.dark)


class Counted:
    made = 0

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        Counted.made += 1
        return super().__new__(cls)


@dataclasses.dataclass
class Made(Counted):
    name: str


@dataclasses.dataclass
class Bounded:
    name: str = dataclasses.field(metadata={"max_length": 2})


@dataclasses.dataclass
class Upper:
    name: str

    @pydantic.field_validator("name")
    @classmethod
    def upper(cls, name: str) -> str:
        return name.upper()


@dataclasses.dataclass
class UpperToo(Upper):
    other: str = ""


@pytest.mark.parametrize(
    "annotation",
    [Checked, Watched, Validated, Form, SaysHow, Shade, Made, Bounded, Upper, UpperToo, Annotated[str, pydantic.Field(min_length=3)], list[Annotated[int, pydantic.Field(gt=0)]],
     Decimal, dt.datetime, uuid.UUID, dict[str, int], tuple[int, ...], list[UserFilter], FileUpload, Any],
)
def test_types_pydantic_checks_or_changes_are_not_compiled(annotation: Any) -> None:
    arguments = Arguments([Parameter("x", annotation)])
    assert compiled(arguments)[0] is None
    assert arguments.decode_pairs == arguments.decode_in_full


def test_names_deeper_than_the_wire_allows_are_not_compiled() -> None:
    """The general path refuses a name of more than MAX_DEPTH parts, however deep the type."""
    nested: Any = dataclasses.make_dataclass("Level0", [("x", int)])
    for level in range(1, MAX_DEPTH):
        nested = dataclasses.make_dataclass(f"Level{level}", [("c", nested)])
    arguments = Arguments([Parameter("p", nested)])
    assert compiled(arguments)[0] is None
    with pytest.raises(WireError, match="nested deeper"):
        arguments.decode_pairs([("p" + ".c" * (MAX_DEPTH - 1) + ".x", "1")])


@pytest.mark.parametrize(
    ("pairs", "expected"), [([("_hidden", "7")], ("error", "_hidden", "Extra inputs are not permitted")), ([], canonical({"shown": 1}))]
)
def test_a_parameter_pydantic_takes_for_private_is_not_compiled(pairs: list[tuple[str, str]], expected: Any) -> None:
    """The general path refuses `_hidden` when sent, and leaves it to the method's default."""
    arguments = Arguments([Parameter("_hidden", int, 5), Parameter("shown", int, 1)])
    assert arguments.decode_pairs == arguments.decode_in_full
    assert outcome(arguments.decode_pairs, pairs) == expected


def test_the_checks_of_types_left_to_pydantic_still_apply() -> None:
    arguments = Arguments([Parameter("x", Checked), Parameter("y", Annotated[str, pydantic.Field(min_length=3)])])
    assert arguments.decode_pairs([("x.name", "ab"), ("y", "abc")]) == {"x": Checked("AB"), "y": "abc"}
    with pytest.raises(WireError, match="at least 3"):
        arguments.decode_pairs([("x.name", "ab"), ("y", "ab")])
    with pytest.raises(WireError, match="at most 2"):
        Arguments([Parameter("x", Bounded)]).decode_pairs([("x.name", "abc")])
    assert Arguments([Parameter("x", UpperToo)]).decode_pairs([("x.name", "ab")]) == {"x": UpperToo("AB")}
    arguments = Arguments([Parameter("x", SaysHow), Parameter("y", Shade), Parameter("z", Made)])
    assert arguments.decode_pairs([("x.name", "ab"), ("y", "dark"), ("z.name", "c")]) == {"x": SaysHow("AB"), "y": Shade.dark, "z": Made("c")}


# -- the encoder ----------------------------------------------------------------------------------


class Model(pydantic.BaseModel):
    when: dt.datetime
    amount: Decimal


ENCODED_LEAVES: list[Typed] = [
    *SCALARS,
    (Decimal, st.decimals(allow_nan=False, allow_infinity=False, places=3)),
    (dt.date, st.dates()),
    (dt.datetime, st.datetimes(timezones=st.just(dt.UTC))),
    (uuid.UUID, st.uuids()),
    (bytes, st.binary(max_size=4)),
    (Any, st.none() | st.integers() | TEXT | st.lists(st.integers(), max_size=2)),
    (Model, st.builds(Model, when=st.datetimes(timezones=st.just(dt.UTC)), amount=st.decimals(allow_nan=False, allow_infinity=False, places=2))),
]


@st.composite
def encoded_struct(draw: st.DrawFn, children: st.SearchStrategy[Typed]) -> Typed:
    fields = draw(st.lists(children, max_size=3))
    cls: Any = dataclasses.make_dataclass(f"Result{next(_counter)}", [(f"f{i}", a) for i, (a, _) in enumerate(fields)])
    return cls, st.builds(cls, **{f"f{i}": s for i, (_, s) in enumerate(fields)})


ENCODED_TYPES = st.recursive(
    st.sampled_from(ENCODED_LEAVES),
    lambda children: st.one_of(
        children.map(optional),
        children.map(lambda t: (list[t[0]], st.lists(t[1], max_size=3))),  # type: ignore[valid-type]
        children.map(lambda t: (dict[str, t[0]], st.dictionaries(st.text(max_size=3), t[1], max_size=2))),  # type: ignore[valid-type]
        encoded_struct(children),
    ),
    max_leaves=6,
)
WRONG_VALUES = st.sampled_from([None, 1, -2.5, "x", True, [None], [1, "a"], {"a": 1}, Colour.red, object(), b"x"])


def encoded(encode: Callable[[Any], Any], value: Any) -> Any:
    try:
        return "ok", json.dumps(encode(value)), repr(encode(value))
    except Exception as error:  # noqa: BLE001 - the error itself is what is compared
        return "error", type(error), str(error)


@settings(max_examples=800, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ENCODED_TYPES.flatmap(lambda t: st.tuples(st.just(t[0]), t[1] | WRONG_VALUES)))
def test_compiled_encoder_encodes_as_the_shapes(typed: tuple[Any, Any]) -> None:
    annotation, value = typed
    shape = shape_of(annotation)
    assert encoded(compile_encoder(shape), value) == encoded(shape.encode, value)


def test_result_encode_is_compiled() -> None:
    @dataclasses.dataclass
    class User:
        username: str
        active: bool

    result = Result(list[User])
    assert result.encode != result.shape.encode  # not `is not`: each reading makes a new bound method
    assert result.encode([User("bob", True)]) == [{"username": "bob", "active": True}]
    with pytest.raises(AttributeError, match="username"):
        result.encode([None])


def test_the_general_paths_error_carries_nothing_of_the_compiled_one() -> None:
    arguments = Arguments(BENCHMARK)
    with pytest.raises(WireError) as raised:
        arguments.decode_pairs([("filter.name_gt", "b"), ("filter.name_lt", "w"), ("usernames", "x"), ("active", "hunter2")])
    assert raised.value.__context__ is None


def test_pairs_may_come_from_any_iterable() -> None:
    arguments = Arguments(BENCHMARK)
    pairs = [("filter.name_gt", "b"), ("filter.name_lt", "w"), ("usernames", "bob"), ("active", "no")]
    expected = {"filter": UserFilter("b", "w"), "usernames": ["bob"], "active": False}
    assert arguments.decode_pairs(iter(pairs)) == arguments.decode_pairs(tuple(pairs)) == expected
    assert arguments.decode_pairs(iter([*pairs, ("usernames.", "")])) == arguments.decode_in_full([*pairs, ("usernames.", "")])


def test_an_iterator_that_fails_half_way_fails_as_before() -> None:
    """The shapes read the rest of a generator after the compiled encoder's error: that error
    stands, rather than a list without the items read before it."""

    @dataclasses.dataclass
    class User:
        username: str

    result = Result(list[User])
    with pytest.raises(AttributeError, match="username"):
        result.encode(user for user in [None, User("bob"), User("carol")])


def test_field_names_that_are_not_attribute_names_are_encoded_by_the_shapes() -> None:
    odd = pydantic.create_model("Odd", **{"class": (int, ...), "two words": (str, ...)})  # type: ignore[call-overload]
    value = odd(**{"class": 1, "two words": "x"})
    assert Result(list[odd]).encode([value]) == [{"class": 1, "two words": "x"}]  # type: ignore[valid-type]


@pytest.mark.parametrize("annotation", [Any, None, dt.datetime, bytes, dict[str, int], Decimal, uuid.UUID, dt.date, Colour])
def test_a_type_with_nothing_to_inline_keeps_its_shapes_encoder(annotation: Any) -> None:
    result = Result(annotation)
    assert result.encode == result.shape.encode


@dataclasses.dataclass
class LocalNames:
    t1: int
    value: str
    item: list[int]
    v0: bool = dataclasses.field(kw_only=True)
    pairs: int | None = dataclasses.field(default=None, kw_only=True)


def test_names_like_the_decoders_own_locals() -> None:
    """Parameter and field names reach the decoder's source only quoted or as keywords."""
    names = ["pairs", "load", "i", "name", "value", "item", "v0", "a_0", "t1", "c0", "ABSENT", "NotSimple"]
    arguments = Arguments([Parameter("pairs", LocalNames), *(Parameter(n, int, 5) for n in names[1:])])
    decoder, general = compiled(arguments)
    assert decoder is not None
    pairs = [("pairs.t1", "1"), ("pairs.value", "x"), ("pairs.item", "2"), ("pairs.item", "3"), ("pairs.v0", "on"), ("c0", "7")]
    expected = {"pairs": LocalNames(1, "x", [2, 3], v0=True), **dict.fromkeys(names[1:], 5), "c0": 7}
    assert decoder(pairs) == expected == arguments.decode_in_full(pairs)
    assert general.calls == 0


def test_a_frozen_dataclass_is_compiled() -> None:
    arguments = Arguments([Parameter("x", Frozen)])
    decoder, general = compiled(arguments)
    assert decoder is not None
    assert decoder([("x.name", "a")]) == {"x": Frozen("a")} == arguments.decode_in_full([("x.name", "a")])
    assert general.calls == 0
