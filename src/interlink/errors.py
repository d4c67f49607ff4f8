"""The error taxonomy and its one JSON shape.

Every failure that reaches a caller is one of these classes and is sent as
``{"error": {"code": ..., "message": ..., "field": ...}}`` with the class's HTTP status.
The server raises them, the client turns the shape back into the same classes: one
definition serves both ends.
"""

from __future__ import annotations

import typing

__all__ = [
    "ApiError",
    "BadArguments",
    "NotAuthorised",
    "Forbidden",
    "NoSuchMethod",
    "MethodNotAllowed",
    "RequestTimeout",
    "PayloadTooLarge",
    "UnsupportedMediaType",
    "TooManyRequests",
    "ServerError",
    "ServiceUnavailable",
    "error_for_status",
]


class ApiError(Exception):
    """Base of every error interlink reports over the wire."""

    status: int = 500  # the class's status; an instance may carry another (see __init__)
    code: typing.ClassVar[str] = "server_error"

    def __init__(self, message: str, *, field: str | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        if status is not None:
            # An instance may carry a status its class does not (an unknown code from a peer).
            self.status = status

    def to_dict(self) -> dict[str, dict[str, str]]:
        body = {"code": self.code, "message": self.message}
        if self.field is not None:
            body["field"] = self.field
        return {"error": body}

    @classmethod
    def from_dict(cls, status: int, body: object) -> ApiError:
        """Rebuild an error from a response; tolerant of peers that send another shape."""
        error = body.get("error") if isinstance(body, dict) else None
        if not isinstance(error, dict):
            return error_for_status(status)(f"HTTP {status}: {str(body)[:200]}", status=status)
        code = error.get("code")
        message = str(error.get("message", f"HTTP {status}"))
        field = error.get("field")
        klass = _BY_CODE.get(code) if isinstance(code, str) else None
        if klass is None:
            klass = error_for_status(status)
        return klass(message, field=field if isinstance(field, str) else None, status=status)

    def __repr__(self) -> str:
        extra = f", field={self.field!r}" if self.field else ""
        return f"{type(self).__name__}({self.message!r}{extra})"

    def __str__(self) -> str:
        return f"{self.message} (field: {self.field})" if self.field else self.message


class BadArguments(ApiError):
    """A missing, malformed or unexpected argument; ``field`` names it (dotted)."""

    status = 400
    code = "bad_arguments"


class NotAuthorised(ApiError):
    """No credentials, or credentials that do not check out."""

    status = 401
    code = "not_authorised"


class Forbidden(ApiError):
    """Known caller, not allowed to do this."""

    status = 403
    code = "forbidden"


class NoSuchMethod(ApiError):
    status = 404
    code = "no_such_method"


class MethodNotAllowed(ApiError):
    status = 405
    code = "method_not_allowed"


class RequestTimeout(ApiError):
    """A body not sent in time (a streamed upload's total or idle deadline); the server closes
    the connection after answering."""

    status = 408
    code = "request_timeout"


class PayloadTooLarge(ApiError):
    status = 413
    code = "payload_too_large"

    @classmethod
    def over(cls, limit: int) -> PayloadTooLarge:
        """The error for a body past ``limit`` bytes, worded the same wherever it is found."""
        return cls(f"the body is larger than the limit of {limit} bytes")


class UnsupportedMediaType(ApiError):
    status = 415
    code = "unsupported_media_type"


class TooManyRequests(ApiError):
    status = 429
    code = "too_many_requests"


class ServerError(ApiError):
    """A bug on the server's side: never the caller's fault."""

    status = 500
    code = "server_error"


class ServiceUnavailable(ApiError):
    """A store the server needs (its database, Redis) does not answer: neither the caller's
    fault nor a bug; the answer carries ``Retry-After``."""

    status = 503
    code = "service_unavailable"

    def __init__(self, message: str, *, retry_after: int = 5, field: str | None = None,
                 status: int | None = None) -> None:
        super().__init__(message, field=field, status=status)
        self.retry_after = retry_after


_ALL: tuple[type[ApiError], ...] = (
    BadArguments,
    NotAuthorised,
    Forbidden,
    NoSuchMethod,
    MethodNotAllowed,
    RequestTimeout,
    PayloadTooLarge,
    UnsupportedMediaType,
    TooManyRequests,
    ServerError,
    ServiceUnavailable,
)
_BY_CODE: dict[str, type[ApiError]] = {k.code: k for k in _ALL}
_BY_STATUS: dict[int, type[ApiError]] = {k.status: k for k in _ALL}


def error_for_status(status: int) -> type[ApiError]:
    """The class for an HTTP status; unknown 4xx become BadArguments' base, 5xx ServerError."""
    klass = _BY_STATUS.get(status)
    if klass is not None:
        return klass
    return ServerError if status >= 500 else ApiError
