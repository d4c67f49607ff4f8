"""Results as Python objects: JSON objects get attribute access, recursively.

``ApiObject`` is deliberately not a ``dict`` subclass: a result field called ``items``,
``keys`` or ``count`` must reach the data, not a dict method. It has no public methods at all,
only fields; ``to_plain()`` turns it (and lists of it) back into plain JSON data.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

__all__ = ["ApiObject", "to_objects", "to_plain"]


class ApiObject:
    """A JSON object from a result: ``obj.name``, ``obj["first-name"]``, ``"name" in obj``.

    It compares equal to another ``ApiObject`` or a plain ``dict`` with the same data, prints as
    its data, iterates over its field names like a mapping and is unhashable (it is mutable).
    """

    __hash__ = None  # type: ignore[assignment]

    def __init__(self, fields: dict[str, Any] | None = None, /, **more: Any) -> None:
        self.__dict__.update(fields or {})
        self.__dict__.update(more)

    def __getattr__(self, name: str) -> Any:
        # Only reached when the field is absent.
        if name.startswith("__"):
            raise AttributeError(name)
        known = ", ".join(self.__dict__) or "none"
        raise AttributeError(f"the result has no field {name!r} (fields: {known})")

    def __getitem__(self, name: str) -> Any:
        return self.__dict__[name]

    def __contains__(self, name: object) -> bool:
        return name in self.__dict__

    def __iter__(self) -> Iterator[str]:
        return iter(self.__dict__)

    def __len__(self) -> int:
        return len(self.__dict__)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (ApiObject, dict)):
            return bool(to_plain(self) == to_plain(other))
        return NotImplemented

    def __repr__(self) -> str:
        fields = ", ".join(
            f"{k}={v!r}" if k.isidentifier() else f"**{{{k!r}: {v!r}}}" for k, v in self.__dict__.items()
        )
        return f"ApiObject({fields})"

    def __str__(self) -> str:
        return json.dumps(to_plain(self), ensure_ascii=False, default=str)

    # pickle/copy would otherwise probe __getstate__ etc. through __getattr__; be explicit.
    def __getstate__(self) -> dict[str, Any]:
        return dict(self.__dict__)

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)


def to_objects(data: Any) -> Any:
    """Decoded JSON -> Python: objects become ``ApiObject``, lists stay lists, scalars stay."""
    if isinstance(data, dict):
        return ApiObject({k: to_objects(v) for k, v in data.items()})
    if isinstance(data, list):
        return [to_objects(v) for v in data]
    return data


def to_plain(value: Any) -> Any:
    """``ApiObject`` (anywhere inside lists, tuples and dicts) -> plain dicts and lists."""
    if isinstance(value, ApiObject):
        return {k: to_plain(v) for k, v in value.__dict__.items()}
    if isinstance(value, dict):
        return {k: to_plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_plain(v) for v in value]
    return value


def as_argument(value: Any) -> Any:
    """A value to send: a result object that has an ``api_id`` stands for its Model (the API-calls
    specification sends models by api_id), any other result object is sent as its fields."""
    if isinstance(value, ApiObject):
        api_id = value.__dict__.get("api_id")
        if isinstance(api_id, str):
            return api_id
        return {k: as_argument(v) for k, v in value.__dict__.items()}
    if isinstance(value, dict):
        return {k: as_argument(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [as_argument(v) for v in value]
    return value
