"""OpenAPI 3.1 runtime expressions: parsed by the specification's ABNF, evaluated against a call.

    expression = "$url" / "$method" / "$statusCode" / "$request." source / "$response." source
    source     = header-reference / query-reference / path-reference / body-reference
    header-reference = "header." token          ; token = 1*tchar (RFC 7230)
    query-reference  = "query." name            ; name = *CHAR
    path-reference   = "path." name
    body-reference   = "body" ["#" json-pointer] ; RFC 6901

A callback's URL is a template: text with ``{expression}`` parts. Parsing is pure and done
once, when the callback is declared, so a typo fails at import time with the position of the
fault, not at the first delivery. FastAPI's documentation spells expressions in a way the
specification does not allow (``{$callback_url}``, ``{$request.body.id}``); those are accepted
with a warning that names the valid spelling, and the valid one is what the document shows.
"""

from __future__ import annotations

import json
import re
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "CallData",
    "Expression",
    "ExpressionError",
    "EvaluationError",
    "Template",
    "parse_expression",
    "parse_template",
]

# Bounds: a template is written by a developer, but it is parsed from text all the same.
MAX_TEMPLATE_LENGTH = 2048
MAX_EXPRESSIONS = 32
MAX_POINTER_TOKENS = 32

_TCHAR = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")


class ExpressionError(ValueError):
    """A runtime expression or URL template that is not valid OpenAPI 3.1."""

    def __init__(self, text: str, position: int, reason: str) -> None:
        self.text = text
        self.position = position
        self.reason = reason
        super().__init__(f"invalid runtime expression {text!r} at position {position}: {reason}")


class EvaluationError(LookupError):
    """The call has no value where an expression points; ``field`` names the argument at fault."""

    def __init__(self, message: str, field: str = "") -> None:
        self.message = message
        self.field = field
        super().__init__(message)


class MissingValue(EvaluationError):
    """The call has nothing where the expression points (an optional argument left out), as
    opposed to a value that cannot be used in a URL."""


@dataclass(frozen=True)
class CallData:
    """What an expression can read of one call; all JSON-ready (``body`` is the decoded
    arguments, encoded as they travel). Header names are lower-case."""

    url: str = ""
    method: str = "POST"
    status_code: int = 200
    request_headers: Mapping[str, str] = field(default_factory=dict)
    request_query: Mapping[str, str] = field(default_factory=dict)
    request_path: Mapping[str, str] = field(default_factory=dict)
    request_body: Any = None
    response_headers: Mapping[str, str] = field(default_factory=dict)
    response_body: Any = None
    has_response: bool = False


def _unescape_pointer(text: str, pointer: str, offset: int) -> tuple[str, ...]:
    if pointer == "":
        return ()
    if not pointer.startswith("/"):
        raise ExpressionError(text, offset, "a JSON pointer starts with '/'")
    tokens = pointer[1:].split("/")
    if len(tokens) > MAX_POINTER_TOKENS:
        raise ExpressionError(text, offset, f"a JSON pointer of more than {MAX_POINTER_TOKENS} parts")
    out = []
    position = offset + 1
    for token in tokens:
        for match in re.finditer("~", token):
            following = token[match.end() : match.end() + 1]
            if following not in ("0", "1"):
                raise ExpressionError(text, position + match.start(), "'~' must be followed by 0 or 1 (~0 is '~', ~1 is '/')")
        out.append(token.replace("~1", "/").replace("~0", "~"))
        position += len(token) + 1
    return tuple(out)


def _escape_token(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


@dataclass(frozen=True)
class Expression:
    """One parsed expression: ``kind`` is url, method, statusCode, request or response;
    ``source`` header, query, path or body; ``name`` the header/query/path name; ``pointer``
    the body's JSON pointer as tokens."""

    kind: str
    source: str = ""
    name: str = ""
    pointer: tuple[str, ...] = ()

    def __str__(self) -> str:
        if self.kind in ("url", "method", "statusCode"):
            return "$" + self.kind
        text = f"${self.kind}.{self.source}"
        if self.source == "body":
            return text + ("#" + "".join("/" + _escape_token(t) for t in self.pointer) if self.pointer else "")
        return f"{text}.{self.name}"

    @property
    def field(self) -> str:
        """The dotted argument name this expression reads (for a 400's ``field``)."""
        if self.kind == "request" and self.source == "body":
            return ".".join(self.pointer)
        if self.kind == "request":
            return self.name
        return ""

    def evaluate(self, data: CallData) -> object:
        """The value this expression reads in ``data``: any JSON value of the call's."""
        if self.kind == "url":
            return data.url
        if self.kind == "method":
            return data.method
        if self.kind == "statusCode":
            return data.status_code
        if self.kind == "response" and not data.has_response:
            raise EvaluationError(f"{self} needs the call's response, which is not known yet")
        request = self.kind == "request"
        value: object
        if self.source == "header":
            headers = data.request_headers if request else data.response_headers
            value = headers.get(self.name.lower())
        elif self.source == "query":
            value = data.request_query.get(self.name) if request else None
        elif self.source == "path":
            value = data.request_path.get(self.name) if request else None
        else:
            value = data.request_body if request else data.response_body
            for token in self.pointer:
                if isinstance(value, Mapping):
                    value = value.get(token)
                elif isinstance(value, Sequence) and not isinstance(value, str | bytes) and token.isascii() and token.isdigit():
                    index = int(token)
                    value = value[index] if index < len(value) else None
                else:
                    value = None
                if value is None:
                    break
        if value is None:
            raise MissingValue(f"{self} has no value in this call", self.field)
        return value


def parse_expression(text: str, *, _template: str | None = None, _offset: int = 0) -> Expression:
    """One expression (``$request.body#/id``), exactly by the ABNF."""
    whole = _template if _template is not None else text
    if len(text) > MAX_TEMPLATE_LENGTH:
        raise ExpressionError(whole[:80] + "…", _offset, f"longer than {MAX_TEMPLATE_LENGTH} characters")
    if text in ("$url", "$method", "$statusCode"):
        return Expression(text[1:])
    for kind in ("request", "response"):
        prefix = f"${kind}."
        if not text.startswith(prefix):
            continue
        rest = text[len(prefix) :]
        at = _offset + len(prefix)
        if rest == "body" or rest.startswith("body#"):
            pointer = rest[5:] if rest.startswith("body#") else ""
            return Expression(kind, "body", pointer=_unescape_pointer(whole, pointer, at + 5))
        source, dot, name = rest.partition(".")
        if source not in ("header", "query", "path") or not dot:
            raise ExpressionError(whole, at, "expected header.<name>, query.<name>, path.<name> or body[#/pointer]")
        if source == "header" and not _TCHAR.match(name):
            raise ExpressionError(whole, at + len("header."), "a header name is one or more token characters (RFC 7230)")
        if any(ord(c) < 0x20 or ord(c) == 0x7F for c in name):
            raise ExpressionError(whole, at + len(source) + 1, "control characters are not allowed in a name")
        return Expression(kind, source, name=name)
    if not text.startswith("$"):
        raise ExpressionError(whole, _offset, "an expression starts with '$'")
    raise ExpressionError(whole, _offset, "expected $url, $method, $statusCode, $request.… or $response.…")


def _fastapi_spelling(expression: str) -> str | None:
    """The valid spelling of an expression written the way FastAPI's documentation writes them,
    or None when it is not one of those."""
    match = re.fullmatch(r"\$([A-Za-z_][A-Za-z0-9_]*)", expression)
    if match and match.group(1) not in ("url", "method", "statusCode", "request", "response"):
        return f"$request.query.{match.group(1)}"
    match = re.fullmatch(r"\$(request|response)\.body\.([A-Za-z0-9_.\-]+)", expression)
    if match:
        parts = match.group(2).split(".")
        if all(parts):
            return f"${match.group(1)}.body#/" + "/".join(_escape_token(p) for p in parts)
    return None


@dataclass(frozen=True)
class Template:
    """A URL template: literal text and expressions. ``str(template)`` is its valid spelling."""

    parts: tuple[str | Expression, ...]

    def __str__(self) -> str:
        return "".join(p if isinstance(p, str) else "{" + str(p) + "}" for p in self.parts)

    @property
    def expressions(self) -> list[Expression]:
        return [p for p in self.parts if isinstance(p, Expression)]

    @property
    def uses_response(self) -> bool:
        return any(e.kind in ("response", "statusCode") for e in self.expressions)

    def evaluate(self, data: CallData) -> str:
        out = []
        for part in self.parts:
            if isinstance(part, str):
                out.append(part)
                continue
            value = part.evaluate(data)
            if isinstance(value, str):
                out.append(value)
            elif isinstance(value, bool | int | float):
                out.append(json.dumps(value))
            else:
                raise EvaluationError(f"{part} is not a single value (a string or a number)", part.field)
        return "".join(out)


def parse_template(text: str, *, stacklevel: int = 2) -> Template:
    """A callback URL: ``{$request.body#/callback_url}/invoices/{$request.body#/invoice/id}``.

    A bare expression (``$request.query.url``) is a template of one expression. FastAPI's
    spellings are accepted with a ``SyntaxWarning`` naming the valid one.
    """
    if len(text) > MAX_TEMPLATE_LENGTH:
        raise ExpressionError(text[:80] + "…", 0, f"longer than {MAX_TEMPLATE_LENGTH} characters")
    if text.startswith("$") and "{" not in text:
        return Template((parse_expression(text),))
    parts: list[str | Expression] = []
    fixed: list[tuple[str, str]] = []
    position = 0
    while position < len(text):
        start = text.find("{", position)
        if start < 0:
            literal = text[position:]
            if "}" in literal:
                raise ExpressionError(text, position + literal.index("}"), "'}' without an opening '{'")
            parts.append(literal)
            break
        if "}" in text[position:start]:
            raise ExpressionError(text, position + text[position:start].index("}"), "'}' without an opening '{'")
        if start > position:
            parts.append(text[position:start])
        end = text.find("}", start)
        if end < 0:
            raise ExpressionError(text, start, "'{' without a closing '}'")
        inner = text[start + 1 : end]
        if "{" in inner:
            raise ExpressionError(text, start + 1 + inner.index("{"), "expressions cannot be nested")
        try:
            parts.append(parse_expression(inner, _template=text, _offset=start + 1))
        except ExpressionError:
            valid = _fastapi_spelling(inner)
            if valid is None:
                raise
            parts.append(parse_expression(valid))
            fixed.append((inner, valid))
        if len([p for p in parts if isinstance(p, Expression)]) > MAX_EXPRESSIONS:
            raise ExpressionError(text, start, f"more than {MAX_EXPRESSIONS} expressions")
        position = end + 1
    template = Template(tuple(parts))
    if fixed:
        warnings.warn(
            f"{text!r} is not a valid OpenAPI runtime expression "
            f"({', '.join(f'{{{old}}}' for old, _ in fixed)}); the valid spelling is {str(template)!r}, "
            "which is what the OpenAPI document shows",
            SyntaxWarning,
            stacklevel=stacklevel,
        )
    return template
