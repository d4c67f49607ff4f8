"""A method's result: Python value -> JSON-ready data, and its JSON Schema."""

from __future__ import annotations

import inspect
from typing import Any

import pydantic

from ._compiled import compile_encoder
from ._schema import WireJsonSchema
from ._shape import ANY, Shape, shape_of


class Result:
    """The compiled encoder for one return annotation (no annotation: encoded by value)."""

    def __init__(self, annotation: Any) -> None:
        self.annotation: Any = Any if annotation is inspect.Signature.empty else annotation
        self.shape: Shape = ANY if self.annotation is Any else shape_of(self.annotation)
        # The shapes' encode rules as one compiled function (same output, same errors).
        self.encode = compile_encoder(self.shape)

    def json_schema(self) -> dict[str, Any]:
        if self.annotation is Any or self.annotation is None or self.annotation is type(None):
            return {} if self.annotation is Any else {"type": "null"}
        adapter = pydantic.TypeAdapter(self.annotation, config=None if _carries_config(self.annotation) else pydantic.ConfigDict(arbitrary_types_allowed=True))
        return adapter.json_schema(schema_generator=WireJsonSchema, mode="serialization")


def _carries_config(tp: object) -> bool:
    import dataclasses

    return isinstance(tp, type) and (dataclasses.is_dataclass(tp) or issubclass(tp, pydantic.BaseModel))
