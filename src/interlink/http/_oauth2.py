"""OAuth2 client credentials: a pure token state machine and the httpx auth flow around it.

``TokenState`` does no I/O: it says whether a cached token is still good, builds the token
request (client secret in HTTP Basic or in the body, chosen per service) and reads the
token endpoint's answer. ``OAuth2ClientCredentials`` is the httpx auth flow: the token
request is *yielded* through the same client (so it gets the client's TLS, timeout and
retry settings), one fetch is shared by concurrent requests (a lock per flavour: threads
for sync clients, the event loop's for async), and a 401 triggers exactly one retry with a
fresh token.
"""

from __future__ import annotations

import asyncio
import base64
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any, AsyncGenerator, Callable, Generator, Literal
from urllib.parse import quote

import httpx

from interlink.errors import NotAuthorised

__all__ = ["OAuth2ClientCredentials", "TokenState", "TokenRequestError", "ClientAuthMethod", "parse_token_response"]

ClientAuthMethod = Literal["client_secret_basic", "client_secret_post"]


class TokenRequestError(NotAuthorised):
    """The token endpoint refused or could not be reached; ``error`` is its OAuth2 error code."""

    def __init__(self, message: str, *, error: str = "", description: str = "") -> None:
        super().__init__(message)
        self.error = error
        self.description = description


def parse_token_response(status: int, body: bytes, token_url: str) -> dict[str, Any]:
    """A token endpoint's JSON answer, or :class:`TokenRequestError` with its OAuth2 error."""
    try:
        data = json.loads(body) if body else {}
    except ValueError:
        data = {}
    if status != 200 or not isinstance(data, dict) or "access_token" not in data:
        error = str(data.get("error", "")) if isinstance(data, dict) else ""
        description = str(data.get("error_description", "")) if isinstance(data, dict) else ""
        detail = f"{error}: {description}" if description else (error or f"HTTP {status}")
        raise TokenRequestError(f"token request to {token_url} failed: {detail}", error=error, description=description)
    return data


@dataclass(frozen=True)
class TokenRequest:
    url: str
    headers: dict[str, str]
    form: dict[str, str]


def basic_credentials(client_id: str, client_secret: str) -> str:
    """RFC 6749 2.3.1: both parts form-urlencoded before Base64."""
    raw = f"{quote(client_id, safe='')}:{quote(client_secret, safe='')}"
    return "Basic " + base64.b64encode(raw.encode()).decode("ascii")


@dataclass
class TokenState:
    """The cached access token of one client at one token endpoint."""

    token_url: str
    client_id: str
    client_secret: str = field(repr=False)
    scope: str | None = None
    auth_method: ClientAuthMethod = "client_secret_basic"
    extra: dict[str, str] = field(default_factory=dict)
    max_leeway: float = 30.0
    access_token: str | None = field(default=None, repr=False)
    expires_at: float | None = None
    refresh_at: float | None = None
    fetches: int = 0

    def usable(self, now: float) -> bool:
        """Whether the cached token may still be sent (it is renewed a little before expiry)."""
        if self.access_token is None:
            return False
        return self.refresh_at is None or now < self.refresh_at

    def request(self, grant: dict[str, str] | None = None) -> TokenRequest:
        form = {"grant_type": "client_credentials", **(grant or {})}
        if self.scope:
            form["scope"] = self.scope
        form.update(self.extra)
        headers = {"Accept": "application/json", "Content-Type": "application/x-www-form-urlencoded"}
        if self.auth_method == "client_secret_basic":
            headers["Authorization"] = basic_credentials(self.client_id, self.client_secret)
        elif self.auth_method == "client_secret_post":
            form["client_id"] = self.client_id
            form["client_secret"] = self.client_secret
        else:  # pragma: no cover - Literal guards it
            raise ValueError(f"unknown client auth method {self.auth_method!r}")
        return TokenRequest(self.token_url, headers, form)

    def accept(self, status: int, body: bytes, now: float) -> dict[str, Any]:
        """Take the token endpoint's response; raises :class:`TokenRequestError` on failure."""
        self.fetches += 1
        data = parse_token_response(status, body, self.token_url)
        self.access_token = str(data["access_token"])
        lifetime = data.get("expires_in")
        if isinstance(lifetime, (int, float)) or (isinstance(lifetime, str) and lifetime.isdigit()):
            lifetime = float(lifetime)
            self.expires_at = now + lifetime
            # Renew shortly before expiry: 30 s, or a tenth of a short lifetime.
            self.refresh_at = self.expires_at - min(self.max_leeway, lifetime / 10)
        else:
            self.expires_at = self.refresh_at = None
        return data

    def invalidate(self, token: str | None) -> None:
        """Forget ``token`` if it is still the cached one (a 401 said it is no good)."""
        if token is not None and token == self.access_token:
            self.access_token = None


def _build(request: TokenRequest) -> httpx.Request:
    return httpx.Request("POST", request.url, headers=request.headers, data=request.form)


class OAuth2ClientCredentials(httpx.Auth):
    """``Authorization: Bearer`` with a client-credentials token from ``token_url``.

    ``auth_method`` says where the client secret goes: ``"client_secret_basic"`` (HTTP
    Basic, the RFC default) or ``"client_secret_post"`` (form body). ``scope`` and ``extra``
    (e.g. ``{"audience": ...}``) are sent with the token request.
    """

    requires_request_body = True  # a 401 retry re-sends the body

    def __init__(
        self,
        token_url: str,
        client_id: str,
        client_secret: str,
        *,
        scope: str | None = None,
        auth_method: ClientAuthMethod = "client_secret_basic",
        extra: dict[str, str] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.state = TokenState(token_url, client_id, client_secret, scope, auth_method, dict(extra or {}))
        self._clock = clock
        self._thread_lock = threading.Lock()
        self._async_locks: dict[int, asyncio.Lock] = {}

    def __repr__(self) -> str:
        return (f"OAuth2ClientCredentials(token_url={self.state.token_url!r}, "
                f"client_id={self.state.client_id!r}, secret=<hidden>)")

    @property
    def token_fetches(self) -> int:
        """How many token requests this flow has made (the benchmark counts them)."""
        return self.state.fetches

    def _async_lock(self) -> asyncio.Lock:
        # asyncio locks belong to one loop; tests and apps may run several loops in turn.
        loop = asyncio.get_running_loop()
        lock = self._async_locks.get(id(loop))
        if lock is None:
            self._async_locks = {id(loop): (lock := asyncio.Lock())}
        return lock

    # -- sync -------------------------------------------------------------------------
    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        token = yield from self._sync_token(stale=None)
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if response.status_code == 401:
            token = yield from self._sync_token(stale=token)
            request.headers["Authorization"] = f"Bearer {token}"
            yield request

    def _sync_token(self, stale: str | None) -> Generator[httpx.Request, httpx.Response, str]:
        with self._thread_lock:
            self.state.invalidate(stale)
            if not self.state.usable(self._clock()):
                response = yield _build(self.state.request())
                response.read()
                self.state.accept(response.status_code, response.content, self._clock())
            assert self.state.access_token is not None
            return self.state.access_token

    # -- async ------------------------------------------------------------------------
    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        token = await self._async_token_fast()
        if token is None:
            async with self._async_lock():
                if not self.state.usable(self._clock()):
                    response = yield _build(self.state.request())
                    await response.aread()
                    self.state.accept(response.status_code, response.content, self._clock())
                token = self.state.access_token
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if response.status_code == 401:
            async with self._async_lock():
                self.state.invalidate(token)
                if not self.state.usable(self._clock()):
                    token_response = yield _build(self.state.request())
                    await token_response.aread()
                    self.state.accept(token_response.status_code, token_response.content, self._clock())
                token = self.state.access_token
            request.headers["Authorization"] = f"Bearer {token}"
            yield request

    async def _async_token_fast(self) -> str | None:
        return self.state.access_token if self.state.usable(self._clock()) else None
