"""A method's arguments: form pairs or a JSON object in, validated keyword arguments out.

Compiled once per method. The form rules live in the shapes; pydantic then parses the text
scalars, builds dataclasses and pydantic models, applies defaults and runs model validators,
and gives the JSON Schema of the same description. A method of plain scalars, lists of them
and dataclasses also gets a form decoder written for it (``_compiled.py``) that answers the
usual call without either, and hands every other call to this general path.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
from typing import Any, Iterable, Mapping

import pydantic
from pydantic_core import ErrorDetails

from ._compiled import FormDecoder, compile_form_decoder
from ._schema import WireJsonSchema, form_schema
from ._shape import (
    DictShape,
    ModelLoader,
    Node,
    OptionalShape,
    Pairs,
    Shape,
    StructShape,
    build_tree,
    consume_marker,
    join,
    shape_of,
    shape_of_value,
)
from ._values import FormValue, WireError


@dataclasses.dataclass(frozen=True, slots=True)
class Parameter:
    name: str
    annotation: Any  # a type expression, as pydantic takes it
    default: object = inspect.Parameter.empty

    @property
    def required(self) -> bool:
        return self.default is inspect.Parameter.empty


class Arguments:
    """The compiled converter for one method's parameters."""

    def __init__(self, parameters: Iterable[Parameter], title: str = "Arguments") -> None:
        self.parameters = {p.name: p for p in parameters}
        self.shapes: dict[str, Shape] = {n: shape_of(p.annotation) for n, p in self.parameters.items()}
        self.needs_models = any(s.needs_models for s in self.shapes.values())
        # How deep a form name under each parameter can go; "" is the nameless marker field.
        self.depths: dict[str, int] = {n: s.parts_below() for n, s in self.shapes.items()}
        self.depths.setdefault("", 0)
        fields: dict[str, Any] = {}  # pydantic.create_model's keyword arguments
        for name, p in self.parameters.items():
            default = p.default
            if p.required:
                # `T | None` with no default may simply be left out.
                default = None if isinstance(self.shapes[name], OptionalShape) else ...
            fields[name] = (p.annotation, default)
        self.model: type[pydantic.BaseModel] = pydantic.create_model(
            title.replace(".", "_"),
            __config__=pydantic.ConfigDict(arbitrary_types_allowed=True, extra="forbid"),
            **fields,
        )
        self.model.__doc__ = f"Arguments of {title}"
        #: Form pairs -> keyword arguments. Compiled for methods of plain scalars, lists and
        #: dataclasses (``_compiled.py``), which hands anything unusual to the general path.
        self.decode_pairs: FormDecoder = self.decode_in_full
        # Only when each parameter is a field of the model: pydantic takes a `_name` for a
        # private attribute, and the general path refuses it when sent.
        if self.model.model_fields.keys() == self.parameters.keys():
            annotated = {n: (p.annotation, p.default) for n, p in self.parameters.items()}
            self.decode_pairs = compile_form_decoder(annotated, self.decode_in_full) or self.decode_in_full

    def decode_in_full(self, pairs: Iterable[tuple[str, FormValue]], load: ModelLoader | None = None) -> dict[str, Any]:
        """The general path: every form rule and limit, pydantic's checks, the exact errors."""
        return self.decode_tree(build_tree(pairs, self.depths), load)

    def decode_tree(self, root: Node, load: ModelLoader | None = None) -> dict[str, Any]:
        if root.values:
            raise WireError("", "a field with no name was sent")
        raw: dict[str, Any] = {}
        for name, child in (root.children or {}).items():
            shape = self.shapes.get(name)
            if shape is None:
                if name == "":
                    consume_marker(child, "")
                    continue
                raise WireError(name, "unknown argument")
            raw[name] = shape.from_form(child, name, load)
        return self.validate(raw)

    def decode_json(self, body: Any, load: ModelLoader | None = None) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise WireError("", "a JSON body must be an object of arguments")
        raw: dict[str, Any] = {}
        for name, value in body.items():
            shape = self.shapes.get(name)
            if shape is None:
                raise WireError(name, "unknown argument")
            raw[name] = shape.from_json(value, name, load)
        return self.validate(raw)

    def validate(self, raw: dict[str, Any]) -> dict[str, Any]:
        try:
            # model_validate without its Python layer: this runs for every call's arguments.
            validated = self.model.__pydantic_validator__.validate_python(raw)
        except pydantic.ValidationError as exc:
            raise wire_error(exc.errors(include_url=False, include_input=False)) from None
        return dict(validated.__dict__)

    def collate(self, values: Mapping[str, Any]) -> Pairs:
        out: Pairs = []
        for name, value in values.items():
            shape = self.shapes.get(name)
            if shape is None:
                raise TypeError(f"unknown argument {name!r}")
            shape.collate(value, name, out)
        return out

    def json_schema(self) -> dict[str, Any]:
        return self.model.model_json_schema(schema_generator=WireJsonSchema, mode="validation")

    def form_schema(self) -> dict[str, Any]:
        return form_schema(self.shapes, self.parameters, self.json_schema())


def wire_error(errors: list[ErrorDetails]) -> WireError:
    """The first pydantic error as a WireError naming the dotted field."""
    first = errors[0]
    parts = [str(p) for p in first["loc"] if p != "[key]"]
    message = first["msg"]
    if first["type"] == "missing":
        message = "missing"
    return WireError(".".join(parts), message)


def decode(tp: Any, pairs: Iterable[tuple[str, FormValue]], load: ModelLoader | None = None, name: str = "") -> Any:
    """Decode one value of type ``tp`` from form pairs: the inverse of :func:`collate`.

    A structure or dictionary is read from the top-level names, any other value from ``name``.
    """
    shape = shape_of(tp)
    node = _top_node(shape, build_tree(pairs), name)
    if node is None:
        if isinstance(shape, OptionalShape):
            return None
        raise WireError(name, "missing")
    raw = shape.from_form(node, name, load)
    try:
        return _adapter(tp).validate_python(raw)
    except pydantic.ValidationError as exc:
        error = wire_error(exc.errors(include_url=False, include_input=False))
        raise WireError(join(name, error.field), error.message) from None


def collate(tp: Any, value: Any, name: str = "") -> Pairs:
    """The form pairs that carry ``value`` of type ``tp`` (``None`` or ``Any``: by what it is)."""
    shape = shape_of_value(value) if tp is None or tp is Any else shape_of(tp)
    if not name and not isinstance(shape, (StructShape, DictShape)):
        raise TypeError("a single value or a list needs a name=")
    out: Pairs = []
    shape.collate(value, name, out)
    return out


def _top_node(shape: Shape, root: Node, name: str) -> Node | None:
    if name:
        return (root.children or {}).get(name)
    if isinstance(shape, (StructShape, DictShape)):
        return root
    raise TypeError("a single value or a list needs a name=")


@functools.lru_cache(maxsize=512)
def _adapter(tp: Any) -> pydantic.TypeAdapter[Any]:
    if isinstance(tp, type) and (dataclasses.is_dataclass(tp) or issubclass(tp, pydantic.BaseModel)):
        return pydantic.TypeAdapter(tp)  # such types carry their own config
    return pydantic.TypeAdapter(tp, config=pydantic.ConfigDict(arbitrary_types_allowed=True))
