"""Decoders and encoders compiled to Python source, once per method and per result type.

Most methods take flat scalars, bare repeated lists of them and plain dataclasses of those
(``filter.name_gt=b&usernames=bob&usernames=carol&active=true``), and return dataclasses,
lists and scalars. For them the general path — a trie of the dotted names, a shape walk per
parameter, then pydantic validating every value again — does far more than the call needs.

The **form decoder** written here reads the pairs in one loop into local variables, one per
form name the method can take, and converts them straight to the values pydantic would have
produced. It only ever answers a call it is sure of: anything else — a name it does not know
(markers, indexed items, unknown or too-long names), a value sent twice, a value that does not
convert by the simplest rule, a missing field — makes it hand the same pairs to the general
path, which gives the answer or the exact error it always gave, with every limit enforced. Types
whose values pydantic would change or check (constraints in ``Annotated`` or a field's metadata,
pydantic models and dataclasses, pydantic validators or schema hooks on a type, ``__post_init__``,
dates, decimals, models loaded by id) are not compiled at all.

The **result encoder** is one expression per type, the shapes' ``encode`` rules inlined; on any
error it encodes the value again by the shapes, so a result that does not fit its type fails
with the same error as before.
"""

from __future__ import annotations

import copy
import dataclasses
import enum
import inspect
import keyword
import re
import types
import typing
from typing import Any, Callable, Protocol

from pydantic.dataclasses import is_pydantic_dataclass

from ._limits import MAX_DEPTH, MAX_NAME_LENGTH, MAX_NUMBER_LENGTH
from ._shape import (
    FALSE_TEXTS,
    TRUE_TEXTS,
    BoolShape,
    EnumShape,
    FloatShape,
    IntShape,
    ListShape,
    OptionalShape,
    Shape,
    StructShape,
    TextShape,
    shape_of,
)
from ._values import FormValue

__all__ = ["FormDecoder", "compile_encoder", "compile_form_decoder"]

Decoded = dict[str, Any]


class FormDecoder(Protocol):
    """``Arguments.decode_pairs``: form pairs in, keyword arguments out (or a WireError)."""

    def __call__(self, pairs: typing.Iterable[tuple[str, FormValue]], load: Any = None) -> Decoded: ...


class _NotSimple(Exception):
    """A value the compiled decoder leaves to the general path (which answers or refuses it)."""


# -- scalars: text -> the value pydantic would have given ------------------------------------

_BOOLS: dict[str, bool] = {**dict.fromkeys(TRUE_TEXTS, True), **dict.fromkeys(FALSE_TEXTS, False)}
# Digits with an optional minus sign and fraction: float() and pydantic read these alike. Exponents,
# underscores, blanks, 'inf' and the rest are left to pydantic.
_PLAIN_DECIMAL = re.compile(r"-?[0-9]+(?:\.[0-9]+)?").fullmatch


def _int(text: object) -> int:
    # IntShape's own quick case: fewer than 19 digits (and a minus sign) always fit in a signed
    # 64-bit integer.
    if type(text) is str and len(text) < 19 and text.isascii():
        if text.isdigit() or (text[:1] == "-" and text[1:].isdigit()):
            return int(text)
    raise _NotSimple


def _float(text: object) -> float:
    # At most MAX_NUMBER_LENGTH characters and no exponent: always finite.
    if type(text) is str and len(text) <= MAX_NUMBER_LENGTH and _PLAIN_DECIMAL(text):
        return float(text)
    raise _NotSimple


def _bool(text: object) -> bool:
    found = _BOOLS.get(text) if type(text) is str else None
    if found is None:
        raise _NotSimple
    return found


def _str(text: object) -> str:
    if type(text) is str:
        return text
    raise _NotSimple  # a file upload where text was expected


def _enum(tp: type[enum.Enum]) -> Callable[[object], enum.Enum]:
    by_name = EnumShape(tp).by_name

    def member(text: object) -> enum.Enum:
        found = by_name.get(text) if type(text) is str else None
        if found is None:
            raise _NotSimple
        return found

    return member


def _empty_is_none(convert: Callable[[object], Any]) -> Callable[[object], Any]:
    def optional(text: object) -> Any:
        return None if text == "" else convert(text)

    return optional


# -- the plan: which form names a method takes, and what each becomes --------------------------


@dataclasses.dataclass
class _Leaf:
    """One form name: a single value, a bool (sent once or twice), or a bare repeated list."""

    name: str
    kind: str  # "single", "bool" or "list"
    convert: Callable[[object], Any]  # one text -> its value (an item's, for a list)
    # `bool | None` or `list[T] | None`: one empty value is None. (For any other `T | None`
    # the leaf's `convert` says so itself.)
    optional: bool = False
    index: int = 0


@dataclasses.dataclass
class _Struct:
    tp: type
    fields: list[tuple[str, _Node, bool, bool]]  # name, node, required, None when absent
    keyword_only: frozenset[str] = frozenset()  # the rest are passed by position (cheaper)


_Node = _Leaf | _Struct
_ABSENT: Any = object()
# What makes the compiled decoder hand a call to the general path: a value it does not convert
# (_NotSimple), a name or text it does not know (a KeyError of its tables) or cannot look up.
_GENERAL = (_NotSimple, KeyError, TypeError)


def _unannotated(tp: object) -> bool:
    return typing.get_origin(tp) is not typing.Annotated


def _optional_member(tp: object) -> object | None:
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        members: list[object] = [a for a in args if a is not type(None)]
        if len(members) == 1 and len(args) == 2:
            return members[0]
    return None


def _scalar(tp: object) -> tuple[str, Callable[[object], Any]] | None:
    if tp is str:
        return "single", _str
    if tp is int:
        return "single", _int
    if tp is float:
        return "single", _float
    if tp is bool:
        return "bool", _bool
    if isinstance(tp, type) and issubclass(tp, enum.Enum) and not _validated_its_own_way(tp):
        return "single", _enum(tp)
    return None


def _validated_its_own_way(tp: type) -> bool:
    """A type that tells pydantic how to validate it: pydantic runs that, so only the general path may."""
    return hasattr(tp, "__get_pydantic_core_schema__") or hasattr(tp, "__get_validators__")


def _item_convert(tp: object) -> Callable[[object], Any] | None:
    """A list item's conversion: a scalar, or `scalar | None` (an empty item is None unless
    the scalar is text)."""
    inner = _optional_member(tp)
    found = _scalar(tp if inner is None else inner)
    if found is None:
        return None
    if inner is not None and typing.cast(OptionalShape, shape_of(tp)).empty_is_none:
        return _empty_is_none(found[1])
    return found[1]


def _plan(tp: object, name: str, seen: frozenset[type]) -> _Node | None:
    """The plan of one value sent under ``name``, or None when it is not compiled."""
    if not _unannotated(tp):
        return None  # Annotated carries constraints that pydantic checks
    inner = _optional_member(tp)
    optional = inner is not None
    target = inner if inner is not None else tp
    if not _unannotated(target):
        return None
    scalar = _scalar(target)
    if scalar is not None:
        kind, convert = scalar
        shape = shape_of(tp)
        if optional and kind == "single" and typing.cast(OptionalShape, shape).empty_is_none:
            convert = _empty_is_none(convert)
        # An optional bool is None when sent once, empty; otherwise the bool as usual.
        return _Leaf(name, kind, convert, optional=optional and kind == "bool")
    if typing.get_origin(target) is list:
        (item,) = typing.get_args(target) or (None,)
        convert_item = _item_convert(item) if item is not None and _unannotated(item) else None
        if convert_item is None:
            return None
        empty_is_none = optional and typing.cast(OptionalShape, shape_of(tp)).empty_is_none
        return _Leaf(name, "list", convert_item, optional=empty_is_none)
    if isinstance(target, type) and _plain_dataclass(target) and target not in seen:
        hints = typing.get_type_hints(target, include_extras=True)
        struct = typing.cast(StructShape, shape_of(target))
        fields: list[tuple[str, _Node, bool, bool]] = []
        for f in dataclasses.fields(target):
            node = _plan(hints[f.name], f"{name}.{f.name}", seen | {target})
            if node is None:
                return None
            field = struct.fields[f.name]
            fields.append((f.name, node, field.required, field.none_if_absent))
        if not fields:
            return None  # sent as a marker only: left to the general path
        return _Struct(target, fields, frozenset(f.name for f in dataclasses.fields(target) if f.kw_only))
    return None


def _plain_dataclass(tp: type) -> bool:
    """A stdlib dataclass that pydantic would fill field by field and nothing more: built here
    with its own ``__init__`` (which sets the same fields, and the same defaults)."""
    if "__dataclass_fields__" not in tp.__dict__ or hasattr(tp, "__pydantic_config__"):
        return False
    if is_pydantic_dataclass(tp) or hasattr(tp, "__post_init__") or _validated_its_own_way(tp):
        return False  # a pydantic dataclass (validators), or code run after the fields are set
    if getattr(tp, "__new__") is not object.__new__:
        return False  # called by tp(...), but not by pydantic
    if any(type(member).__module__.startswith("pydantic") for klass in tp.__mro__ for member in vars(klass).values()):
        return False  # pydantic's validators (field_validator, model_validator) on a plain dataclass
    init = tp.__dict__.get("__init__")
    if getattr(getattr(init, "__code__", None), "co_filename", None) != "<string>":
        return False  # a hand-written __init__
    own_setattr = getattr(tp, "__setattr__") is not object.__setattr__
    if own_setattr and not getattr(tp, "__dataclass_params__").frozen:
        return False  # __init__ would go through it; pydantic sets the fields directly
    for f in dataclasses.fields(tp):
        if not f.init or type(f.default).__module__.startswith("pydantic") or hasattr(type(f.default), "__set__"):
            return False  # init=False fields, pydantic.Field(...) or a descriptor as the default
        if f.metadata:
            return False  # pydantic reads it as Field(...)'s arguments: field(metadata={"gt": 0})
    return True


def _leaves(node: _Node) -> list[_Leaf]:
    if isinstance(node, _Leaf):
        return [node]
    return [leaf for _, child, _, _ in node.fields for leaf in _leaves(child)]


# -- the form decoder, as source ----------------------------------------------------------------


class _Source:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.constants: dict[str, Any] = {}
        self.count = 0

    def add(self, depth: int, line: str) -> None:
        self.lines.append("    " * depth + line)

    def constant(self, value: Any) -> str:
        name = f"_c{len(self.constants)}"
        self.constants[name] = value
        return name

    def temporary(self) -> str:
        self.count += 1
        return f"t{self.count}"

    def function(self, name: str) -> Any:
        namespace: dict[str, Any] = {}
        exec("\n".join(self.lines), dict(self.constants), namespace)  # noqa: S102 - our own source
        return namespace[name]


def _raw(leaf: _Leaf) -> str:
    return f"v{leaf.index}"


def _present(node: _Node) -> str:
    return " or ".join(f"{_raw(leaf)} is not _ABSENT" for leaf in _leaves(node))


def _emit_value(src: _Source, depth: int, node: _Node, target: str) -> None:
    """Statements that set ``target`` to the node's value; the node was sent (some name of it)."""
    if isinstance(node, _Leaf):
        raw, convert = _raw(node), src.constant(node.convert)
        if node.kind == "list":
            items = f"[{convert}(item) for item in {raw}]"
            if node.convert is _str:
                src.add(depth, f"for item in {raw}:")
                src.add(depth + 1, "if item.__class__ is not str: raise _NotSimple")
                items = raw  # the list was made for this call
            src.add(depth, f"{target} = None if {raw} == [''] else {items}" if node.optional else f"{target} = {items}")
        elif node.kind == "bool":
            last = f"{raw}[-1]"
            src.add(depth, f"if len({raw}) > 2: raise _NotSimple")
            # _BOOLS[text]: a KeyError for anything but the texts of a bool
            if node.optional:
                src.add(depth, f"{target} = None if {raw} == [''] else _BOOLS[{last}]")
            else:
                src.add(depth, f"{target} = _BOOLS[{last}]")
        elif node.convert is _str:
            src.add(depth, f"if {raw}.__class__ is not str: raise _NotSimple")
            src.add(depth, f"{target} = {raw}")
        else:
            src.add(depth, f"{target} = {convert}({raw})")
        return
    positional: list[str] = []
    by_name: list[str] = []
    keywords: list[tuple[str, _Node, bool, bool, str]] = []
    for field_name, child, required, none_if_absent in node.fields:
        value = src.temporary()
        keywords.append((field_name, child, required, none_if_absent, value))
    if all(required for _, _, required, _, _ in keywords):
        for field_name, child, _, none_if_absent, value in keywords:
            _emit_field(src, depth, child, value, none_if_absent)
            if field_name in node.keyword_only:
                by_name.append(f"{field_name}={value}")
            else:
                positional.append(value)
        src.add(depth, f"{target} = {src.constant(node.tp)}({', '.join(positional + by_name)})")
        return
    given = src.temporary()  # fields with a default are passed only when sent
    src.add(depth, f"{given} = {{}}")
    for field_name, child, required, none_if_absent, value in keywords:
        if required:
            _emit_field(src, depth, child, value, none_if_absent)
            src.add(depth, f"{given}[{field_name!r}] = {value}")
        else:
            src.add(depth, f"if {_present(child)}:")
            _emit_value(src, depth + 1, child, value)
            src.add(depth + 1, f"{given}[{field_name!r}] = {value}")
    src.add(depth, f"{target} = {src.constant(node.tp)}(**{given})")


def _emit_field(src: _Source, depth: int, child: _Node, value: str, none_if_absent: bool) -> None:
    """A required field: its value, None for an absent `T | None`, else the general path."""
    src.add(depth, f"if {_present(child)}:")
    _emit_value(src, depth + 1, child, value)
    src.add(depth, "else:")
    src.add(depth + 1, f"{value} = None" if none_if_absent else "raise _NotSimple")


def compile_form_decoder(parameters: dict[str, tuple[Any, object]], general: FormDecoder) -> FormDecoder | None:
    """The method's compiled ``decode_pairs``, or None when some parameter is not compiled.

    ``parameters`` maps each name to its annotation and default (``inspect.Parameter.empty``
    for none); ``general`` is the full path, called with the same pairs whenever the compiled
    one is not sure.
    """
    nodes: dict[str, _Node] = {}
    for name, (annotation, _) in parameters.items():
        try:
            node = _plan(annotation, name, frozenset())
        except (TypeError, NameError):  # a type the shapes read but the plan cannot: not compiled
            node = None
        if node is None:
            return None
        nodes[name] = node
    leaves = [leaf for node in nodes.values() for leaf in _leaves(node)]
    if any(len(leaf.name) > MAX_NAME_LENGTH or leaf.name.count(".") >= MAX_DEPTH for leaf in leaves):
        return None  # names the general path refuses, whatever the type says
    for i, leaf in enumerate(leaves):
        leaf.index = i
    src = _Source()
    index = src.constant({leaf.name: leaf.index for leaf in leaves})
    src.constants.update(_ABSENT=_ABSENT, _GENERAL=_GENERAL, _NotSimple=_NotSimple, _BOOLS=_BOOLS)
    src.add(0, "def decode_pairs(pairs, load=None):")
    src.add(1, "if pairs.__class__ is not list: pairs = list(pairs)")
    if leaves:
        src.add(1, " = ".join(_raw(leaf) for leaf in leaves) + " = _ABSENT")
    src.add(1, "try:")
    src.add(2, "for name, value in pairs:")
    src.add(3, f"i = {index}[name]  # KeyError: a name only the general path knows")
    for n, leaf in enumerate(leaves):
        raw = _raw(leaf)
        src.add(3, f"{'if' if n == 0 else 'elif'} i == {leaf.index}:")
        if leaf.kind == "single":
            src.add(4, f"if {raw} is not _ABSENT: raise _NotSimple  # sent twice")
            src.add(4, f"{raw} = value")
        else:  # a list of the values: bare repeated items, or a bool's one or two
            src.add(4, f"if {raw} is _ABSENT: {raw} = [value]")
            src.add(4, f"else: {raw}.append(value)")
    out: list[str] = []
    for name, node in nodes.items():
        value = f"a_{len(out)}"
        out.append(f"{name!r}: {value}")
        src.add(2, f"if {_present(node)}:")
        _emit_value(src, 3, node, value)
        src.add(2, "else:")
        annotation, default = parameters[name]
        if default is inspect.Parameter.empty:  # `T | None` may be left out; T may not
            src.add(3, f"{value} = None" if isinstance(shape_of(annotation), OptionalShape) else "raise _NotSimple")
        else:
            try:
                hash(default)
                src.add(3, f"{value} = {src.constant(default)}")
            except TypeError:  # pydantic hands each call its own copy of a mutable default
                src.add(3, f"{value} = {src.constant(copy.deepcopy)}({src.constant(default)})")
    src.add(2, f"return {{{', '.join(out)}}}")
    src.add(1, "except _GENERAL:")
    src.add(2, "pass")
    # Called after the except: its errors do not carry ours (a KeyError naming the caller's text).
    src.add(1, f"return {src.constant(general)}(pairs, load)")
    return typing.cast(FormDecoder, src.function("decode_pairs"))


# -- the result encoder --------------------------------------------------------------------------


_TEXT_SHAPES = (TextShape, IntShape, FloatShape)
_TEXT_TYPES = {str: "str", int: "int", float: "float"}


class _Encoder:
    """The source of one expression per shape, nested as the type is (a structure inline)."""

    def __init__(self) -> None:
        self.src = _Source()
        self.compiling: set[int] = set()  # structures being written: a recursive one calls encode

    def expression(self, shape: Shape, value: str) -> str:
        """An expression encoding ``value``: a name, or an attribute of one, read once."""
        src = self.src
        if isinstance(shape, BoolShape):
            return f"(True if {value} else False)"  # bool(value), without the call
        if isinstance(shape, EnumShape):
            return f"{value}.name"
        if type(shape) in _TEXT_SHAPES and typing.cast(TextShape, shape).tp in _TEXT_TYPES:
            t, exact = src.temporary(), _TEXT_TYPES[typing.cast(TextShape, shape).tp]
            # the usual case first, as TextShape.encode has it; anything else by its rule
            return f"({t} if ({t} := {value}).__class__ is {exact} else {src.constant(shape.encode)}({t}))"
        if type(shape) is OptionalShape:
            t = src.temporary()
            return f"(None if ({t} := {value}) is None else {self.expression(shape.inner, t)})"
        if type(shape) is ListShape:
            item = src.temporary()
            return f"[{self.expression(shape.item, item)} for {item} in {value}]"
        if type(shape) is StructShape and id(shape) not in self.compiling and all(map(_attribute_name, shape.fields)):
            self.compiling.add(id(shape))
            t = value if value.isidentifier() else src.temporary()
            fields = ", ".join(f"{name!r}: {self.expression(field.shape, f'{t}.{name}')}" for name, field in shape.fields.items())
            self.compiling.discard(id(shape))
            if t == value:
                return f"{{{fields}}}"
            # An attribute is read once: the condition binds it first (always true), then the
            # fields are read from it. (A walrus cannot stand in a comprehension's iterable.)
            return f"({{{fields}}} if ({t} := {value}) is not _ABSENT else None)"
        return f"{src.constant(shape.encode)}({value})"


def _attribute_name(name: str) -> bool:
    """A field name that can be written as ``value.name`` (a pydantic model's need not be)."""
    return name.isidentifier() and not keyword.iskeyword(name)


def compile_encoder(shape: Shape) -> Callable[[Any], Any]:
    """``shape.encode`` as one function: same output, same error when the value does not fit."""
    encoder = _Encoder()
    body = encoder.expression(shape, "value")
    src = encoder.src
    if not body.startswith(("(", "[", "{")):  # the shape's own encode, or an enum's `value.name`
        return shape.encode  # nothing to inline (None, Any, a datetime, a Decimal, bytes…)
    general = src.constant(shape.encode)
    src.constants["_ABSENT"] = _ABSENT
    src.add(0, "def encode(value):")
    src.add(1, "try:")
    src.add(2, f"return {body}")
    src.add(1, "except Exception:")
    # Encoded again by the shapes, for their exact error. Should they not fail, the value was
    # an iterator the first try had partly read: its error stands (not a list short of items).
    src.add(2, f"{general}(value)")
    src.add(2, "raise")
    return typing.cast(Callable[[Any], Any], src.function("encode"))
