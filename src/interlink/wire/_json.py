"""A JSON body, read with the same limits as a form: values counted, nesting bounded.

``json.loads`` builds whatever it is given — a million list items, or nesting until the
interpreter's recursion limit — before anyone can look at the result. So the body is measured
first, on the text, with work that is linear in its size and done in C: commas and brackets are
counted (inside strings too, which can only over-count); only a body that may be over a limit is
looked at again with its strings blanked out, to count exactly. Then ``json.loads`` runs on a body
known to fit, refusing NaN, Infinity and numbers too large for a float, and a lone UTF-16
surrogate (``"\\ud800"``) is refused as text no Unicode encoding can carry.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from ._limits import MAX_DEPTH, MAX_FIELDS, MAX_NUMBER_LENGTH
from ._values import WireError

_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def _refuse_constant(name: str) -> Any:
    raise WireError("", f"{name} is not a JSON number: send finite numbers only")


def _finite_float(text: str) -> float:
    if len(text) > MAX_NUMBER_LENGTH:
        raise WireError("", f"a number may be at most {MAX_NUMBER_LENGTH} characters long")
    number = float(text)
    if math.isinf(number):
        raise WireError("", f"the number {text[:40]} is too large for a float")
    return number


def _short_int(text: str) -> int:
    if len(text) > MAX_NUMBER_LENGTH:  # int() of a long text costs time quadratic in its length
        raise WireError("", f"a number may be at most {MAX_NUMBER_LENGTH} characters long")
    return int(text)


_decode = json.JSONDecoder(parse_constant=_refuse_constant, parse_float=_finite_float, parse_int=_short_int).decode


def parse_json(body: bytes) -> Any:
    """A JSON body as Python values; ``WireError`` if it is not JSON or over a limit."""
    check_size(body)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise WireError("", "the body is not valid UTF-8") from None
    try:
        value = _decode(text)
    except WireError:
        raise
    except ValueError as exc:  # JSONDecodeError, or a number int() refuses
        raise WireError("", f"the body is not valid JSON: {exc}") from None
    except RecursionError:  # cannot happen after check_size; kept as a last guard
        raise WireError("", f"the body is nested deeper than {MAX_DEPTH} levels") from None
    if "\\u" in text and _SURROGATE_ESCAPE.search(text) and _has_lone_surrogate(value):
        raise WireError("", "the body holds a lone UTF-16 surrogate (such as \\ud800): not valid text")
    return value


def check_size(body: bytes) -> None:
    """Refuse a body with more than ``MAX_FIELDS`` values or nesting deeper than ``MAX_DEPTH``.

    Values are counted as commas plus opened containers (each container's items are its commas
    plus one): exact for any body with no empty containers, a slight over-count otherwise.
    """
    opened = body.count(b"[") + body.count(b"{")
    if opened <= MAX_DEPTH and opened + body.count(b",") <= MAX_FIELDS:
        return  # the common case: bounds counted with strings included can only be too high
    bare = _STRING.sub(b'""', body)
    brackets = bare.translate(None, _NOT_BRACKETS)
    depth = 0
    # Bounded: past 2 * MAX_FIELDS brackets the body is over the count limit anyway.
    for byte in brackets[: 2 * MAX_FIELDS + 2]:
        if byte == 91 or byte == 123:  # [ {
            depth += 1
            if depth > MAX_DEPTH:
                raise WireError("", f"the body is nested deeper than {MAX_DEPTH} levels")
        else:
            depth -= 1
    if bare.count(b"[") + bare.count(b"{") + bare.count(b",") > MAX_FIELDS:
        raise WireError("", f"the body holds more than {MAX_FIELDS} values")


def _has_lone_surrogate(value: Any) -> bool:
    """Whether any string (key or value) holds a surrogate code point; bounded by ``check_size``."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if _surrogate(item):
                return True
        elif isinstance(item, dict):
            stack.extend(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def _surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False
