"""``RestClient``: rest-tools' JSON REST client, async on httpx (plus a sync ``request_seq``).

Same call shapes as ``rest_tools.client.RestClient``. Fixed on the way:

* one exception type, :class:`RestHTTPError`, whether retries ran out or not (rest-tools
  raises ``requests.HTTPError`` or urllib3's retry errors);
* a callable token is refreshed when its JWT ``exp`` is within 5 s (rest-tools' check
  used a removed PyJWT argument and re-fetched on every call); an opaque token from a
  callable is kept until the server answers 401, then refreshed once;
* tokens live in one place, the ``TokenState`` of an ``interlink.http.TokenFlow`` set as the
  client's httpx auth, so every token source (a callable, a refresh token, client
  credentials) is cached, locked and retried-on-401 by the same code for sync and async;
  token requests go through this client's own transport (TLS, client certificate, retry);
* the logger's level is left alone (rest-tools forced DEBUG) and request arguments are
  not logged (they may hold secrets);
* paths cannot climb out of ``address`` (the bearer token would follow them);
* ``close()`` closes every connection the client opened, sync and async: an async pool is
  also closed when its event loop shuts down (``asyncio.run`` ending), so a client that is
  never closed leaves no socket behind (rest-tools' thread-pool sessions did).

Kept from rest-tools: the ``retries``/``timeout``/``backoff_factor`` checks and messages,
``MAX_RETRIES``, ``CalcRetryFromBackoffMax``/``CalcRetryFromWaittimeMax`` and urllib3's
wait schedule (no wait before the first retry, then ``backoff_factor * 2**(n-1)`` capped at
120 s), and requests' error text (``404 Client Error: Not Found for url: …``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import math
import threading
import time
import weakref
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, Union

import httpx

from interlink.http._auth import BearerAuth
from interlink.http._client import APIClient, AsyncAPIClient
from interlink.http._errors import ClientError
from interlink.http._jwt import expires_at
from interlink.http._oauth2 import Flow, TokenFlow, TokenState
from interlink.http._options import client_options
from interlink.http._retry import RetryPolicy
from interlink.http._transport import RetryTransport
from interlink.urls import redact_url

__all__ = [
    "RestClient",
    "RestHTTPError",
    "JSONType",
    "TokenType",
    "CallableTokenFlow",
    "hold_token",
    "MAX_RETRIES",
    "DEFAULT_BACKOFF_MAX",
    "CalcRetryFromBackoffMax",
    "CalcRetryFromWaittimeMax",
    "UpstreamRetryPolicy",
]

JSONType = Any
TokenType = Union[str, bytes]
TOKEN_EXPIRY_MARGIN = 5.0  # seconds

#: The most retries a ``RestClient`` accepts (rest-tools' bound).
MAX_RETRIES = 30
#: The longest wait between two attempts, in seconds (urllib3's ``Retry.DEFAULT_BACKOFF_MAX``,
#: which rest-tools' schedule and messages are written against).
DEFAULT_BACKOFF_MAX = 120


@dataclasses.dataclass(frozen=True)
class UpstreamRetryPolicy(RetryPolicy):
    """``RetryPolicy`` with urllib3's schedule, as rest-tools' clients wait: the first retry
    at once, then ``backoff_factor * 2**(n-1)`` seconds, capped at ``DEFAULT_BACKOFF_MAX``."""

    max_backoff: float = DEFAULT_BACKOFF_MAX

    def backoff(self, attempt: int) -> float:
        if attempt <= 1 or self.backoff_factor <= 0:
            return 0.0
        return min(self.max_backoff, self.backoff_factor * (2 ** (attempt - 1)))


@dataclasses.dataclass
class CalcRetryFromBackoffMax:
    """Pass as ``retries=``: as many retries as fit before one wait would exceed ``backoff_max``."""

    backoff_max: float

    def __post_init__(self) -> None:
        if self.backoff_max > DEFAULT_BACKOFF_MAX:
            # rest-tools' message, word for word (callers match on it).
            raise ValueError(
                f"CalcRetryFromBackoffMax.backoff_max ({self.backoff_max}) cannot be greater than: "
                f"urllib3.util.retry.Retry.DEFAULT_BACKOFF_MAX={DEFAULT_BACKOFF_MAX}"
            )

    def calculate_retries(self, backoff_factor: float) -> int:
        """The last wait is ``backoff_factor * 2**(retries-1)``; solve for ``retries``."""
        return max(0, int(math.log2(self.backoff_max / backoff_factor) + 1))


@dataclasses.dataclass
class CalcRetryFromWaittimeMax:
    """Pass as ``retries=``: as many retries as fit in ``waittime_max`` seconds in all,
    counting every attempt's full ``timeout`` and every wait between attempts."""

    waittime_max: float

    def calculate_retries(self, timeout: float, backoff_factor: float) -> int:
        """At most ``MAX_RETRIES + 1`` (which the client then refuses)."""
        if self.waittime_max < timeout:
            raise ValueError(f"waittime_max ({self.waittime_max}) cannot be less than timeout ({timeout})")
        schedule = UpstreamRetryPolicy(retries=MAX_RETRIES + 1, backoff_factor=backoff_factor)
        retries = 0
        for candidate in range(MAX_RETRIES + 2):
            # rest-tools' sum: the first attempt, retry 1 at once, retries 2..candidate each
            # after their wait (its formula counts one attempt fewer than it waits for; kept).
            total = timeout + sum(timeout + schedule.backoff(n + 1) for n in range(1, candidate)) + timeout
            if self.waittime_max <= total:
                break
            retries = candidate
        return retries


def _resolve_retries(
    retries: int | CalcRetryFromBackoffMax | CalcRetryFromWaittimeMax, timeout: float, backoff_factor: float
) -> int:
    if isinstance(retries, CalcRetryFromBackoffMax):
        count = retries.calculate_retries(backoff_factor)
    elif isinstance(retries, CalcRetryFromWaittimeMax):
        count = retries.calculate_retries(timeout, backoff_factor)
    elif isinstance(retries, int) and not isinstance(retries, bool) and retries >= 0:
        count = retries
    else:
        raise ValueError(f"Cannot set and/or auto-calculate # of retries: {retries}")
    if count > MAX_RETRIES:
        raise ValueError(f"Cannot set # of retries above {MAX_RETRIES}")
    return count


class RestHTTPError(ClientError, httpx.HTTPStatusError):
    """An HTTP error status from the REST server (after any retries).

    ``response.status_code`` and ``response.json()`` work as with requests' ``HTTPError``;
    ``retried`` says whether retries were attempted and ran out.
    """

    def __init__(self, message: str, *, request: httpx.Request, response: httpx.Response, retried: bool) -> None:
        super().__init__(message, request=request, response=response)
        self.retried = retried

    @property
    def status_code(self) -> int:
        return self.response.status_code


def _to_str(token: TokenType) -> str:
    return token.decode("ascii") if isinstance(token, bytes) else token


def hold_token(state: TokenState, token: TokenType, expires: float | None, now: float) -> None:
    """Cache ``token`` in ``state``; ``expires`` (UNIX time) or else its JWT ``exp`` bounds it."""
    text = _to_str(token)
    expiry = expires if expires is not None else expires_at(text)
    state.hold(text, None if expiry is None else expiry - now, now)


class CallableTokenFlow(TokenFlow):
    """Tokens from a user's callable: kept until near their JWT ``exp`` (or, opaque, a 401).

    The callable is sync (rest-tools' contract) and is called in place, also by async
    clients: it is expected to be quick (read a file, ask a local agent).
    """

    def __init__(self, token_func: Callable[[], TokenType]) -> None:
        super().__init__(TokenState("", "", "", leeway=TOKEN_EXPIRY_MARGIN), clock=time.time)
        self.token_func = token_func

    def fetch(self) -> Flow:
        hold_token(self.state, self.token_func(), None, self._clock())
        self.state.fetches += 1
        return
        yield  # a generator with no token request to send


class RestClient:
    """A REST client with token handling.

    Args:
        address: base address of the REST API
        token: an access token, or a function returning one
        timeout: request timeout in seconds (default 60; negative refused)
        retries: retries of idempotent requests on connection errors and 429/502/503/504
            (default 10, at most ``MAX_RETRIES``), or a ``CalcRetryFromBackoffMax`` /
            ``CalcRetryFromWaittimeMax`` to work the number out
        backoff_factor: waits are ``backoff_factor * 2**(n-1)`` from the second retry on
            (default 0.3; negative refused)
        username/password, sslcert/sslkey, cacert: basic auth, client certificate, server CA
    """

    def __init__(
        self,
        address: str,
        token: TokenType | Callable[[], TokenType] | None = None,
        timeout: float = 60.0,
        retries: int | CalcRetryFromBackoffMax | CalcRetryFromWaittimeMax = 10,
        backoff_factor: float = 0.3,
        logger: logging.Logger | None = None,
        **kwargs: Any,
    ) -> None:
        self.address = address
        self.logger = logger or logging.getLogger("RestClient")
        self.kwargs = kwargs
        self.timeout = float(timeout)
        if self.timeout < 0.0:
            raise ValueError(f"timeout must be positive: {self.timeout}")
        self.backoff_factor = float(backoff_factor)
        if self.backoff_factor < 0.0:
            raise ValueError(f"backoff_factor must be positive: {self.backoff_factor}")
        self.retries = _resolve_retries(retries, self.timeout, self.backoff_factor)
        self.token_func: Callable[[], TokenType] | None = None
        self.auth: httpx.Auth | None = None
        if isinstance(token, (str, bytes)):
            if token:
                self.auth = BearerAuth(token)
        elif callable(token):
            self.token_func = token
            self.auth = CallableTokenFlow(token)
        self._sync_client: APIClient | None = None
        self._async_clients: dict[int, _LoopClient] = {}
        self._lock = threading.Lock()

    @property
    def access_token(self) -> TokenType | None:
        """The token sent now (``None`` before the first one is fetched)."""
        if isinstance(self.auth, TokenFlow):
            return self.auth.state.access_token
        return self.auth._token if isinstance(self.auth, BearerAuth) else None  # type: ignore[return-value]

    # -- configuration --------------------------------------------------------------------
    def _client_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "timeout": self.timeout,
            "retry_policy": UpstreamRetryPolicy(retries=self.retries, backoff_factor=self.backoff_factor),
        }
        if self.auth is not None:
            kwargs["auth"] = self.auth
        elif "username" in self.kwargs and "password" in self.kwargs:
            kwargs["auth"] = (self.kwargs["username"], self.kwargs["password"])
        if "sslcert" in self.kwargs:
            kwargs["cert"] = (self.kwargs["sslcert"], self.kwargs["sslkey"]) if "sslkey" in self.kwargs else self.kwargs["sslcert"]
        if "cacert" in self.kwargs:
            kwargs["verify"] = self.kwargs["cacert"]
        return kwargs

    def idp_client(self, *, retry: bool = True) -> httpx.Client:
        """A sync client for the identity provider with this client's TLS settings (client
        certificate; the system store plus ``cacert``) and, with ``retry``, its retry policy.
        Mark its requests with ``extensions={TOKEN_REQUEST: True}``."""
        options = client_options(self._client_kwargs())
        policy = options.policy if retry else RetryPolicy(retries=0)
        transport = RetryTransport(policy=policy, token_verify=options.token_verify, **options.transport)
        # as many redirects as rest-tools' requests followed (30), not httpx's 20
        return httpx.Client(transport=transport, timeout=options.client["timeout"], follow_redirects=True,
                            max_redirects=options.client["max_redirects"])

    def open(self, sync: bool = False) -> Any:
        """Open (or return) the HTTP session: ``sync=True`` for ``request_seq``'s client,
        otherwise the async client of the running event loop."""
        if sync:
            with self._lock:
                if self._sync_client is None:
                    client = APIClient(self.address, self._client_kwargs()).__enter__()
                    # Collected without close(): its pooled sockets are closed, not leaked.
                    weakref.finalize(self, client.close)
                    self._sync_client = client
                return self._sync_client
        loop = asyncio.get_running_loop()
        entry = self._async_clients.get(id(loop))
        if entry is None or entry.loop() is not loop:
            # An httpx async pool belongs to one event loop: one client per loop.
            client = AsyncAPIClient(self.address, self._client_kwargs())
            client._interlink_transport.keep_alive = True
            entry = self._async_clients[id(loop)] = _LoopClient(weakref.ref(loop), client)
        return entry.client

    async def _async_session(self) -> AsyncAPIClient:
        client: AsyncAPIClient = self.open()
        await self._async_clients[id(asyncio.get_running_loop())].arm()
        return client

    def close(self) -> None:
        """Close every connection: the sync session's, and each event loop's async session's.

        Called from a coroutine, the running loop's session closes on that loop right after
        (``await aclose()`` to wait for it); sessions of loops that have ended were closed
        when they ended.
        """
        self.logger.debug("close REST http session")
        with self._lock:
            sync_client, self._sync_client = self._sync_client, None
            entries, self._async_clients = list(self._async_clients.values()), {}
        if sync_client is not None:
            sync_client.close()
        for entry in entries:
            entry.close_soon()

    async def aclose(self) -> None:
        """Close every connection, waiting for the running loop's session to be closed."""
        entry = self._async_clients.pop(id(asyncio.get_running_loop()), None)
        self.close()
        if entry is not None:
            await entry.aclose()

    def _refresh_now(self) -> str:
        """A new token fetched at once through the sync client's transport (not on a request)."""
        assert isinstance(self.auth, TokenFlow)
        try:
            return self.auth.refresh(self.open(sync=True)._interlink_transport)
        except Exception:
            self.logger.warning("acquiring access token failed")
            raise

    # -- requests -------------------------------------------------------------------------
    def _prepare(self, method: str, path: str, args: dict[str, Any] | None, headers: dict[str, str] | None) -> dict[str, Any]:
        method = method.upper()
        kwargs: dict[str, Any] = {"method": method, "url": path.lstrip("/"), "headers": dict(headers or {})}
        if method in ("GET", "HEAD"):
            kwargs["params"] = args or {}
        else:
            kwargs["json"] = args or {}
        return kwargs

    def _check(self, method: str, path: str, response: httpx.Response) -> None:
        if response.is_success:
            return
        policy = RetryPolicy(retries=self.retries)
        retried = self.retries > 0 and policy.after_status(method, response.status_code, None, 1) is not None
        if not (method.upper() == "DELETE" and response.status_code == 404):
            self.logger.info("bad request: %s %s -> %s", method, redact_url(path), response.status_code)
        raise RestHTTPError(http_error_text(response), request=response.request, response=response, retried=retried)

    def _decode(self, content: bytes | str) -> JSONType:
        if not content:
            return None
        return json.loads(content)

    async def request(
        self, method: str, path: str, args: dict[str, Any] | None = None, headers: dict[str, str] | None = None
    ) -> JSONType:
        """Send a request; ``args`` go in the query for GET/HEAD and as a JSON body otherwise.

        Returns the decoded JSON (``None`` for an empty body); raises :class:`RestHTTPError`.
        """
        client = await self._async_session()
        response = await client.request(**self._prepare(method, path, args, headers))
        self._check(method, path, response)
        return self._decode(response.content)

    def request_seq(
        self, method: str, path: str, args: dict[str, Any] | None = None, headers: dict[str, str] | None = None
    ) -> JSONType:
        """The sequential (blocking) version of :meth:`request`."""
        client: APIClient = self.open(sync=True)
        response = client.request(**self._prepare(method, path, args, headers))
        self._check(method, path, response)
        return self._decode(response.content)

    def request_stream(
        self,
        method: str,
        path: str,
        args: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        chunk_size: int | None = 8096,
    ) -> Iterator[JSONType]:
        """Send a request and yield each line of a newline-delimited JSON response, decoded.

        The body is read ``chunk_size`` bytes at a time (``None`` or below 1: as it arrives);
        blank lines are skipped.
        """
        client: APIClient = self.open(sync=True)
        with client.stream(**self._prepare(method, path, args, headers)) as response:
            if not response.is_success:
                response.read()
                self._check(method, path, response)
            lines = LineSplitter()
            for chunk in response.iter_bytes(_chunk_size(chunk_size)):
                for line in lines.feed(chunk):
                    yield self._decode(line)
            for line in lines.end():
                yield self._decode(line)

    async def request_stream_async(
        self,
        method: str,
        path: str,
        args: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        chunk_size: int | None = 8096,
    ) -> AsyncIterator[JSONType]:
        """The async twin of :meth:`request_stream` (an async generator)."""
        client = await self._async_session()
        async with client.stream(**self._prepare(method, path, args, headers)) as response:
            if not response.is_success:
                await response.aread()
                self._check(method, path, response)
            lines = LineSplitter()
            async for chunk in response.aiter_bytes(_chunk_size(chunk_size)):
                for line in lines.feed(chunk):
                    yield self._decode(line)
            for line in lines.end():
                yield self._decode(line)


def http_error_text(response: httpx.Response) -> str:
    """requests' ``HTTPError`` text, which rest-tools users see and match on:
    ``404 Client Error: Not Found for url: http://…``."""
    kind = "Client" if response.status_code < 500 else "Server"
    return f"{response.status_code} {kind} Error: {response.reason_phrase} for url: {response.request.url}"


def _chunk_size(chunk_size: int | None) -> int | None:
    return chunk_size if chunk_size is not None and chunk_size >= 1 else None


class LineSplitter:
    """Bytes in, complete non-blank lines out (split on ``\\n``, whitespace stripped). No I/O.

    A line longer than ``max_line`` bytes raises ``ValueError``: a stream without newlines
    must not grow the buffer without bound.
    """

    def __init__(self, max_line: int = 64 * 1024 * 1024) -> None:
        self.max_line = max_line
        self._buffer = bytearray()

    def feed(self, chunk: bytes) -> list[bytes]:
        self._buffer += chunk
        *complete, rest = self._buffer.split(b"\n")
        if len(rest) > self.max_line:
            raise ValueError(f"a streamed line is longer than {self.max_line} bytes")
        self._buffer = bytearray(rest)
        return [line for line in (bytes(c).strip() for c in complete) if line]

    def end(self) -> list[bytes]:
        last, self._buffer = bytes(self._buffer).strip(), bytearray()
        return [last] if last else []


class _LoopClient:
    """One event loop's async client, closed by ``close()`` or when its loop shuts down.

    The guard is a suspended async generator: ``asyncio.run`` (and ``asyncio.Runner``)
    close every live async generator of their loop on the way out
    (``loop.shutdown_asyncgens``), and its ``finally`` closes the client's connections.
    A client dropped without ``close()`` closes the same way, through asyncio's finalizer
    for async generators.
    """

    def __init__(self, loop: weakref.ref[asyncio.AbstractEventLoop], client: AsyncAPIClient) -> None:
        self.loop = loop
        self.client = client
        self.guard: Any = None

    async def arm(self) -> None:
        if self.guard is None:
            self.guard = _closes_with_loop(self.client)
            await self.guard.asend(None)  # runs to its ``yield``: the ``finally`` is live

    async def aclose(self) -> None:
        if self.guard is not None:
            await self.guard.aclose()
        else:
            await self.client.aclose()

    def close_soon(self) -> None:
        loop = self.loop()
        if loop is None or loop.is_closed():
            return  # closed when the loop shut down
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            # Kept alive until closed: if the loop stops before this task runs, the loop's
            # own shutdown closes the guard.
            if self.guard is not None:
                _CLOSING[id(self.client)] = self.guard
            loop.create_task(self.aclose())
        elif loop.is_running():
            asyncio.run_coroutine_threadsafe(self.aclose(), loop)
        else:
            loop.run_until_complete(self.aclose())


#: Guards whose close was asked for from inside their loop, kept alive until they have run.
_CLOSING: dict[int, Any] = {}


async def _closes_with_loop(client: AsyncAPIClient) -> AsyncIterator[None]:
    try:
        yield
    finally:
        _CLOSING.pop(id(client), None)
        await client.aclose()
