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

    ``httpx_arguments()`` gives the keyword arguments for ``httpx.Client.post``. httpx sends the
    text fields first and the files last, a file in chunks as it reads it (never whole in
    memory): the order a server that streams uploads needs. Each send rewinds the files, so
    the same request can go to many roots (broadcast).
    """

    url: str
    body: bytes | None = None
    data: dict[str, str] | None = None
    files: list[tuple[str, FileUpload]] | None = None

    def httpx_arguments(self) -> dict[str, Any]:
        if self.files is not None:
            files = [(name, (upload.filename, upload.content(), upload.content_type)) for name, upload in self.files]
            return {"data": self.data, "files": files}
        return {"content": self.body, "headers": {"content-type": FORM}}

    def __repr__(self) -> str:  # the body holds the secret
        kind = "multipart" if self.files is not None else "urlencoded"
        return f"CallRequest(url={self.url!r}, {kind})"


@dataclasses.dataclass(frozen=True, slots=True)
class Fields:
    """A call's arguments ready to send: text fields, and files (sent from where they are,
    rewound for each send, so the same fields can go to many roots, or be sent again)."""

    text: list[tuple[str, str]]
    files: list[tuple[str, FileUpload]]
    #: arguments sent in the URL's query string (``.in_query(...)``): what a front web server
    #: can route on, since it does not read the body
    query: list[tuple[str, str]] = dataclasses.field(default_factory=list)

    def for_concurrent_sends(self) -> Fields:
        """The same fields for sends running at once (broadcast): files read into memory once,
        since concurrent sends cannot share one open file's position."""
        if not self.files:
            return self
        files = []
        for name, upload in self.files:
            content = upload.content()
            data = content if isinstance(content, bytes) else content.read()
            files.append((name, FileUpload(data, upload.filename, upload.content_type)))
        return Fields(self.text, files, self.query)


def prepare_fields(pairs: Pairs, in_query: frozenset[str] = frozenset()) -> Fields:
    """The pairs split into text fields, files and (the arguments named in ``in_query``) query
    pairs."""
    text: list[tuple[str, str]] = []
    files: list[tuple[str, FileUpload]] = []
    query: list[tuple[str, str]] = []
    for field_name, value in pairs:
        if in_query and field_name.split(".", 1)[0].split("[", 1)[0] in in_query:
            if not isinstance(value, str):
                raise TypeError(f"{field_name}: a file cannot travel in the query string")
            query.append((field_name, value))
        elif isinstance(value, FileUpload):
            files.append((field_name, value))
        elif isinstance(value, str):
            text.append((field_name, value))
        else:
            raise TypeError(f"{field_name}: a FileStream is what a server's method receives; send FileUpload(path)")
    return Fields(text, files, query)


def build_request(url: str, fields: Fields, credentials: Credentials | None) -> CallRequest:
    if fields.query:
        url = f"{url}?{urlencode(fields.query)}"
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
