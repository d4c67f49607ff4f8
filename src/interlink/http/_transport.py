"""httpx transports that retry by :class:`RetryPolicy` and can drop idle connections.

One class serves sync and async clients (it is both a ``BaseTransport`` and an
``AsyncBaseTransport``; the client picks the matching inner httpx transport). Retrying at
the transport keeps it under the auth flows: a token request an auth flow yields is
retried by the same rules.

``keep_alive=False`` is how a client used *without* ``with`` leaks no connections: the
inner connection pool is closed whenever the last response in flight is closed, and a new
pool is made on the next request.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any, Callable

import httpx

from interlink.http._retry import RetryPolicy

__all__ = ["RetryTransport"]

_CONNECT_ERRORS = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
_RETRYABLE_ERRORS = (httpx.TransportError,)


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

    def close(self) -> None:
        try:
            self._inner.close()
        finally:
            if not self._closed:
                self._closed = True
                self._on_close()

    async def aclose(self) -> None:
        try:
            await self._inner.aclose()
        finally:
            if not self._closed:
                self._closed = True
                result = self._on_close()
                if asyncio.iscoroutine(result):
                    await result


class RetryTransport(httpx.BaseTransport, httpx.AsyncBaseTransport):
    """Retrying wrapper around a lazily made ``httpx.HTTPTransport``/``AsyncHTTPTransport``."""

    def __init__(
        self,
        *,
        is_async: bool,
        policy: RetryPolicy | None = None,
        keep_alive: bool = True,
        sleep: Callable[[float], Any] | None = None,
        **transport_kwargs: Any,
    ) -> None:
        self.policy = policy or RetryPolicy()
        self.keep_alive = keep_alive
        self._is_async = is_async
        self._transport_kwargs = transport_kwargs
        self._inner: Any = None
        self._in_flight = 0
        self._lock = threading.Lock()
        self._sleep = sleep

    # -- the inner transport -------------------------------------------------------------
    def _get_inner(self) -> Any:
        with self._lock:
            if self._inner is None:
                factory = httpx.AsyncHTTPTransport if self._is_async else httpx.HTTPTransport
                self._inner = factory(**self._transport_kwargs)
            self._in_flight += 1
            return self._inner

    def _release(self) -> Any:
        """Called when a response is closed; returns the transport to close, if any."""
        with self._lock:
            self._in_flight -= 1
            if self.keep_alive or self._in_flight > 0 or self._inner is None:
                return None
            inner, self._inner = self._inner, None
            return inner

    def _release_sync(self) -> None:
        inner = self._release()
        if inner is not None:
            inner.close()

    async def _release_async(self) -> None:
        inner = self._release()
        if inner is not None:
            await inner.aclose()

    # -- sync ---------------------------------------------------------------------------
    def handle_request(self, request: httpx.Request) -> httpx.Response:
        attempt = 0
        while True:
            attempt += 1
            inner = self._get_inner()
            try:
                response = inner.handle_request(request)
            except _RETRYABLE_ERRORS as exc:
                self._release_sync()
                wait = self.policy.after_error(request.method, not isinstance(exc, _CONNECT_ERRORS), attempt)
                if wait is None:
                    raise
                (self._sleep or time.sleep)(wait)
                continue
            wait = self.policy.after_status(
                request.method, response.status_code, response.headers.get("retry-after"), attempt
            )
            if wait is None:
                response.stream = _ClosingStream(response.stream, self._release_sync)
                return response
            response.close()
            self._release_sync()
            (self._sleep or time.sleep)(wait)

    def close(self) -> None:
        with self._lock:
            inner, self._inner = self._inner, None
        if inner is not None:
            inner.close()

    # -- async --------------------------------------------------------------------------
    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        attempt = 0
        while True:
            attempt += 1
            inner = self._get_inner()
            try:
                response = await inner.handle_async_request(request)
            except _RETRYABLE_ERRORS as exc:
                await self._release_async()
                wait = self.policy.after_error(request.method, not isinstance(exc, _CONNECT_ERRORS), attempt)
                if wait is None:
                    raise
                await self._async_sleep(wait)
                continue
            wait = self.policy.after_status(
                request.method, response.status_code, response.headers.get("retry-after"), attempt
            )
            if wait is None:
                response.stream = _ClosingStream(response.stream, self._release_async)
                return response
            await response.aclose()
            await self._release_async()
            await self._async_sleep(wait)

    async def _async_sleep(self, seconds: float) -> None:
        if self._sleep is not None:
            result = self._sleep(seconds)
            if asyncio.iscoroutine(result):
                await result
            return
        await asyncio.sleep(seconds)

    async def aclose(self) -> None:
        with self._lock:
            inner, self._inner = self._inner, None
        if inner is not None:
            await inner.aclose()
