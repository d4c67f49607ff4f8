"""One request to a source or a target, its answer read within a size bound.

Sources and targets are systems we do not control: an answer may be larger than any page or
record could be. The request carries ``interlink.http``'s ``MAX_RESPONSE_BYTES`` extension,
so an ``interlink.http`` client's transport refuses it as it streams (a gzip body too, by its
decoded size); the body is also counted here as it is read into one buffer, so the bound
holds with a plain ``httpx.Client`` as well. Nothing past the limit is buffered, and the
answer is never held twice (``httpx.Response.read()`` joins a list of chunks: twice the body
at its peak).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import httpx

from interlink.http import MAX_RESPONSE_BYTES, ResponseTooLarge
from interlink.urls import redact_url

__all__ = ["Answer", "prepare", "open_answer", "read_answer"]

#: The part of a refused or unusable answer kept for the user (issues, error messages).
EXCERPT_CHARS = 2000


@dataclass
class Answer:
    """A peer's complete answer: what the flows read of an ``httpx.Response``."""

    method: str
    url: str  # redacted: fit for messages and issues
    status_code: int
    reason_phrase: str
    headers: httpx.Headers
    content: bytes | bytearray

    def json(self) -> Any:
        return json.loads(self.content)

    def excerpt(self) -> str:
        """The start of the body as text, for a person reading an issue."""
        text = bytes(self.content[:EXCERPT_CHARS * 4]).decode("utf-8", "replace")
        return text if len(text) <= EXCERPT_CHARS else text[:EXCERPT_CHARS] + "…"


def prepare(client: Any, method: str, url: str, limit: int, **kwargs: Any) -> httpx.Request:
    """The request as the client sends it (its absolute ``url`` is what loop checks compare)."""
    request: httpx.Request = client.build_request(method, url, extensions={MAX_RESPONSE_BYTES: limit}, **kwargs)
    return request


def open_answer(client: Any, request: httpx.Request) -> httpx.Response:
    """Send ``request``; the answer's headers are in, its body still on the wire."""
    response: httpx.Response = client.send(request, stream=True)
    return response


def read_answer(response: httpx.Response, limit: int) -> Answer:
    """Read a streamed answer whole, refusing it (:class:`ResponseTooLarge`) past ``limit``
    decoded bytes; the response is closed either way."""
    url = response.request.url
    try:
        length = response.headers.get("content-length", "")
        if "content-encoding" not in response.headers and length.isdigit() and int(length) > limit:
            raise ResponseTooLarge(url, limit, request=response.request)
        body = bytearray()
        for chunk in response.iter_bytes():
            if len(body) + len(chunk) > limit:
                raise ResponseTooLarge(url, limit, request=response.request)
            body += chunk
    finally:
        response.close()
    return Answer(response.request.method, redact_url(str(url)), response.status_code, response.reason_phrase,
                  response.headers, body)
