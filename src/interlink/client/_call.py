"""One call on the wire, with no I/O: arguments -> form fields -> request parts; response -> data.

The sync and async shells both send what ``build_request`` returns and hand the answer to
``read_response``. Form fields come from ``interlink.wire.collate``, the code the server
decodes with, so client and server cannot disagree about names.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

from interlink.errors import ApiError, ServerError, error_for_status
from interlink.wire import FileUpload, FormValue, collate

from ._objects import as_argument
from ._profiles import Credentials

__all__ = [
    "AUTHORISATION",
    "CallRequest",
    "Fields",
    "build_request",
    "collate_arguments",
    "fields_dict",
    "method_url",
    "prepare_fields",
    "read_response",
]

AUTHORISATION = "authorisation"
FORM = "application/x-www-form-urlencoded"

Pairs = list[tuple[str, FormValue]]


def method_url(root: str, name: str) -> str:
    """``http://site/api`` + ``home.describe_site`` -> ``http://site/api/home/describe_site``."""
    module, dot, function = name.partition(".")
    if not dot or not module or not function or "." in function or "/" in name:
        raise ValueError(f"a method name is 'module.function', not {name!r}")
    return f"{root.rstrip('/')}/{module}/{function}"


def collate_arguments(name: str, args: Sequence[Any], kwargs: Mapping[str, Any]) -> Pairs:
    """The form pairs for a call's keyword arguments (FileUploads stay FileUploads)."""
    if args:
        raise TypeError(
            f"{name}() takes keyword arguments only: they travel as named form fields "
            f"(got {len(args)} positional)"
        )
    if AUTHORISATION in kwargs:
        raise TypeError(f"{AUTHORISATION!r} is reserved: give credentials to API(...) or api(...)")
    return collate(None, {k: as_argument(v) for k, v in kwargs.items()})


@dataclasses.dataclass(frozen=True, slots=True)
class CallRequest:
    """What to POST: an urlencoded body, or (with files) multipart ``data`` and ``files``.

    ``httpx_arguments()`` gives the keyword arguments for ``httpx.Client.post``. Files are read
    into memory once, so the same request can be sent to many roots (broadcast).
    """

    url: str
    body: bytes | None = None
    data: dict[str, str] | None = None
    files: list[tuple[str, tuple[str, bytes, str]]] | None = None

    def httpx_arguments(self) -> dict[str, Any]:
        if self.files is not None:
            return {"data": self.data, "files": self.files}
        return {"content": self.body, "headers": {"content-type": FORM}}

    def __repr__(self) -> str:  # the body holds the secret
        kind = "multipart" if self.files is not None else "urlencoded"
        return f"CallRequest(url={self.url!r}, {kind})"


@dataclasses.dataclass(frozen=True, slots=True)
class Fields:
    """A call's arguments ready to send: text fields, and files read into memory once (so the
    same fields can go to many roots, or be sent again)."""

    text: list[tuple[str, str]]
    files: list[tuple[str, tuple[str, bytes, str]]]


def prepare_fields(pairs: Pairs) -> Fields:
    text: list[tuple[str, str]] = []
    files: list[tuple[str, tuple[str, bytes, str]]] = []
    for field_name, value in pairs:
        if isinstance(value, FileUpload):
            files.append((field_name, (value.filename, value.read(), value.content_type)))
        else:
            text.append((field_name, value))
    return Fields(text, files)


def build_request(url: str, fields: Fields, credentials: Credentials | None) -> CallRequest:
    text = list(fields.text)
    if credentials is not None:
        text.append((AUTHORISATION, credentials.authorisation))
    if fields.files:
        # collate gives every field a distinct name (lists are indexed), so a dict loses nothing.
        return CallRequest(url, data=dict(text), files=list(fields.files))
    return CallRequest(url, body=urlencode(text).encode("ascii"))


def read_response(status: int, content: bytes) -> Any:
    """The decoded JSON result; an error response raises its ``ApiError`` subclass."""
    not_json: str | None = None
    try:
        data: Any = json.loads(content) if content else None
    except ValueError:
        data = not_json = content.decode("utf-8", "replace")
    if 200 <= status < 300:
        if not_json is not None:
            raise ServerError(f"HTTP {status}: the response is not JSON: {not_json[:200]!r}", status=status)
        return data
    if status == 404 and not (isinstance(data, dict) and isinstance(data.get("error"), dict)):
        # An interlink server answers an unknown method with its error body; a 404 without one
        # came from outside the API: most often a root given without its prefix.
        raise error_for_status(status)(
            f"HTTP 404 with no interlink error in the answer: the API root probably lacks the API "
            f"prefix (https://host/api, not https://host); the answer began {str(data)[:100]!r}", status=status)
    raise ApiError.from_dict(status, data)


def fields_dict(pairs: Pairs) -> dict[str, FormValue]:
    """``.collate()``'s answer: ``{name: value}``, FileUploads as they are, no credentials."""
    return dict(pairs)
