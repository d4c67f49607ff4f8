"""Shapes: the compiled description of one Python type on the wire.

``shape_of(T)`` walks a type once and returns a tree of small objects; each knows how its
type is read from form pairs and from JSON, how it is collated back into form pairs, and how
a result of it is encoded as JSON. Text-like scalars (str, UUID, date, time) are left as text
here and parsed by pydantic; numbers are measured here first (``_limits.py``: int64, finite
floats, bounded Decimals); the rest (bool, Enum, datetime, bytes, Model, FileUpload) follow
wire rules (docs/spec/api-calls.md) that pydantic does not know, so they are read here."""

from __future__ import annotations

import base64
import binascii
import dataclasses
import datetime as dt
import enum
import math
import operator
import types
import typing
import uuid
from decimal import Decimal, InvalidOperation
from typing import Any, Callable
from urllib.parse import parse_qsl

import pydantic

from ._limits import (
    DATETIME_MAX_SECONDS,
    DATETIME_MIN_SECONDS,
    DECIMAL_MAX_EXPONENT,
    INT_MAX,
    INT_MIN,
    MAX_DEPTH,
    MAX_FIELDS,
    MAX_INDEX_DIGITS,
    MAX_NAME_LENGTH,
    MAX_NUMBER_LENGTH,
)
from ._stream import FileStream
from ._values import FileUpload, FormValue, Model, WireError

ModelLoader = Callable[[type, str], object]
"""Loads a Model instance by its class and api_id; ``None`` when there is no such row."""
Pairs = list[tuple[str, FormValue]]

# The texts of a bool, as the API-calls specification spells them.
TRUE_TEXTS = frozenset({"1", "True", "true", "Yes", "yes", "On", "on"})
FALSE_TEXTS = frozenset({"0", "False", "false", "No", "no", "Off", "off"})
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
MARKER = ""


def join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


class Node:
    """One name in the trie that form pairs are sorted into (``filter.name_gt`` -> filter/name_gt)."""

    __slots__ = ("values", "children")

    def __init__(self) -> None:
        self.values: list[FormValue] = []
        self.children: dict[str, Node] | None = None


def build_tree(pairs: typing.Iterable[tuple[str, FormValue]], depths: typing.Mapping[str, int] | None = None) -> Node:
    """Sort form pairs into a trie of their dotted names.

    ``depths`` maps each top-level name to how many parts may follow it (``Arguments.depths``,
    from the shapes). A name that cannot match — unknown at the top, deeper than its type, or
    longer than ``MAX_NAME_LENGTH`` — is refused before any node is built for it, so a hostile
    name costs no more than reading it. Without ``depths`` any name of up to ``MAX_DEPTH``
    parts is sorted in.
    """
    root = Node()
    limits: _Limits = _ANY_NAME if depths is None else depths
    below = limits.get
    max_length = MAX_NAME_LENGTH
    for name, value in pairs:
        if "." not in name:  # most fields: a top-level name, one node below the root
            if len(name) > max_length:
                raise_too_long(name)
            top = root.children
            if top is None:
                top = root.children = {}
            child = top.get(name)
            if child is None:
                child = top[name] = Node()
            child.values.append(value)
            continue
        if name.endswith(".") and isinstance(value, str) and "=" in value:
            add_marker_fields(root, name, value, limits)
            continue
        # Inlined add_pair: this loop runs for every field of every call.
        if len(name) > max_length:
            raise_too_long(name)
        parts = name.split(".")  # at most MAX_NAME_LENGTH parts, by the check above
        # A name of one or two parts builds at most two nodes whatever it is, and decoding
        # refuses it if it matches nothing: only longer names are checked here.
        if len(parts) > 2 and len(parts) > below(parts[0], -1) + 1:
            raise_no_match(parts, name, limits)
        node = root
        for part in parts:
            children = node.children
            if children is None:
                children = node.children = {}
            child = children.get(part)
            if child is None:
                child = children[part] = Node()
            node = child
        node.values.append(value)
    return root


def add_marker_fields(root: Node, name: str, value: str, limits: _Limits) -> None:
    """The API-calls specification's own example (docs/spec/api-calls.md) sends
    ``filter.=filter.name_gt=a&…``: a marker whose value holds a field. That value is read as
    fields (one level) so the example works as written."""
    add_pair(root, name, "", limits)
    try:
        inner = parse_qsl(value, keep_blank_values=True, max_num_fields=MAX_FIELDS)
    except ValueError:
        raise WireError(name, f"more than {MAX_FIELDS} fields in one value") from None
    for inner_name, inner_value in inner:
        add_pair(root, inner_name, inner_value, limits)


def add_pair(root: Node, name: str, value: FormValue, limits: _Limits) -> None:
    if len(name) > MAX_NAME_LENGTH:
        raise_too_long(name)
    parts = name.split(".")
    if len(parts) > limits.get(parts[0], -1) + 1:
        raise_no_match(parts, name, limits)
    node = root
    for part in parts:
        children = node.children
        if children is None:
            children = node.children = {}
        child = children.get(part)
        if child is None:
            child = children[part] = Node()
        node = child
    node.values.append(value)


def raise_too_long(name: str) -> typing.NoReturn:
    raise WireError(name, f"a field name may be at most {MAX_NAME_LENGTH} characters long")


def raise_no_match(parts: list[str], name: str, limits: _Limits) -> typing.NoReturn:
    if parts[0] not in limits:
        raise WireError(parts[0], "unknown argument")
    raise WireError(name, "unknown field: nested deeper than its type allows")


class _Limits(typing.Protocol):
    """How many name parts may follow each top-level name: a mapping, or any name at all."""

    def get(self, name: str, default: int, /) -> int: ...

    def __contains__(self, name: object, /) -> bool: ...


class _AnyNameDepth:
    """The limits of a tree read without a method's shapes: any name, up to MAX_DEPTH parts."""

    def get(self, name: str, default: int, /) -> int:
        return MAX_DEPTH - 1

    def __contains__(self, name: object, /) -> bool:
        return True


_ANY_NAME = _AnyNameDepth()


def consume_marker(node: Node, path: str) -> None:
    """The nameless field (``usernames.``) says 'this container is here'; it is read once."""
    if node.children or len(node.values) > 1:
        raise WireError(join(path, ""), "the empty marker may be sent only once, with no sub-fields")
    if node.values[0] != "":
        raise WireError(join(path, ""), "the empty marker's value must be blank")


class Shape:
    single: bool = False  # one value: may be sent bare, and repeated bare inside a list
    needs_models: bool = False

    def from_form(self, node: Node, path: str, load: ModelLoader | None) -> Any:
        raise NotImplementedError

    def parts_below(self, seen: frozenset[int] = frozenset()) -> int:
        """How many name parts a form field may have below this one (``x.0.name``: 2 below x)."""
        return 0

    def from_text(self, text: FormValue, path: str, load: ModelLoader | None) -> Any:
        raise WireError(path, "expected fields, not a single value")

    def from_json(self, value: Any, path: str, load: ModelLoader | None) -> Any:
        raise NotImplementedError

    def collate(self, value: Any, name: str, out: Pairs) -> None:
        raise NotImplementedError

    def encode(self, value: Any) -> Any:
        raise NotImplementedError


class SingleShape(Shape):
    """A value sent as one form field, at most once."""

    single = True

    def from_form(self, node: Node, path: str, load: ModelLoader | None) -> Any:
        if node.children:
            raise WireError(join(path, next(iter(node.children))), "unexpected field: this is a single value")
        if len(node.values) != 1:
            raise WireError(path, "sent more than once; send a single value")
        return self.from_text(node.values[0], path, load)

    def to_text(self, value: Any) -> str:
        return str(value)

    def collate(self, value: Any, name: str, out: Pairs) -> None:
        out.append((name, self.to_text(value)))


def require_text(value: FormValue, path: str) -> str:
    if not isinstance(value, str):
        raise WireError(path, "expected a value, got a file upload")
    return value


class TextShape(SingleShape):
    """str, int, float, Decimal, UUID, date, time: text on the wire, parsed by pydantic."""

    def __init__(self, tp: type) -> None:
        self.tp = tp

    def from_text(self, text: FormValue, path: str, load: ModelLoader | None) -> Any:
        return require_text(text, path)

    def from_json(self, value: Any, path: str, load: ModelLoader | None) -> Any:
        return value

    def to_text(self, value: Any) -> str:
        if self.tp is float or isinstance(value, float):
            return repr(float(value))
        if isinstance(value, (dt.date, dt.time)):
            return value.isoformat()
        return str(value)

    def encode(self, value: Any) -> Any:
        if type(value) is str:  # the usual case, first
            return value
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            return value
        if isinstance(value, (dt.date, dt.time)):
            return value.isoformat()
        return str(value)


def number_text(text: FormValue, path: str) -> str:
    text = require_text(text, path)
    if len(text) > MAX_NUMBER_LENGTH:
        raise WireError(path, f"a number may be at most {MAX_NUMBER_LENGTH} characters long")
    return text


def _first_message(exc: pydantic.ValidationError) -> str:
    return exc.errors(include_url=False, include_input=False)[0]["msg"]


_INT = pydantic.TypeAdapter(int)
_FLOAT = pydantic.TypeAdapter(float)


class IntShape(TextShape):
    """``int``: pydantic's spelling (``+5``, `` 5 ``, ``1_000``), bounded to a signed 64-bit integer.

    Read here rather than left to pydantic so that the range is checked wherever an int sits
    (nested in a model or not), and so that the text is measured before it is converted.
    """

    def __init__(self) -> None:
        super().__init__(int)

    def from_text(self, text: FormValue, path: str, load: ModelLoader | None) -> Any:
        if type(text) is str and len(text) < 19 and text.isascii() and text.isdigit():
            return int(text)  # the common case: fits in 63 bits by its length alone
        return self.checked(number_text(text, path), path)

    def from_json(self, value: Any, path: str, load: ModelLoader | None) -> Any:
        if type(value) is int:
            if not INT_MIN <= value <= INT_MAX:
                raise WireError(path, _INT_RANGE)
            return value
        if isinstance(value, str):
            return self.from_text(value, path, load)
        if type(value) is float:
            return self.checked(value, path)
        return value  # bool, null, lists…: pydantic reports them as it always has

    @staticmethod
    def checked(value: Any, path: str) -> int:
        try:
            number = _INT.validate_python(value)
        except pydantic.ValidationError as exc:
            raise WireError(path, _first_message(exc)) from None
        if not INT_MIN <= number <= INT_MAX:
            raise WireError(path, _INT_RANGE)
        return number


_INT_RANGE = "out of range: an int is a signed 64-bit integer (-2**63 to 2**63-1)"


class FloatShape(TextShape):
    """``float``: finite only. NaN and the infinities have no JSON spelling, so they are refused
    on the way in rather than failing when a result holding one is encoded."""

    def __init__(self) -> None:
        super().__init__(float)

    def from_text(self, text: FormValue, path: str, load: ModelLoader | None) -> Any:
        try:
            number = _FLOAT.validate_python(number_text(text, path))
        except pydantic.ValidationError as exc:
            raise WireError(path, _first_message(exc)) from None
        return self.finite(number, path)

    def from_json(self, value: Any, path: str, load: ModelLoader | None) -> Any:
        if type(value) is float:
            return self.finite(value, path)
        if type(value) is int:
            try:
                return float(value)
            except OverflowError:
                raise WireError(path, "out of range for a float") from None
        if isinstance(value, str):
            return self.from_text(value, path, load)
        return value

    @staticmethod
    def finite(number: float, path: str) -> float:
        if not math.isfinite(number):
            raise WireError(path, "not a finite number (NaN and infinities cannot be sent)")
        return number


class DecimalShape(TextShape):
    """``Decimal``: finite, below 10**100 in magnitude, at most 100 decimal places; measured here
    and then parsed by pydantic, so that a method never meets ``1e999999999``."""

    def __init__(self) -> None:
        super().__init__(Decimal)

    def from_text(self, text: FormValue, path: str, load: ModelLoader | None) -> Any:
        text = number_text(text, path)
        try:
            number = Decimal(text.strip())
        except InvalidOperation:
            return text  # not a number at all: pydantic says so in its words
        self.check(number, path)
        return text

    def from_json(self, value: Any, path: str, load: ModelLoader | None) -> Any:
        if isinstance(value, str):
            return self.from_text(value, path, load)
        if type(value) is int or type(value) is float:
            self.check(Decimal(repr(value)) if type(value) is float else Decimal(value), path)
        return value

    @staticmethod
    def check(number: Decimal, path: str) -> None:
        if not number.is_finite():
            raise WireError(path, "not a finite number (NaN and infinities cannot be sent)")
        if number.adjusted() >= DECIMAL_MAX_EXPONENT or number.as_tuple().exponent < -DECIMAL_MAX_EXPONENT:  # type: ignore[operator]
            raise WireError(
                path, f"out of range: a Decimal is below 10**{DECIMAL_MAX_EXPONENT} with at most {DECIMAL_MAX_EXPONENT} decimal places"
            )


class NoneShape(SingleShape):
    def from_text(self, text: FormValue, path: str, load: ModelLoader | None) -> Any:
        if require_text(text, path) != "":
            raise WireError(path, "expected an empty value for None")
        return None

    def from_json(self, value: Any, path: str, load: ModelLoader | None) -> Any:
        if value is not None:
            raise WireError(path, "expected null")
        return None

    def to_text(self, value: Any) -> str:
        return ""

    def encode(self, value: Any) -> Any:
        return None


class BoolShape(SingleShape):
    """Sent once or twice (hidden 'off' + checkbox); the last value wins."""

    def from_form(self, node: Node, path: str, load: ModelLoader | None) -> Any:
        if node.children:
            raise WireError(join(path, next(iter(node.children))), "unexpected field: this is a bool")
        if not 1 <= len(node.values) <= 2:
            raise WireError(path, "a bool may be sent once or twice (the last one is used)")
        return self.from_text(node.values[-1], path, load)

    def from_text(self, text: FormValue, path: str, load: ModelLoader | None) -> Any:
        text = require_text(text, path)
        if text in TRUE_TEXTS:
            return True
        if text in FALSE_TEXTS:
            return False
        raise WireError(path, "not a bool: send 1/0, true/false, yes/no or on/off")

    def from_json(self, value: Any, path: str, load: ModelLoader | None) -> Any:
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        if isinstance(value, str):
            return self.from_text(value, path, load)
        raise WireError(path, "not a bool")

    def to_text(self, value: Any) -> str:
        return "true" if value else "false"

    def encode(self, value: Any) -> Any:
        return bool(value)


class ReferenceShape(SingleShape):
    """A value that travels as one text attribute of it: an enum member's name, a model's api_id."""

    #: the JSON error for a value that is not text
    expected_text: str

    def from_json(self, value: Any, path: str, load: ModelLoader | None) -> Any:
        if not isinstance(value, str):
            raise WireError(path, self.expected_text)
        return self.from_text(value, path, load)


_name_of: Callable[[Any], str] = operator.attrgetter("name")
_api_id_of: Callable[[Any], str] = operator.attrgetter("api_id")


class EnumShape(ReferenceShape):
    """Enums travel by member *name*."""

    # attrgetter: no Python frame per call; mypy cannot match a staticmethod to a method
    to_text = encode = staticmethod(_name_of)  # type: ignore[assignment]

    def __init__(self, tp: type[enum.Enum]) -> None:
        self.tp = tp
        self.by_name = dict(tp.__members__)
        self.expected_text = f"expected the name of a {tp.__name__}"

    def from_text(self, text: FormValue, path: str, load: ModelLoader | None) -> Any:
        member = self.by_name.get(require_text(text, path))
        if member is None:
            raise WireError(path, f"not one of {', '.join(self.by_name)}")
        return member


class DatetimeShape(SingleShape):
    """Seconds since 1970 as a decimal number; decoded exactly, to the microsecond, UTC-aware."""

    def from_text(self, text: FormValue, path: str, load: ModelLoader | None) -> Any:
        try:
            number = Decimal(number_text(text, path).strip())
        except InvalidOperation:
            raise WireError(path, "not a timestamp: send seconds since 1970 as a number") from None
        return self.from_number(number, path)

    def from_number(self, number: Decimal, path: str) -> dt.datetime:
        if not number.is_finite():
            raise WireError(path, "not a finite timestamp")
        # Compared before anything is converted: int(Decimal("1e999999999")) would run for minutes.
        if number.adjusted() > 12 or not DATETIME_MIN_SECONDS <= number < DATETIME_MAX_SECONDS:
            raise WireError(path, "timestamp out of range (years 1 to 9999)")
        seconds = int(number.to_integral_value(rounding="ROUND_FLOOR"))
        micros = int(((number - seconds) * 1_000_000).to_integral_value(rounding="ROUND_HALF_EVEN"))
        try:
            return EPOCH + dt.timedelta(seconds=seconds, microseconds=micros)
        except OverflowError:
            raise WireError(path, "timestamp out of range") from None

    def from_json(self, value: Any, path: str, load: ModelLoader | None) -> Any:
        if isinstance(value, bool):
            raise WireError(path, "not a timestamp")
        if type(value) is float:
            return self.from_number(Decimal(repr(value)), path)
        if type(value) is int:
            return self.from_number(Decimal(value), path)
        if not isinstance(value, str):
            raise WireError(path, "not a timestamp: send seconds since 1970 as a number")
        return self.from_text(value, path, load)

    @staticmethod
    def seconds(value: dt.datetime) -> Decimal:
        if value.tzinfo is None:  # naive datetimes are taken as UTC (docs/wire.md)
            value = value.replace(tzinfo=dt.UTC)
        delta = value - EPOCH
        return Decimal(delta.days * 86400 + delta.seconds) + Decimal(delta.microseconds).scaleb(-6)

    def to_text(self, value: Any) -> str:
        return str(self.seconds(value))

    def encode(self, value: Any) -> Any:
        return float(self.seconds(value))


class BytesShape(SingleShape):
    """bytes travel as standard base64 (the OpenAPI ``contentEncoding: base64``)."""

    def from_text(self, text: FormValue, path: str, load: ModelLoader | None) -> Any:
        try:
            return base64.b64decode(require_text(text, path), validate=True)
        except (binascii.Error, ValueError):
            raise WireError(path, "not base64") from None

    def from_json(self, value: Any, path: str, load: ModelLoader | None) -> Any:
        if not isinstance(value, str):
            raise WireError(path, "expected base64 text")
        return self.from_text(value, path, load)

    def to_text(self, value: Any) -> str:
        return base64.b64encode(value).decode("ascii")

    def encode(self, value: Any) -> Any:
        return self.to_text(value)


class ModelShape(ReferenceShape):
    """A Model travels as its api_id and is loaded by the loader the server supplies."""

    needs_models = True
    expected_text = "expected an api_id"
    to_text = encode = staticmethod(_api_id_of)  # type: ignore[assignment]

    def __init__(self, tp: type) -> None:
        self.tp = tp

    def from_text(self, text: FormValue, path: str, load: ModelLoader | None) -> Any:
        api_id = require_text(text, path)
        prefix = getattr(self.tp, "api_id_prefix", None)
        if prefix and not api_id.startswith(prefix):
            raise WireError(path, f"not the api_id of a {self.tp.__name__} (they start {prefix!r})")
        if load is None:
            raise WireError(path, f"cannot load a {self.tp.__name__} here")
        found = load(self.tp, api_id)
        if found is None:
            raise WireError(path, f"no such {self.tp.__name__}")
        return found


class FileShape(SingleShape):
    def from_text(self, text: FormValue, path: str, load: ModelLoader | None) -> Any:
        if not isinstance(text, FileUpload):
            raise WireError(path, "expected a file upload (send a multipart/form-data body)")
        return text

    def from_json(self, value: Any, path: str, load: ModelLoader | None) -> Any:
        raise WireError(path, "file uploads need a multipart/form-data body, not JSON")

    def collate(self, value: Any, name: str, out: Pairs) -> None:
        out.append((name, value))

    def encode(self, value: Any) -> Any:
        raise TypeError("a FileUpload cannot be returned as a result")


class StreamShape(FileShape):
    """A ``FileStream``: the server's shell puts the streamed part among the pairs itself."""

    def from_text(self, text: FormValue, path: str, load: ModelLoader | None) -> Any:
        if not isinstance(text, FileStream):
            raise WireError(path, "expected a file part, sent last in a multipart/form-data body")
        return text

    def from_json(self, value: Any, path: str, load: ModelLoader | None) -> Any:
        raise WireError(path, "a streamed upload needs a multipart/form-data body, not JSON")


class OptionalShape(Shape):
    """``T | None``: absent means None; so does an empty value where T is not str or bytes."""

    def __init__(self, inner: Shape) -> None:
        self.inner = inner
        self.single = inner.single
        self.needs_models = inner.needs_models
        # An empty value is None unless it is a valid value of T itself ('' or b'').
        self.empty_is_none = not (isinstance(inner, TextShape) and inner.tp is str) and not isinstance(inner, BytesShape)

    def from_form(self, node: Node, path: str, load: ModelLoader | None) -> Any:
        if self.empty_is_none and not node.children and node.values == [""]:
            return None
        return self.inner.from_form(node, path, load)

    def parts_below(self, seen: frozenset[int] = frozenset()) -> int:
        return self.inner.parts_below(seen)

    def from_text(self, text: FormValue, path: str, load: ModelLoader | None) -> Any:
        if self.empty_is_none and text == "":
            return None
        return self.inner.from_text(text, path, load)

    def from_json(self, value: Any, path: str, load: ModelLoader | None) -> Any:
        return None if value is None else self.inner.from_json(value, path, load)

    def collate(self, value: Any, name: str, out: Pairs) -> None:
        if value is not None:
            self.inner.collate(value, name, out)

    def encode(self, value: Any) -> Any:
        return None if value is None else self.inner.encode(value)


class ListShape(Shape):
    """``list[T]``: ``x.0``, ``x.1``… or, for single values, bare repeated ``x``; marker ``x.``."""

    def __init__(self, item: Shape) -> None:
        self.item = item
        self.needs_models = item.needs_models

    def parts_below(self, seen: frozenset[int] = frozenset()) -> int:
        return min(MAX_DEPTH - 1, 1 + self.item.parts_below(seen))

    def from_form(self, node: Node, path: str, load: ModelLoader | None) -> Any:
        indexed: dict[int, Node] = {}
        for name, child in (node.children or {}).items():
            if name == MARKER:
                consume_marker(child, path)
            elif name.isascii() and name.isdigit():
                if len(name) > MAX_INDEX_DIGITS:
                    raise WireError(join(path, name), f"a list index has at most {MAX_INDEX_DIGITS} digits")
                index = int(name)
                if index in indexed:
                    raise WireError(join(path, name), "list index sent twice")
                indexed[index] = child
            else:
                raise WireError(join(path, name), "a list item's name must be its index (x.0, x.1, …)")
        if node.values:
            if not self.item.single:
                raise WireError(path, "items of this list have fields: send them as x.0.field")
            if indexed:
                raise WireError(path, "send either indexed items (x.0) or bare repeated values, not both")
            return [self.item.from_text(v, path, load) for v in node.values]
        return [self.item.from_form(indexed[i], join(path, str(i)), load) for i in sorted(indexed)]

    def from_json(self, value: Any, path: str, load: ModelLoader | None) -> Any:
        if not isinstance(value, list):
            raise WireError(path, "expected a list")
        return [self.item.from_json(v, join(path, str(i)), load) for i, v in enumerate(value)]

    def collate(self, value: Any, name: str, out: Pairs) -> None:
        if not value:
            out.append((join(name, MARKER), ""))
            return
        for i, item in enumerate(value):
            item_name = join(name, str(i))
            if item is None:  # an absent item would shift the indices; send it empty
                out.append((item_name, ""))
            else:
                self.item.collate(item, item_name, out)

    def encode(self, value: Any) -> Any:
        encode = self.item.encode
        return [encode(v) for v in value]


class DictShape(Shape):
    """``dict[K, V]``: each key is a name part (``prices.apple=3``); marker ``prices.``."""

    def __init__(self, key: SingleShape, value: Shape) -> None:
        self.key = key
        self.value = value
        self.needs_models = key.needs_models or value.needs_models

    def parts_below(self, seen: frozenset[int] = frozenset()) -> int:
        return min(MAX_DEPTH - 1, 1 + self.value.parts_below(seen))

    def from_form(self, node: Node, path: str, load: ModelLoader | None) -> Any:
        if node.values:
            raise WireError(path, "a dictionary: send its items as name.key=value")
        out: dict[Any, Any] = {}
        for name, child in (node.children or {}).items():
            if name == MARKER:
                consume_marker(child, path)
                continue
            child_path = join(path, name)
            out[self.key.from_text(name, child_path, load)] = self.value.from_form(child, child_path, load)
        return out

    def from_json(self, value: Any, path: str, load: ModelLoader | None) -> Any:
        if not isinstance(value, dict):
            raise WireError(path, "expected an object")
        return {
            self.key.from_text(k, join(path, k), load): self.value.from_json(v, join(path, k), load)
            for k, v in value.items()
        }

    def collate(self, value: Any, name: str, out: Pairs) -> None:
        if not value:
            if name:
                out.append((join(name, MARKER), ""))
            return
        for key, item in value.items():
            key_text = self.key.to_text(key)
            if "." in key_text or key_text == "":
                raise ValueError(f"dictionary key {key_text!r} cannot be a form name part")
            if item is None:  # an absent item would lose the key; send it empty
                out.append((join(name, key_text), ""))
            else:
                self.value.collate(item, join(name, key_text), out)

    def encode(self, value: Any) -> Any:
        return {self.key.to_text(k): self.value.encode(v) for k, v in value.items()}


@dataclasses.dataclass(slots=True)
class Field:
    shape: Shape
    required: bool
    none_if_absent: bool


class StructShape(Shape):
    """Dataclasses and pydantic models: ``filter.name_gt``; marker ``filter.`` for no fields."""

    def __init__(self, tp: type) -> None:
        self.tp = tp
        self.fields: dict[str, Field] = {}
        # (name, the field's encode) once the fields are known: encoding is on every result's path.
        self._encoders: tuple[tuple[str, Callable[[Any], Any]], ...] | None = None

    def parts_below(self, seen: frozenset[int] = frozenset()) -> int:
        if id(self) in seen:  # a recursive type: as deep as the wire allows
            return MAX_DEPTH - 1
        seen = seen | {id(self)}
        deepest = max((f.shape.parts_below(seen) for f in self.fields.values()), default=0)
        return min(MAX_DEPTH - 1, 1 + deepest)  # 1 + 0: the empty marker `filter.`

    def from_form(self, node: Node, path: str, load: ModelLoader | None) -> Any:
        if node.values:
            raise WireError(path, f"a structure: send its fields as {join(path, '<field>')}")
        out: dict[str, Any] = {}
        for name, child in (node.children or {}).items():
            if name == MARKER:
                consume_marker(child, path)
                continue
            field = self.fields.get(name)
            if field is None:
                raise WireError(join(path, name), "unknown field")
            out[name] = field.shape.from_form(child, join(path, name), load)
        return self.fill_absent(out)

    def fill_absent(self, out: dict[str, Any]) -> dict[str, Any]:
        for name, field in self.fields.items():
            if field.none_if_absent and name not in out:
                out[name] = None
        return out

    def from_json(self, value: Any, path: str, load: ModelLoader | None) -> Any:
        if not isinstance(value, dict):
            raise WireError(path, "expected an object")
        out: dict[str, Any] = {}
        for name, item in value.items():
            field = self.fields.get(name)
            if field is None:
                raise WireError(join(path, name), "unknown field")
            out[name] = field.shape.from_json(item, join(path, name), load)
        return self.fill_absent(out)

    def collate(self, value: Any, name: str, out: Pairs) -> None:
        start = len(out)
        for field_name, field in self.fields.items():
            field.shape.collate(getattr(value, field_name), join(name, field_name), out)
        if len(out) == start and name:
            out.append((join(name, MARKER), ""))

    def encode(self, value: Any) -> Any:
        encoders = self._encoders
        if encoders is None:
            encoders = self._encoders = tuple((name, f.shape.encode) for name, f in self.fields.items())
        return {name: encode(getattr(value, name)) for name, encode in encoders}


class AnyShape(Shape):
    """An unannotated value: read as plain text/dicts/lists; written by what it is at run time."""

    single = True

    def parts_below(self, seen: frozenset[int] = frozenset()) -> int:
        return MAX_DEPTH - 1

    def from_form(self, node: Node, path: str, load: ModelLoader | None) -> Any:
        if node.children:
            return {k: self.from_form(c, join(path, k), load) for k, c in node.children.items() if k}
        return node.values[0] if len(node.values) == 1 else list(node.values)

    def from_text(self, text: FormValue, path: str, load: ModelLoader | None) -> Any:
        return text

    def from_json(self, value: Any, path: str, load: ModelLoader | None) -> Any:
        return value

    def collate(self, value: Any, name: str, out: Pairs) -> None:
        if value is None:
            return
        shape_of_value(value).collate(value, name, out)

    def encode(self, value: Any) -> Any:
        if value is None or isinstance(value, (str, int, float, bool)):
            return value
        return shape_of_value(value).encode(value)


ANY = AnyShape()
_TEXT_TYPES = (str, int, float, Decimal, uuid.UUID, dt.date, dt.time)
_cache: dict[object, Shape] = {}


def shape_of(tp: object) -> Shape:
    """The shape of a type annotation; computed once per type."""
    try:
        return _cache[tp]
    except (KeyError, TypeError):
        pass
    shape = _build(tp)
    try:
        _cache[tp] = shape
    except TypeError:  # unhashable annotation objects are rebuilt each time
        pass
    return shape


def _build(tp: object) -> Shape:
    if tp is Any or tp is object or tp is typing.Any:
        return ANY
    if tp is None or tp is type(None):
        return NoneShape()
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        return shape_of(typing.get_args(tp)[0])
    if origin is typing.Union or origin is types.UnionType:
        members = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(members) == 1 and len(members) < len(typing.get_args(tp)):
            return OptionalShape(shape_of(members[0]))
        raise TypeError(f"unions other than `T | None` cannot travel as form fields: {tp!r}")
    if origin in (list, typing.List, tuple) or tp is list:  # noqa: UP006
        args = typing.get_args(tp)
        if origin is tuple and not (len(args) == 2 and args[1] is Ellipsis):
            raise TypeError(f"only variable-length tuple[T, ...] is supported: {tp!r}")
        return ListShape(shape_of(args[0]) if args else ANY)
    if origin in (dict, typing.Dict) or tp is dict:  # noqa: UP006
        args = typing.get_args(tp)
        key = shape_of(args[0]) if args else TextShape(str)
        if not isinstance(key, SingleShape):
            raise TypeError(f"dictionary keys must be single values: {tp!r}")
        return DictShape(key, shape_of(args[1]) if args else ANY)
    if not isinstance(tp, type):
        raise TypeError(f"cannot send or receive {tp!r} over the wire")
    if tp is bool:
        return BoolShape()
    if issubclass(tp, enum.Enum):
        return EnumShape(tp)
    if issubclass(tp, dt.datetime):
        return DatetimeShape()
    if tp is bytes:
        return BytesShape()
    if issubclass(tp, FileUpload):
        return FileShape()
    if issubclass(tp, FileStream):
        return StreamShape()
    if issubclass(tp, Model):
        return ModelShape(tp)
    if tp is int:
        return IntShape()
    if tp is float:
        return FloatShape()
    if tp is Decimal:
        return DecimalShape()
    if issubclass(tp, _TEXT_TYPES):
        return TextShape(tp)
    if dataclasses.is_dataclass(tp) or issubclass(tp, pydantic.BaseModel):
        return _struct(tp)
    raise TypeError(f"cannot send or receive {tp.__name__} over the wire")


def _struct(tp: type) -> StructShape:
    shape = StructShape(tp)
    _cache[tp] = shape  # before the fields, so a recursive type finds itself
    if dataclasses.is_dataclass(tp):
        hints = typing.get_type_hints(tp, include_extras=True)
        for f in dataclasses.fields(tp):
            if not f.init:
                continue
            required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
            shape.fields[f.name] = _field(hints[f.name], required)
    else:
        for name, info in tp.model_fields.items():  # type: ignore[attr-defined]
            shape.fields[name] = _field(info.annotation, info.is_required())
    shape.needs_models = any(f.shape.needs_models for f in shape.fields.values())
    return shape


def _field(annotation: object, required: bool) -> Field:
    field_shape = shape_of(annotation)
    return Field(field_shape, required, required and isinstance(field_shape, OptionalShape))


def shape_of_value(value: Any) -> Shape:
    """The shape of a value whose type was not declared (the client's arguments)."""
    if isinstance(value, (list, tuple)):
        return ListShape(ANY)
    if isinstance(value, dict):
        return DictShape(TextShape(str), ANY)
    return shape_of(type(value))
