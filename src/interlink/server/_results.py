"""Encoding a method's result, and saying clearly when it does not match the declared type.

A result that does not fit its annotation is the method's bug, not the caller's: the caller
gets the generic 500 body, and the log names the method, what it returned and what it
declared (``home.list_users returned None, declared list[User]``).
"""

from __future__ import annotations

import types
import typing
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._method import Method

__all__ = ["ResultMismatch", "encode_result", "result_encoder", "type_name"]


class ResultMismatch(Exception):
    """A method returned a value its return annotation does not describe."""


def type_name(tp: object) -> str:
    """A short, readable name of a type annotation: ``list[User]``, ``int | None``."""
    if tp is None or tp is type(None):
        return "None"
    origin = typing.get_origin(tp)
    if origin is typing.Union or origin is types.UnionType:
        return " | ".join(type_name(a) for a in typing.get_args(tp))
    if origin is typing.Annotated:
        return type_name(typing.get_args(tp)[0])
    if origin is not None:
        args = typing.get_args(tp)
        name = getattr(origin, "__name__", str(origin))
        return f"{name}[{', '.join('...' if a is Ellipsis else type_name(a) for a in args)}]" if args else name
    return getattr(tp, "__name__", repr(tp))


def _describe(value: object) -> str:
    if value is None:
        return "None"
    text = repr(value)
    if len(text) > 80:
        text = text[:77] + "..."
    return f"{type(value).__name__} {text}"


def encode_result(method: Method, value: object) -> Any:
    try:
        return method.result.encode(value)
    except (TypeError, ValueError, AttributeError, KeyError) as error:
        raise ResultMismatch(
            f"{method.name} returned {_describe(value)}, declared {type_name(method.returns)} ({error})"
        ) from error


def result_encoder(method: Method) -> Callable[[object], Any]:
    """``encode_result`` for one method, with its encoder looked up once; the encoded result is
    JSON-ready (any JSON value, hence Any)."""
    encode = method.result.encode

    def encoded(value: object) -> Any:
        try:
            return encode(value)
        except (TypeError, ValueError, AttributeError, KeyError) as error:
            raise ResultMismatch(
                f"{method.name} returned {_describe(value)}, declared {type_name(method.returns)} ({error})"
            ) from error

    return encoded
