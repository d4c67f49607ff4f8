"""REST arguments the way rest-tools' ``ArgumentHandler`` reads them, as pure logic (no Tornado).

rest-tools feeds query pairs and JSON-body keys to ``argparse`` as ``--name value`` strings and
turns argparse's stderr back into a 400 reason. That leaks argparse: ``?fo=1`` matches ``--foo``
by prefix, ``?h=`` prints usage and exits, a value such as ``-x`` is taken for an option, and
an odd type error prints a traceback to stderr. Here the same declarations (``type``,
``default``, ``required``, ``dest``, ``nargs``, ``choices``) are applied to the pairs directly,
with the same 400 reasons, and nothing else: names match exactly, nothing is printed, nothing
exits. ``parse`` raises ``ArgumentProblem`` whose message is the reason to send.
"""

from __future__ import annotations

import argparse
import enum
import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from interlink.wire import WireError, parse_json
from interlink.wire._json import check_size
from interlink.wire._limits import FIELD_SHOWN, MAX_FIELDS

__all__ = [
    "BODY_NOT_DICT",
    "BODY_NOT_JSON",
    "ArgumentParser",
    "ArgumentProblem",
    "ArgumentSource",
    "read_json_object",
    "to_bool",
]

LOGGER = logging.getLogger("interlink.rest")

BODY_NOT_JSON = "requests body is not JSON-encoded"
BODY_NOT_DICT = "JSON-encoded requests body must be a 'dict'"

_TRUE = frozenset({"y", "yes", "t", "true", "on", "1"})
_FALSE = frozenset({"n", "no", "f", "false", "off", "0"})
_MISSING = object()


class ArgumentSource(enum.Enum):
    """Where an ``ArgumentHandler`` reads its arguments."""

    QUERY_ARGUMENTS = enum.auto()
    JSON_BODY_ARGUMENTS = enum.auto()


class ArgumentProblem(ValueError):
    """Bad arguments from the caller; ``str(problem)`` is the 400 reason."""


def printable(text: str) -> str:
    """The reason goes on the HTTP status line too: keep it to printable ASCII (escaped, never
    dropped, so a caller still sees which name was wrong) and short."""
    if not text.isascii() or not text.isprintable() or "<" in text:
        # Tornado turns a reason with "<" into "Unknown" (against markup in error pages).
        text = "".join(
            c if " " <= c <= "~" and c != "<" else c.encode("unicode_escape").decode("ascii") if c != "<" else "\\x3c"
            for c in text
        )
    return text


def _name(name: str) -> str:
    name = printable(name)
    return name if len(name) <= FIELD_SHOWN else name[:FIELD_SHOWN] + "..."


def to_bool(value: Any) -> bool:
    """rest-tools' ``type=bool``: y/yes/t/true/on/1 and n/no/f/false/off/0 in any case, JSON
    ``true``/``false``, and the JSON numbers ``1``/``0`` (the same spellings, unquoted).

    Nothing else: rest-tools falls back to ``bool(value)``, which reads ``[false]``, ``["no"]``,
    ``{"no": 0}`` and ``2`` as true and ``null`` as false — a caller's mistake silently taken
    for a choice. Here they are a ``TypeError``: a 400 naming the argument.
    """
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        lowered = value.lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise ValueError(f"invalid truth value {value!r}")
    if type(value) is int and value in (0, 1):
        return value == 1
    raise TypeError(f"not a truth value: {type(value).__name__}")


def read_json_object(body: bytes | str) -> dict[str, Any]:
    """A request body's JSON object; an empty body is ``{}``.

    Bounded by interlink's wire limits (values counted, nesting depth) before it is decoded.
    """
    if not body:
        return {}
    if isinstance(body, str):
        body = body.encode("utf-8", "surrogatepass")
    try:
        check_size(body)
    except WireError as exc:
        raise ArgumentProblem(f"requests body is too large to read: {exc.message}") from None
    try:
        value = parse_json(body)
    except WireError:
        raise ArgumentProblem(BODY_NOT_JSON) from None
    if not isinstance(value, dict):
        raise ArgumentProblem(BODY_NOT_DICT)
    return value


_ALLOWED = frozenset({"type", "default", "required", "dest", "nargs", "choices", "help", "metavar", "action"})


@dataclass(slots=True)
class _Argument:
    name: str
    dest: str
    type: Callable[[Any], Any] | None
    default: Any
    required: bool
    nargs: int | str | None
    choices: Any


class ArgumentParser:
    """Declared arguments, applied to ``(name, values)`` pairs by ``parse``."""

    def __init__(self) -> None:
        self._arguments: list[_Argument] = []
        self._by_name: dict[str, _Argument] = {}

    def add_argument(self, name: str, *aliases: str, **kwargs: Any) -> None:
        """Declare ``name``; the keywords are ``argparse.add_argument``'s that make sense for
        key-value arguments. No ``default`` means required."""
        unknown = set(kwargs) - _ALLOWED
        if unknown:
            raise TypeError(f"add_argument() does not support {', '.join(sorted(unknown))}")
        if kwargs.get("action", "store") != "store":
            raise ValueError(f"argument {name}: only action='store' fits key-value arguments")
        nargs = kwargs.get("nargs")
        if not (nargs in (None, "?", "*", "+") or (isinstance(nargs, int) and nargs > 0)):
            raise ValueError(f"argument {name}: nargs must be None, '?', '*', '+' or a positive int")
        if "default" not in kwargs:
            if "required" not in kwargs:
                kwargs["required"] = True
            elif not kwargs["required"]:
                raise ValueError(f"Argument '{name}' marked as not required but no default was provided.")
        names = [name, *(alias.lstrip("-") for alias in aliases)]
        for each in names:
            if each in self._by_name:
                raise ValueError(f"argument {each}: conflicting option string: {each}")
        convert = kwargs.get("type")
        if convert is bool:
            convert = to_bool
        argument = _Argument(
            name=name,
            dest=kwargs.get("dest") or name.replace("-", "_"),
            type=convert,
            default=kwargs.get("default"),
            required=bool(kwargs.get("required", False)),
            nargs=nargs,
            choices=kwargs.get("choices"),
        )
        self._arguments.append(argument)
        for each in names:
            self._by_name[each] = argument

    def parse(self, source: ArgumentSource, given: Mapping[str, Any] | Iterable[tuple[str, Any]]) -> argparse.Namespace:
        """Apply the declarations to ``given``: for query arguments, each name with its list of
        values (``request.arguments``); for a JSON body, each key with its one value."""
        items = list(given.items() if isinstance(given, Mapping) else given)
        if len(items) > MAX_FIELDS:
            raise ArgumentProblem(f"too many arguments: at most {MAX_FIELDS}")
        namespace = argparse.Namespace()
        seen: set[int] = set()
        unrecognized: list[str] = []
        for key, raw in items:
            argument = self._by_name.get(key) if isinstance(key, str) else None
            if argument is None:
                if key not in unrecognized:
                    unrecognized.append(key)
                continue
            values = list(raw) if source is ArgumentSource.QUERY_ARGUMENTS else [raw]
            setattr(namespace, argument.dest, self._values(argument, values))
            seen.add(id(argument))
        missing: list[str] = []
        for argument in self._arguments:
            if id(argument) in seen:
                continue
            if argument.required:
                missing.append(_name(argument.name))
                continue
            default = argument.default
            if isinstance(default, str) and argument.type is not None:
                default = self._convert(argument, default)  # as argparse: string defaults are converted
            if not hasattr(namespace, argument.dest):
                setattr(namespace, argument.dest, default)
        if missing:
            raise ArgumentProblem(f"the following arguments are required: {', '.join(missing)}")
        if unrecognized:
            raise ArgumentProblem(f"unrecognized arguments: {', '.join(_name(str(k)) for k in unrecognized)}")
        return namespace

    def _values(self, argument: _Argument, values: Sequence[Any]) -> Any:
        nargs = argument.nargs
        if nargs in (None, "?"):
            if len(values) != 1:
                raise ArgumentProblem(f"argument {_name(argument.name)}: expected one value, got {len(values)}")
            return self._checked(argument, self._convert(argument, values[0]))
        if nargs == "+" and not values:
            raise ArgumentProblem(f"argument {_name(argument.name)}: expected at least one value")
        if isinstance(nargs, int) and len(values) != nargs:
            raise ArgumentProblem(f"argument {_name(argument.name)}: expected {nargs} values, got {len(values)}")
        return [self._checked(argument, self._convert(argument, value)) for value in values]

    @staticmethod
    def _convert(argument: _Argument, value: Any) -> Any:
        if argument.type is None:
            return value
        try:
            return argument.type(value)
        except argparse.ArgumentTypeError as exc:
            raise ArgumentProblem(printable(f"argument {_name(argument.name)}: {exc}")) from None
        except (TypeError, ValueError):
            raise ArgumentProblem(f"argument {_name(argument.name)}: invalid type") from None
        except Exception:
            # A fault in the handler's own type function, not in the caller's value; rest-tools
            # answers 400 with a time to find the log entry by, and so does this (logged, not
            # printed to stderr).
            stamp = time.time()
            LOGGER.exception("type function of argument %r failed (error timestamp %s)", argument.name, stamp)
            raise ArgumentProblem(f"Unknown argument-handling error ({stamp})") from None

    @staticmethod
    def _checked(argument: _Argument, value: Any) -> Any:
        choices = argument.choices
        if choices is None:
            return value
        try:
            ok = value in choices
        except TypeError:  # an unhashable value against a set of choices
            ok = False
        if not ok:
            offered = ", ".join(repr(choice) for choice in choices)
            raise ArgumentProblem(
                printable(f"argument {_name(argument.name)}: invalid choice: {_name(repr(value))} (choose from {offered})")
            )
        return value
