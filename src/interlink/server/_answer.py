"""What a shell sends back for a call that failed: one rule for every shell (ASGI, Django).

An ``ApiError`` is answered with its status and the one JSON shape; a 401 says ``Bearer`` in
``WWW-Authenticate``, a 405 (a method called without POST) ``Allow: POST``, and a 429/503 that knows when to come back says ``Retry-After``. Anything
else raised is a bug (the server's or the method's): the shell logs it and sends
``INTERNAL_ERROR`` with status 500.
"""

from __future__ import annotations

from interlink.errors import ApiError, MethodNotAllowed, ServerError

from ._pipeline import dumps

__all__ = ["INTERNAL_ERROR", "JSON_HEADERS", "Headers", "error_answer"]

#: an answer's headers: lower-case names and values, as ASGI has them
Headers = list[tuple[bytes, bytes]]

JSON_HEADERS: Headers = [(b"content-type", b"application/json")]
INTERNAL_ERROR = dumps(ServerError("internal error; it has been logged").to_dict())

_UNAUTHORISED_HEADERS = [*JSON_HEADERS, (b"www-authenticate", b'Bearer realm="api"')]
_ALLOW_POST_HEADERS = [*JSON_HEADERS, (b"allow", b"POST")]


def error_answer(error: ApiError) -> tuple[int, Headers, bytes]:
    """(status, headers, body) for an ApiError."""
    status, body = error.status, dumps(error.to_dict())
    if status == 401:
        # Bearer, not Basic: a Basic challenge makes browsers prompt for a password over the
        # page that called (Swagger UI's Try it out never shows the 401).
        return status, _UNAUTHORISED_HEADERS, body
    if isinstance(error, MethodNotAllowed):  # API methods are called with POST only
        return status, _ALLOW_POST_HEADERS, body
    if status in (429, 503) and hasattr(error, "retry_after"):
        return status, [*JSON_HEADERS, (b"retry-after", str(error.retry_after).encode())], body
    return status, JSON_HEADERS, body
