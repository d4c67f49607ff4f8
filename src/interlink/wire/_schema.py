"""JSON Schema for wire types, from pydantic's generator with the wire's own spellings."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping

from pydantic.json_schema import GenerateJsonSchema
from pydantic_core import core_schema

from ._limits import DATETIME_MAX_SECONDS, DATETIME_MIN_SECONDS, INT_MAX, INT_MIN

if TYPE_CHECKING:
    from ._arguments import Parameter
    from ._shape import Shape


class WireJsonSchema(GenerateJsonSchema):
    """Enums by name, datetimes as seconds since 1970, bytes as base64, ints as int64: as they travel."""

    def int_schema(self, schema: core_schema.IntSchema) -> dict[str, Any]:
        out = super().int_schema(schema)
        out["format"] = "int64"
        # The wire's range, unless the type's own bounds are tighter.
        if "exclusiveMinimum" not in out and out.get("minimum", INT_MIN) <= INT_MIN:
            out["minimum"] = INT_MIN
        if "exclusiveMaximum" not in out and out.get("maximum", INT_MAX) >= INT_MAX:
            out["maximum"] = INT_MAX
        return out

    def enum_schema(self, schema: core_schema.EnumSchema) -> dict[str, Any]:
        cls = schema["cls"]
        return {"type": "string", "enum": list(cls.__members__), "title": cls.__name__}

    def datetime_schema(self, schema: core_schema.DatetimeSchema) -> dict[str, Any]:
        return {
            "type": "number",
            "description": "seconds since 1970-01-01T00:00:00Z",
            "minimum": DATETIME_MIN_SECONDS,
            "exclusiveMaximum": DATETIME_MAX_SECONDS,
        }

    def bytes_schema(self, schema: core_schema.BytesSchema) -> dict[str, Any]:
        return {"type": "string", "contentEncoding": "base64"}


def form_schema(shapes: Mapping[str, Shape], parameters: Mapping[str, Parameter], json_schema: dict[str, Any]) -> dict[str, Any]:
    """The form body as flat dotted properties, so that forms (and Swagger UI) can fill them in.

    Structures are flattened (``filter.name_gt``); lists of single values are arrays sent as
    repeated names; deeper containers are described by a note, their JSON form being exact.
    """
    from ._shape import ListShape, OptionalShape, StructShape

    defs = json_schema.get("$defs", {})
    properties: dict[str, Any] = {}
    required: list[str] = []

    def resolve(schema: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in schema:
            schema = defs.get(schema["$ref"].rsplit("/", 1)[-1], {})
        return schema

    def walk(name: str, shape: Shape, schema: dict[str, Any], is_required: bool) -> None:
        schema = resolve(schema)
        inner = shape.inner if isinstance(shape, OptionalShape) else shape
        if isinstance(shape, OptionalShape):
            options = [resolve(s) for s in schema.get("anyOf", []) if s.get("type") != "null"]
            schema = options[0] if options else schema
        if isinstance(inner, StructShape):
            sub = schema.get("properties", {})
            req = set(schema.get("required", []))
            if not inner.fields:
                properties[f"{name}."] = {"type": "string", "description": "empty marker: sends the structure"}
            for field_name, field in inner.fields.items():
                walk(f"{name}.{field_name}", field.shape, sub.get(field_name, {}), is_required and field_name in req)
            return
        if isinstance(inner, ListShape) and not inner.item.single:
            properties[name] = {
                "type": "string",
                "description": f"a list of structures: send {name}.0.<field>, {name}.1.<field>, …",
            }
            return
        properties[name] = {k: v for k, v in schema.items() if k not in ("$defs",)}
        if is_required:
            required.append(name)

    top = json_schema.get("properties", {})
    for name, shape in shapes.items():
        walk(name, shape, top.get(name, {}), parameters[name].required and not isinstance(shape, OptionalShape))
    out: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        out["required"] = required
    return out
