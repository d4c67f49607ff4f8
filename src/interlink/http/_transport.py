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
keeping the client certificate (or, for service records, the system store alone and no
client certificate: ``token_verify`` is whatever the options say).

TLS material is read when the first connection of a route is made, not at construction
(requests reads certificate files when it connects): a ``verify`` given as a callable is
called then. A request may carry its own TLS/proxy settings (requests' per-call
``verify=``, ``cert=``, ``proxies=``) as a :class:`Route` extension; each distinct route gets
its own lazily made pool. ``close()`` ends the pools but not the transport: the next
request makes new ones, as a closed ``requests.Session`` keeps working; pools with a
response still being read are closed when that response is.

Every attempt is bounded in time and size (``_bounds.py``): each inner transport is a
:class:`BoundedTransport`, so the deadline is per attempt (as rest-tools counts a full
``timeout`` for every retry) and a retry starts with a fresh one.
"""

from __future__ import annotations

import asyncio
import itertools
import ssl
import threading
import time
from typing import Any, AsyncIterator, Callable, Iterator

import httpx

from interlink.http._bounds import DEADLINE, DEFAULT_MAX_RESPONSE_BYTES, MAX_RESPONSE_BYTES, AsyncBoundedTransport, BoundedTransport, ResponseTooLarge
from interlink.http._retry import RetryPolicy

__all__ = ["RetryTransport", "AsyncRetryTransport", "TOKEN_REQUEST", "TOKEN_ANSWER_BYTES", "ROUTE", "Route"]

#: Request extension set by auth flows on the token requests they yield.
TOKEN_REQUEST = "interlink.token_request"
#: Request extension holding a :class:`Route`: per-request transport settings.
ROUTE = "interlink.route"

#: What a token, discovery or key-set answer may be: far more than any real one.
TOKEN_ANSWER_BYTES = 1024 * 1024
#: Seconds for a token request that serves no call (so has no call's timeout).
TOKEN_DEADLINE = 30.0

#: More distinct per-request routes than this and the least recently made idle one is closed.
MAX_ROUTES = 16


class Route:
    """Per-request transport settings (``verify``, ``proxy``) under a hashable ``key``."""

    __slots__ = ("key", "settings")

    def __init__(self, key: Any, settings: Callable[[], dict[str, Any]]) -> None:
        self.key = key
        self.settings = settings

_CONNECT_ERRORS = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


def _certificate_refused(error: BaseException) -> bool:
    seen: set[int] = set()
    cause: BaseException | None = error
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, ssl.SSLCertVerificationError):
            return True
        seen.add(id(cause))
        cause = cause.__cause__ or cause.__context__
    return False


class _ClosingStream(httpx.SyncByteStream, httpx.AsyncByteStream):
    """A response stream that tells its transport when it is closed."""

    def __init__(self, inner: Any, on_close: Callable[[], Any]) -> None:
        self._inner = inner
        self._on_close = on_close
        self._closed = False

    def __iter__(self) -> Iterator[bytes]:
        yield from self._inner

    async def __aiter__(self) -> AsyncIterator[bytes]:
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
    _bounded: Callable[..., Any]

    def __init__(
        self,
        *,
        policy: RetryPolicy | None = None,
        keep_alive: bool = True,
        sleep: Callable[[float], Any] | None = None,
        token_verify: Any = None,
        max_response_bytes: int | None = DEFAULT_MAX_RESPONSE_BYTES,
        **transport_kwargs: Any,
    ) -> None:
        self.policy = policy or RetryPolicy()
        self.max_response_bytes = max_response_bytes
        self.keep_alive = keep_alive
        self._sleep = sleep
        self._kwargs: dict[Any, Any] = {"default": transport_kwargs}
        if token_verify is not None:
            self._kwargs["token"] = {**transport_kwargs, "verify": token_verify}
        self._inner: dict[Any, Any] = {}
        self._contexts: dict[Any, ssl.SSLContext] = {}
        self._busy: dict[Any, int] = {}
        self._retired: list[Any] = []
        self._in_flight = 0
        self._lock = threading.Lock()

    def reconfigure(self, token_verify: Any = None, **transport_kwargs: Any) -> list[Any]:
        """New settings for the default (and token) route, e.g. after ``client.verify = False``.

        Returns the inner transports to close now; those in use are closed when idle.
        """
        with self._lock:
            # per-request routes were made from the old defaults: they are made again
            self._kwargs = {k: v for k, v in self._kwargs.items() if not isinstance(k, tuple)}
            self._contexts = {}
            self._kwargs["default"] = {**self._kwargs["default"], **transport_kwargs}
            if token_verify is not None:
                self._kwargs["token"] = {**self._kwargs["default"], "verify": token_verify}
            else:
                self._kwargs.pop("token", None)
            return self._retire_all()

    def _resolve(self, key: Any) -> dict[str, Any]:
        kwargs: dict[str, Any] = self._kwargs[key]
        verify = kwargs.get("verify", True)
        if callable(verify):  # lazily built TLS context: certificate files are read now
            return {**kwargs, "verify": verify()}
        if isinstance(verify, bool) and kwargs.get("cert") is None:
            # The system store's context is made once per route, not once per pool: a client
            # used without ``with`` makes a pool per call, and loading the CA bundle (~25 ms)
            # would cost more than the call itself.
            context = self._contexts.get(key)
            if context is None:
                context = httpx.create_ssl_context(verify=verify, trust_env=kwargs.get("trust_env", True))
                self._contexts[key] = context
            return {**kwargs, "verify": context}
        return kwargs

    def _acquire(self, request: httpx.Request) -> tuple[Any, Any]:
        extensions = request.extensions
        route: Route | None = extensions.get(ROUTE)
        if extensions.get(TOKEN_REQUEST):
            extensions.setdefault(MAX_RESPONSE_BYTES, TOKEN_ANSWER_BYTES)
            if "timeout" not in extensions:  # a refresh outside any call: still bounded
                extensions.setdefault(DEADLINE, TOKEN_DEADLINE)
        if extensions.get(TOKEN_REQUEST) and "token" in self._kwargs:
            key: Any = "token"
        elif route is not None:
            key = ("route", route.key)
        else:
            key = "default"
        with self._lock:
            inner = self._inner.get(key)
            if inner is None:
                if key not in self._kwargs:  # a per-request route: the default settings, overridden
                    self._kwargs[key] = {**self._kwargs["default"], **route.settings()}  # type: ignore[union-attr]
                    self._evict_routes()
                inner = self._bounded(self._factory(**self._resolve(key)), max_response_bytes=self.max_response_bytes)
                self._inner[key] = inner
            self._in_flight += 1
            self._busy[key] = self._busy.get(key, 0) + 1
            return key, inner

    def _evict_routes(self) -> None:
        routes = [k for k in self._kwargs if isinstance(k, tuple)]
        for key in routes[: max(0, len(routes) - MAX_ROUTES)]:
            if not self._busy.get(key):
                del self._kwargs[key]
                self._contexts.pop(key, None)
                inner = self._inner.pop(key, None)
                if inner is not None:
                    self._retired.append(inner)

    def _release(self, key: Any) -> list[Any]:
        """Called when a response is closed; returns the inner transports to close, if any."""
        with self._lock:
            self._in_flight -= 1
            self._busy[key] -= 1
            if self._in_flight > 0:
                return []
            closing, self._retired = self._retired, []
            if not self.keep_alive:
                closing += self._take_all()
            return closing

    def _take_all(self) -> list[Any]:
        inners, self._inner = list(self._inner.values()), {}
        return inners

    def _retire_all(self) -> list[Any]:
        """Drop every pool: closed now if nothing is in flight, else when the last response is."""
        inners = self._take_all()
        if self._in_flight > 0:
            self._retired += inners
            return []
        return inners

    def _wait_after_error(self, request: httpx.Request, error: Exception, attempt: int) -> float | None:
        if _certificate_refused(error) or isinstance(error, ResponseTooLarge):
            return None  # a refused certificate or an answer over the bound would be again: no retry
        return self.policy.after_error(request.method, not isinstance(error, _CONNECT_ERRORS), attempt)

    def _wait_or_keep(
        self, request: httpx.Request, response: httpx.Response, attempt: int, release: Callable[[], Any]
    ) -> float | None:
        """The wait before the next attempt, or None: the response is kept, and closing it
        calls ``release`` (the shell's, sync or async)."""
        wait = self.policy.after_status(request.method, response.status_code, response.headers.get("retry-after"), attempt)
        if wait is None:
            response.stream = _ClosingStream(response.stream, release)
        return wait


class RetryTransport(_RetryingPool, httpx.BaseTransport):
    """Retrying wrapper around lazily made ``httpx.HTTPTransport`` instances."""

    _factory = httpx.HTTPTransport
    _bounded = BoundedTransport

    def _release_now(self, key: Any) -> None:
        for inner in self._release(key):
            inner.close()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        for attempt in itertools.count(1):
            key, inner = self._acquire(request)
            try:
                response: httpx.Response = inner.handle_request(request)
            except httpx.TransportError as exc:
                self._release_now(key)
                if (wait := self._wait_after_error(request, exc, attempt)) is None:
                    raise
            except BaseException:
                self._release_now(key)
                raise
            else:
                if (wait := self._wait_or_keep(request, response, attempt, lambda: self._release_now(key))) is None:
                    return response
                response.close()
                self._release_now(key)
            (self._sleep or time.sleep)(wait)
        raise AssertionError("unreachable")  # pragma: no cover

    def close(self) -> None:
        with self._lock:
            inners = self._retire_all()
        for inner in inners:
            inner.close()


class AsyncRetryTransport(_RetryingPool, httpx.AsyncBaseTransport):
    """Retrying wrapper around lazily made ``httpx.AsyncHTTPTransport`` instances."""

    _factory = httpx.AsyncHTTPTransport
    _bounded = AsyncBoundedTransport

    async def _release_now(self, key: Any) -> None:
        for inner in self._release(key):
            await inner.aclose()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        for attempt in itertools.count(1):
            key, inner = self._acquire(request)
            try:
                response: httpx.Response = await inner.handle_async_request(request)
            except httpx.TransportError as exc:
                await self._release_now(key)
                if (wait := self._wait_after_error(request, exc, attempt)) is None:
                    raise
            except BaseException:
                await self._release_now(key)
                raise
            else:
                if (wait := self._wait_or_keep(request, response, attempt, lambda: self._release_now(key))) is None:
                    return response
                await response.aclose()
                await self._release_now(key)
            await self._pause(wait)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _pause(self, seconds: float) -> None:
        result = (self._sleep or asyncio.sleep)(seconds)
        if asyncio.iscoroutine(result):
            await result

    async def aclose(self) -> None:
        with self._lock:
            inners = self._retire_all()
        for inner in inners:
            await inner.aclose()
