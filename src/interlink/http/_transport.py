"""httpx transports that retry by :class:`RetryPolicy` and can drop idle connections.

Two classes, as httpx has two: :class:`RetryTransport` (sync) and
:class:`AsyncRetryTransport`; what they share — the pool bookkeeping and the retry
decisions — is in :class:`_RetryingPool`, which does no I/O. Retrying at the transport keeps
it *under* the auth flows: a token request an auth flow yields is retried by the same rules
and goes over the same TLS settings (client certificate included).

Why not ``httpx-retries``: it decides by method alone and skips every retry for a method it
does not list, so a POST whose connection was never made (nothing reached the server) would
not be retried, while the site client relies on exactly that; it also sleeps with
``time.sleep`` (tests inject the sleep to assert waits) and has no idle-pool closing. Our
:class:`RetryPolicy` keeps those semantics: connect failures retried for every method,
everything else (read errors, 429/502/503/504 with ``Retry-After``) only for idempotent ones.

``keep_alive=False`` is how a client used *without* ``with`` leaks no connections: the
inner connection pools are closed whenever the last response in flight is closed, and new
ones are made on the next request.

Token requests (marked with the ``TOKEN_REQUEST`` extension by the auth flows) may use a
wider trust: when a client has a private CA for its service, the token endpoint is
often a public identity provider, so those requests trust the system store *and* that CA,
keeping the client certificate.
"""

from __future__ import annotations

import asyncio
import itertools
import ssl
import threading
import time
from typing import Any, Callable

import httpx

from interlink.http._retry import RetryPolicy

__all__ = ["RetryTransport", "AsyncRetryTransport", "TOKEN_REQUEST"]

#: Request extension set by auth flows on the token requests they yield.
TOKEN_REQUEST = "interlink.token_request"

_CONNECT_ERRORS = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


class _ClosingStream(httpx.SyncByteStream, httpx.AsyncByteStream):
    """A response stream that tells its transport when it is closed."""

    def __init__(self, inner: Any, on_close: Callable[[], Any]) -> None:
        self._inner = inner
        self._on_close = on_close
        self._closed = False

    def __iter__(self):  # type: ignore[override]
        yield from self._inner

    async def __aiter__(self):  # type: ignore[override]
        async for chunk in self._inner:
            yield chunk

    def _first_close(self) -> bool:
        first, self._closed = not self._closed, True
        return first

    def close(self) -> None:
        try:
            self._inner.close()
        finally:
            if self._first_close():
                self._on_close()

    async def aclose(self) -> None:
        try:
            await self._inner.aclose()
        finally:
            if self._first_close():
                await self._on_close()


class _RetryingPool:
    """What both transports share: lazily made inner transports, in-flight counting, and
    the retry decisions. No I/O here."""

    _factory: Callable[..., Any]

    def __init__(
        self,
        *,
        policy: RetryPolicy | None = None,
        keep_alive: bool = True,
        sleep: Callable[[float], Any] | None = None,
        token_verify: ssl.SSLContext | bool | None = None,
        **transport_kwargs: Any,
    ) -> None:
        self.policy = policy or RetryPolicy()
        self.keep_alive = keep_alive
        self._sleep = sleep
        self._kwargs = {"default": transport_kwargs}
        if token_verify is not None:
            self._kwargs["token"] = {**transport_kwargs, "verify": token_verify}
        self._inner: dict[str, Any] = {}
        self._in_flight = 0
        self._lock = threading.Lock()

    def _acquire(self, request: httpx.Request) -> Any:
        route = "token" if request.extensions.get(TOKEN_REQUEST) and "token" in self._kwargs else "default"
        with self._lock:
            inner = self._inner.get(route)
            if inner is None:
                inner = self._inner[route] = self._factory(**self._kwargs[route])
            self._in_flight += 1
            return inner

    def _release(self) -> list[Any]:
        """Called when a response is closed; returns the inner transports to close, if any."""
        with self._lock:
            self._in_flight -= 1
            if self.keep_alive or self._in_flight > 0:
                return []
            return self._take_all()

    def _take_all(self) -> list[Any]:
        inners, self._inner = list(self._inner.values()), {}
        return inners

    def _wait_after_error(self, request: httpx.Request, error: Exception, attempt: int) -> float | None:
        return self.policy.after_error(request.method, not isinstance(error, _CONNECT_ERRORS), attempt)

    def _wait_after(self, request: httpx.Request, response: httpx.Response, attempt: int) -> float | None:
        return self.policy.after_status(request.method, response.status_code, response.headers.get("retry-after"), attempt)


class RetryTransport(_RetryingPool, httpx.BaseTransport):
    """Retrying wrapper around lazily made ``httpx.HTTPTransport`` instances."""

    _factory = httpx.HTTPTransport

    def _release_now(self) -> None:
        for inner in self._release():
            inner.close()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        for attempt in itertools.count(1):
            inner = self._acquire(request)
            try:
                response = inner.handle_request(request)
            except httpx.TransportError as exc:
                self._release_now()
                wait = self._wait_after_error(request, exc, attempt)
                if wait is None:
                    raise
            else:
                wait = self._wait_after(request, response, attempt)
                if wait is None:
                    response.stream = _ClosingStream(response.stream, self._release_now)
                    return response
                response.close()
                self._release_now()
            (self._sleep or time.sleep)(wait)
        raise AssertionError("unreachable")  # pragma: no cover

    def close(self) -> None:
        with self._lock:
            inners = self._take_all()
        for inner in inners:
            inner.close()


class AsyncRetryTransport(_RetryingPool, httpx.AsyncBaseTransport):
    """Retrying wrapper around lazily made ``httpx.AsyncHTTPTransport`` instances."""

    _factory = httpx.AsyncHTTPTransport

    async def _release_now(self) -> None:
        for inner in self._release():
            await inner.aclose()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        for attempt in itertools.count(1):
            inner = self._acquire(request)
            try:
                response = await inner.handle_async_request(request)
            except httpx.TransportError as exc:
                await self._release_now()
                wait = self._wait_after_error(request, exc, attempt)
                if wait is None:
                    raise
            else:
                wait = self._wait_after(request, response, attempt)
                if wait is None:
                    response.stream = _ClosingStream(response.stream, self._release_now)
                    return response
                await response.aclose()
                await self._release_now()
            await self._pause(wait)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _pause(self, seconds: float) -> None:
        result = (self._sleep or asyncio.sleep)(seconds)
        if asyncio.iscoroutine(result):
            await result

    async def aclose(self) -> None:
        with self._lock:
            inners = self._take_all()
        for inner in inners:
            await inner.aclose()
