"""Reading a request body once into flat (name, value) pairs: urlencoded, multipart or JSON."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote_to_bytes

from interlink.errors import BadArguments, PayloadTooLarge, UnsupportedMediaType
from interlink.wire import MAX_FIELDS, FileUpload, FormValue, WireError, parse_json

from .types import Message, Receive, Scope


class ClientDisconnected(Exception):
    pass


def content_type_of(headers: list[tuple[bytes, bytes]]) -> tuple[str, int | None]:
    kind = ""
    length: int | None = None
    for name, value in headers:
        if name == b"content-type":
            kind = value.split(b";", 1)[0].strip().lower().decode("latin-1")
        elif name == b"content-length":
            try:
                length = int(value)
            except ValueError:
                raise BadArguments("Content-Length is not a number") from None
    return kind, length


async def read_body(receive: Receive, limit: int, declared: int | None, first: Message | None = None) -> bytes:
    """The whole body within ``limit`` bytes; ``first``: its first message, already received."""
    if declared is not None and declared > limit:
        raise PayloadTooLarge.over(limit)
    chunks: list[bytes] = []
    size = 0
    while True:
        if first is not None:
            message, first = first, None
        else:
            message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnected
        chunk = message.get("body", b"")
        if chunk:
            size += len(chunk)
            if size > limit:
                raise PayloadTooLarge.over(limit)
            chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks) if len(chunks) != 1 else chunks[0]


# Pairs are typed as the pipeline takes them: a multipart form's values may be uploads too.
Pairs = list[tuple[str, FormValue]]


def query_pairs(query_string: bytes) -> Pairs:
    if not query_string:
        return []
    return form_pairs(query_string, what="query string")


# "%3A" -> ":" for every ASCII character, in any case of its hex digits ("3a", "3A").
_ASCII_ESCAPES = {
    spelling: chr(code)
    for code in range(128)
    for spelling in {f"{code:02x}", f"{code:02X}", f"{code:02x}"[0] + f"{code:02X}"[1], f"{code:02X}"[0] + f"{code:02x}"[1]}
}


def _unquote(text: str) -> str:
    """``unquote(text, errors="strict")`` for text with a ``%`` in it, the same result and
    UnicodeDecodeError alike. Escapes of ASCII characters (a key's ``%3A``, the usual case) are
    looked up; any other (UTF-8 bytes, a ``%`` without two hex digits) goes through
    ``unquote_to_bytes`` — which is exact here because a literal non-ASCII character encodes to
    a whole UTF-8 sequence, which neither completes nor breaks an escaped one."""
    first, *rest = text.split("%")
    out = [first]
    escapes = _ASCII_ESCAPES
    for part in rest:
        char = escapes.get(part[:2])
        if char is None:
            return unquote_to_bytes(text).decode("utf-8")
        out.append(char)
        out.append(part[2:])
    return "".join(out)


def form_pairs(body: bytes, what: str = "form body") -> Pairs:
    """``parse_qsl(keep_blank_values=True, errors="strict", max_num_fields=MAX_FIELDS)``, pair
    for pair, but calling ``replace``/``unquote`` only on the parts that need them: parse_qsl
    was the largest single cost of a small form call (docs/performance.md)."""
    try:
        text = body.decode("utf-8")
        if not text:
            return []
        if text.count("&") >= MAX_FIELDS:
            raise BadArguments(f"the {what} has more than {MAX_FIELDS} fields")
        pairs: Pairs = []
        append = pairs.append
        plus = "+" in text
        percent = "%" in text
        for part in text.split("&"):
            if not part:
                continue
            name, _, value = part.partition("=")
            if plus and "+" in part:
                name = name.replace("+", " ")
                value = value.replace("+", " ")
            if percent and "%" in part:
                if "%" in name:
                    name = _unquote(name)
                if "%" in value:
                    value = _unquote(value)
            append((name, value))
        return pairs
    except UnicodeDecodeError:
        raise BadArguments(f"the {what} is not valid UTF-8") from None


def json_body(body: bytes) -> dict[str, Any]:
    """A JSON body: an object of arguments, within the wire's limits (``interlink.wire.parse_json``)."""
    if not body.strip():
        return {}
    try:
        value: object = parse_json(body)
    except WireError as exc:
        raise BadArguments(exc.message, field=exc.field or None) from None
    if not isinstance(value, dict):
        raise BadArguments("a JSON body must be an object of arguments, {\"name\": value, …}")
    return value


async def multipart_pairs(scope: Scope, receive: Receive, limit: int) -> Pairs:
    """Multipart through Starlette's streaming parser, with the body limit enforced as it streams."""
    from starlette.formparsers import MultiPartException
    from starlette.requests import ClientDisconnect, Request

    seen = 0

    async def limited_receive() -> Message:
        nonlocal seen
        message = await receive()
        seen += len(message.get("body", b""))
        if seen > limit:
            raise PayloadTooLarge.over(limit)
        return message

    request = Request(scope, limited_receive)
    try:
        form = await request.form(max_files=1000, max_fields=MAX_FIELDS)
    except MultiPartException as exc:
        raise BadArguments(f"malformed multipart body: {exc.message}") from None
    except ClientDisconnect:
        # The caller went away mid-upload: nothing to answer, nothing to log against the method.
        raise ClientDisconnected from None
    pairs: Pairs = []
    for name, value in form.multi_items():
        if isinstance(value, str):
            pairs.append((name, value))
        else:
            pairs.append(
                (name, FileUpload(value.file, filename=value.filename or "upload", content_type=value.content_type))
            )
    return pairs


def unsupported(kind: str) -> UnsupportedMediaType:
    return UnsupportedMediaType(
        f"unsupported content type {kind!r}: send application/x-www-form-urlencoded, "
        "multipart/form-data or application/json"
    )
