"""The client-side error tree of ``interlink.http`` and ``interlink.rest``.

Two trees, one per side: ``interlink.errors.ApiError`` and its subclasses are the *wire*
errors, the one JSON shape a server sends and the site client rebuilds. What goes wrong
inside a client for another service (a token endpoint refusing us, a URL outside the base)
is not an answer of the server being called, so it does not reuse the server's classes: a
refused OAuth2 token is a :class:`TokenRequestError`, never the server's 401
``NotAuthorised``. Every such error is a :class:`ClientError`; each also keeps the base its
upstream users catch (``httpx.InvalidURL``/``ValueError`` for URLs, ``RuntimeError`` for
OpenID discovery and device login, as rest-tools raised).

What a requests (ape-pie) user caught as ``requests.RequestException`` is caught here with
:data:`REQUEST_ERRORS`: ``except REQUEST_ERRORS:`` catches httpx's transport and status
errors (``httpx.HTTPError``: connect errors, timeouts, ``raise_for_status()``), refused URLs
and every :class:`ClientError`. ``InvalidURLError`` cannot also be a
``requests.RequestException`` without importing requests, which the base install does not
have.
"""

from __future__ import annotations

import httpx

from interlink.urls import URLRuleError

__all__ = ["ClientError", "InvalidURLError", "TokenRequestError", "REQUEST_ERRORS"]


class ClientError(Exception):
    """Base of the errors raised by interlink's clients for other services."""


class InvalidURLError(ClientError, httpx.InvalidURL, URLRuleError):
    """A URL the client refuses to send to: malformed, or outside the client's base URL."""


class TokenRequestError(ClientError):
    """The token endpoint refused or could not be reached; ``error`` is its OAuth2 error code."""

    def __init__(self, message: str, *, error: str = "", description: str = "") -> None:
        super().__init__(message)
        self.error = error
        self.description = description


#: ``except REQUEST_ERRORS:`` where ape-pie code had ``except requests.RequestException:``.
REQUEST_ERRORS: tuple[type[Exception], ...] = (httpx.HTTPError, httpx.InvalidURL, ClientError)
