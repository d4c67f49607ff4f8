"""The simple auth schemes as httpx auth flows (one flow serves sync and async clients)."""

from __future__ import annotations

from typing import Callable, Generator, Union

import httpx

__all__ = ["BasicAuth", "APIKeyAuth", "BearerAuth", "TokenValue"]

TokenValue = Union[str, bytes]


class BasicAuth(httpx.BasicAuth):
    """HTTP Basic: ``BasicAuth(username, password)``."""

    def __repr__(self) -> str:
        return "BasicAuth(<hidden>)"


class APIKeyAuth(httpx.Auth):
    """An API key sent in a header (default ``Authorization``) or, where a service demands
    it, a query parameter.

    ``APIKeyAuth("k-123", header="X-Api-Key")``, ``APIKeyAuth("Token k-123")`` (whole
    ``Authorization`` value) or ``APIKeyAuth("k-123", query="api_key")``. A key in the query
    string ends up in access logs and proxies; use it only for services that accept nothing else.
    """

    def __init__(self, key: str, *, header: str | None = None, query: str | None = None) -> None:
        if header and query:
            raise ValueError("give either header= or query=, not both")
        self._key = key
        self.header = header or (None if query else "Authorization")
        self.query = query

    def __repr__(self) -> str:
        where = f"header={self.header!r}" if self.header else f"query={self.query!r}"
        return f"APIKeyAuth(<hidden>, {where})"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if self.query:
            request.url = request.url.copy_merge_params({self.query: self._key})
        else:
            request.headers[self.header] = self._key  # type: ignore[index]
        yield request


class BearerAuth(httpx.Auth):
    """``Authorization: Bearer <token>``; the token is a string, bytes, or a callable
    returning one (called per request, so it can hand out a refreshed token)."""

    def __init__(self, token: TokenValue | Callable[[], TokenValue]) -> None:
        self._token = token

    def __repr__(self) -> str:
        return "BearerAuth(<hidden>)"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        token = self._token() if callable(self._token) else self._token
        if isinstance(token, bytes):
            token = token.decode("ascii")
        request.headers["Authorization"] = f"Bearer {token}"
        yield request
