"""Every outbound exchange bounded in time and size: one mechanism for every client.

A peer we do not control can answer slowly, hugely or never. httpx's timeouts are *per
operation*: a peer sending one byte every half second never trips a 2-second read timeout,
and a body is read whole before anyone can look at its size. Two bounds close that, both
enforced by the transport so no caller has to remember them:

* a **deadline** per attempt: connect, TLS, send, wait for headers and read the body
  together. Every socket operation's timeout is clipped to the time left (through the
  network backend of httpx's own transport, so a header block dripped byte by byte is cut
  off too), and the body stream checks it between chunks. Past it: :class:`DeadlineExceeded`,
  an ``httpx.ReadTimeout`` (so code catching
  httpx's timeouts keeps working). It is the request's ``DEADLINE`` extension (seconds) when
  set, else the largest of its httpx timeouts: a client made with ``timeout=15`` ends every
  attempt within about 15 s whatever the peer does.
* a **size bound** on the decoded body: ``MAX_RESPONSE_BYTES`` (extension) or the
  transport's default. A ``Content-Length`` over it is refused before reading; otherwise the
  body is counted as it streams and refused (:class:`ResponseTooLarge`) at the limit, before
  more is buffered. gzip and deflate bodies are decoded here, in pieces of bounded size, so a
  gzip bomb is refused after at most the limit of output; encodings we cannot decode in
  bounded pieces are not asked for.

``DEADLINE: None`` / ``MAX_RESPONSE_BYTES: None`` lift a bound for one request (a large
download streamed to disk). :func:`read_at_most` reads an excerpt and hangs up.
"""

from __future__ import annotations

import contextlib
import contextvars
import math
import time
import zlib
from typing import Any, AsyncIterator, Iterable, Iterator

import httpcore
import httpx

from interlink.urls import redact_url

__all__ = [
    "DEADLINE",
    "MAX_RESPONSE_BYTES",
    "DEFAULT_MAX_RESPONSE_BYTES",
    "DeadlineExceeded",
    "ResponseTooLarge",
    "BoundedTransport",
    "AsyncBoundedTransport",
    "read_at_most",
    "aread_at_most",
    "deadline_for",
]

#: Request extension: total seconds for one attempt of the exchange (None: no deadline).
DEADLINE = "interlink.deadline"
#: Request extension: the most decoded body bytes the answer may have (None: no bound).
MAX_RESPONSE_BYTES = "interlink.max_response_bytes"
#: What interlink's clients accept when nothing else is said: well above any API answer,
#: well below what would hurt a process.
DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024 * 1024

#: Decoded output is produced in pieces of at most this many bytes.
_PIECE = 64 * 1024
#: What we can decode in bounded pieces; ``br`` and ``zstd`` decoders take no output limit.
_ACCEPT_ENCODING = "gzip, deflate"

# The deadline (time.monotonic()) of the attempt the current thread or task is working on.
# Read by the network streams at every socket operation; set by the transports around
# every step that may touch the socket (sending the request, each body chunk).
_current_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar("interlink_deadline", default=None)


class DeadlineExceeded(httpx.ReadTimeout):
    """The peer did not finish its answer within the exchange's total deadline."""


class ResponseTooLarge(httpx.TransportError):
    """The answer is larger than the exchange allows; nothing past ``limit`` was buffered."""

    def __init__(self, url: Any, limit: int, *, request: httpx.Request | None = None) -> None:
        self.url = str(url)
        self.limit = limit
        super().__init__(f"the answer from {redact_url(self.url)} is over the limit of {limit} bytes", request=request)


def deadline_for(request: httpx.Request) -> float | None:
    """Seconds one attempt of ``request`` may take: its ``DEADLINE`` extension, else the
    largest of its httpx timeouts; None for no deadline."""
    extensions = request.extensions
    if DEADLINE in extensions:
        seconds = extensions[DEADLINE]
        return None if seconds is None else float(seconds)
    timeouts = extensions.get("timeout") or {}
    values = [v for v in timeouts.values() if v is not None]
    return max(values) if values else None


def _limit_for(request: httpx.Request, default: int | None) -> int | None:
    extensions = request.extensions
    if MAX_RESPONSE_BYTES in extensions:
        limit = extensions[MAX_RESPONSE_BYTES]
        return None if limit is None else int(limit)
    return default


def _clip(timeout: float | None, error: type[Exception]) -> float | None:
    """``timeout`` shortened to the time left before the current deadline."""
    deadline = _current_deadline.get()
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise error("the exchange's deadline has passed")
    return left if timeout is None else min(timeout, left)


def _expired(error: httpx.TimeoutException, deadline: float | None, request: httpx.Request) -> Exception:
    """A timeout at the deadline is the deadline's; an earlier one stays what it was."""
    if deadline is not None and time.monotonic() >= deadline - 0.001:
        url = redact_url(request.url)
        return DeadlineExceeded(f"the answer from {url} did not arrive in full before the exchange's deadline", request=request)
    return error


@contextlib.contextmanager
def _deadline_scope(deadline: float | None) -> Iterator[None]:
    if deadline is None:
        yield
        return
    outer = _current_deadline.get()
    token = _current_deadline.set(deadline if outer is None else min(outer, deadline))
    try:
        yield
    finally:
        _current_deadline.reset(token)


# -- network backends: every socket operation's timeout clipped to the deadline ------------


class _DeadlineStream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _clip(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _clip(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None) -> httpcore.NetworkStream:
        return _DeadlineStream(self._inner.start_tls(ssl_context, server_hostname, _clip(timeout, httpcore.ConnectTimeout)))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    def __init__(self, inner: httpcore.NetworkBackend) -> None:
        self._inner = inner

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
        clipped = _clip(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(self._inner.connect_tcp(host, port, clipped, local_address, socket_options))

    def connect_unix_socket(self, path: str, timeout: float | None = None,
                            socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
        return _DeadlineStream(self._inner.connect_unix_socket(path, _clip(timeout, httpcore.ConnectTimeout), socket_options))

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class _AsyncDeadlineStream(httpcore.AsyncNetworkStream):
    def __init__(self, inner: httpcore.AsyncNetworkStream) -> None:
        self._inner = inner

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return await self._inner.read(max_bytes, _clip(timeout, httpcore.ReadTimeout))

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        await self._inner.write(buffer, _clip(timeout, httpcore.WriteTimeout))

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def start_tls(self, ssl_context: Any, server_hostname: str | None = None,
                        timeout: float | None = None) -> httpcore.AsyncNetworkStream:
        clipped = _clip(timeout, httpcore.ConnectTimeout)
        return _AsyncDeadlineStream(await self._inner.start_tls(ssl_context, server_hostname, clipped))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _AsyncDeadlineBackend(httpcore.AsyncNetworkBackend):
    def __init__(self, inner: httpcore.AsyncNetworkBackend) -> None:
        self._inner = inner

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                          socket_options: Iterable[Any] | None = None) -> httpcore.AsyncNetworkStream:
        clipped = _clip(timeout, httpcore.ConnectTimeout)
        return _AsyncDeadlineStream(await self._inner.connect_tcp(host, port, clipped, local_address, socket_options))

    async def connect_unix_socket(self, path: str, timeout: float | None = None,
                                  socket_options: Iterable[Any] | None = None) -> httpcore.AsyncNetworkStream:
        clipped = _clip(timeout, httpcore.ConnectTimeout)
        return _AsyncDeadlineStream(await self._inner.connect_unix_socket(path, clipped, socket_options))

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def _clip_sockets_of(transport: Any, backend_class: type) -> None:
    # httpx's own transports keep their httpcore pool in ``_pool``; its network backend is
    # where every socket is made. Other transports (ASGI, mock, a user's) get the deadline
    # between body chunks only.
    pool = getattr(transport, "_pool", None)
    backend = getattr(pool, "_network_backend", None)
    if backend is not None and not isinstance(backend, (_DeadlineBackend, _AsyncDeadlineBackend)):
        pool._network_backend = backend_class(backend)  # type: ignore[union-attr]


# -- the body: decoded in bounded pieces, counted, cut at the deadline ---------------------


class _Decoder:
    """gzip/deflate decoded with bounded output per step (``identity``: passed through)."""

    def __init__(self, encoding: str) -> None:
        self.encoding = encoding
        if encoding in ("gzip", "x-gzip"):
            self._zlib: Any = zlib.decompressobj(zlib.MAX_WBITS | 16)
        elif encoding == "deflate":
            self._zlib = zlib.decompressobj()
            self._first = True
        else:
            self._zlib = None

    def decode(self, data: bytes) -> Iterator[bytes]:
        if self._zlib is None:
            if data:
                yield data
            return
        if self.encoding == "deflate" and self._first and data:
            self._first = False
            try:  # "deflate" is zlib-wrapped by the standard, raw by some servers
                probe = zlib.decompressobj()
                probe.decompress(data[:2])
            except zlib.error:
                self._zlib = zlib.decompressobj(-zlib.MAX_WBITS)
        while data:
            try:
                piece = self._zlib.decompress(data, _PIECE)
            except zlib.error as exc:
                raise httpx.DecodingError(f"the answer's {self.encoding} body does not decode: {exc}") from None
            data = self._zlib.unconsumed_tail
            if piece:
                yield piece
            elif not data:
                break

    def flush(self) -> bytes:
        if self._zlib is None:
            return b""
        try:
            tail: bytes = self._zlib.flush()
            return tail
        except zlib.error as exc:  # pragma: no cover - flush after complete input rarely fails
            raise httpx.DecodingError(f"the answer's {self.encoding} body does not decode: {exc}") from None


class _Budget:
    """What both body streams share: the deadline, the byte count and the decoder; no I/O."""

    def __init__(self, request: httpx.Request, deadline: float | None, limit: int | None, decoder: _Decoder) -> None:
        self.request = request
        self.deadline = deadline
        self.limit = limit
        self.decoder = decoder
        self.seen = 0

    def check_time(self) -> None:
        if self.deadline is not None and time.monotonic() >= self.deadline:
            raise _expired(httpx.ReadTimeout("", request=self.request), self.deadline, self.request)

    def expired(self, error: httpx.TimeoutException) -> Exception:
        return _expired(error, self.deadline, self.request)

    def pieces(self, chunk: bytes) -> Iterator[bytes]:
        for piece in self.decoder.decode(chunk):
            yield self.count(piece)

    def count(self, piece: bytes) -> bytes:
        self.seen += len(piece)
        if self.limit is not None and self.seen > self.limit:
            raise ResponseTooLarge(self.request.url, self.limit, request=self.request)
        return piece


class _BoundedStream(httpx.SyncByteStream):
    def __init__(self, inner: Any, budget: _Budget) -> None:
        self._inner = inner
        self._budget = budget

    def __iter__(self) -> Iterator[bytes]:
        budget = self._budget
        chunks = iter(self._inner)
        while True:
            budget.check_time()
            try:
                with _deadline_scope(budget.deadline):
                    chunk = next(chunks, None)
            except httpx.TimeoutException as exc:
                raise budget.expired(exc) from None
            if chunk is None:
                break
            yield from budget.pieces(chunk)
        if tail := budget.decoder.flush():
            yield budget.count(tail)

    def close(self) -> None:
        self._inner.close()


class _AsyncBoundedStream(httpx.AsyncByteStream):
    def __init__(self, inner: Any, budget: _Budget) -> None:
        self._inner = inner
        self._budget = budget

    async def __aiter__(self) -> AsyncIterator[bytes]:
        budget = self._budget
        chunks = self._inner.__aiter__()
        while True:
            budget.check_time()
            try:
                with _deadline_scope(budget.deadline):
                    chunk = await chunks.__anext__()
            except StopAsyncIteration:
                break
            except httpx.TimeoutException as exc:
                raise budget.expired(exc) from None
            for piece in budget.pieces(chunk):
                yield piece
        if tail := budget.decoder.flush():
            yield budget.count(tail)

    async def aclose(self) -> None:
        await self._inner.aclose()


# -- the transports ------------------------------------------------------------------------


class _Bounds:
    """What both transports share: reading the bounds of a request, preparing it, and
    wrapping the answer. No I/O."""

    def __init__(self, deadline: float | None, max_response_bytes: int | None) -> None:
        self.deadline = deadline
        self.max_response_bytes = max_response_bytes

    def start(self, request: httpx.Request) -> float | None:
        """The attempt's deadline (monotonic), with the request limited to what we decode."""
        if "accept-encoding" in request.headers:
            request.headers["accept-encoding"] = _ACCEPT_ENCODING
        seconds = self.deadline if DEADLINE not in request.extensions and self.deadline is not None else deadline_for(request)
        if seconds is None or math.isinf(seconds):
            return None
        return time.monotonic() + seconds

    def bounded(self, request: httpx.Request, response: httpx.Response, deadline: float | None, stream_class: type) -> httpx.Response:
        limit = _limit_for(request, self.max_response_bytes)
        headers = response.headers
        encoding = headers.get("content-encoding", "identity").strip().lower() or "identity"
        if encoding not in ("identity", "gzip", "x-gzip", "deflate"):
            raise httpx.DecodingError(f"the answer's content-encoding {encoding!r} was not asked for", request=request)
        if encoding == "identity" and limit is not None:
            length = headers.get("content-length", "")
            if length.isdigit() and int(length) > limit:
                raise ResponseTooLarge(request.url, limit, request=request)
        if encoding != "identity":
            # Decoded here, so httpx sees the plain body; its length is no longer the header's.
            del headers["content-encoding"]
            if "content-length" in headers:
                del headers["content-length"]
        response.stream = stream_class(response.stream, _Budget(request, deadline, limit, _Decoder(encoding)))
        return response



class BoundedTransport(_Bounds, httpx.BaseTransport):
    """Bounds every exchange through ``inner`` (default: a new ``httpx.HTTPTransport``).

    ``deadline``: seconds per attempt for requests without a ``DEADLINE`` extension (None:
    the request's largest timeout). ``max_response_bytes``: for requests without a
    ``MAX_RESPONSE_BYTES`` extension (None: no bound).
    """

    def __init__(self, inner: httpx.BaseTransport | None = None, *, deadline: float | None = None,
                 max_response_bytes: int | None = DEFAULT_MAX_RESPONSE_BYTES) -> None:
        super().__init__(deadline, max_response_bytes)
        self.inner = inner if inner is not None else httpx.HTTPTransport()
        _clip_sockets_of(self.inner, _DeadlineBackend)

    @classmethod
    def over(cls, *, deadline: float | None = None, max_response_bytes: int | None = DEFAULT_MAX_RESPONSE_BYTES,
             **transport_kwargs: Any) -> BoundedTransport:
        """A bounded ``httpx.HTTPTransport(**transport_kwargs)``."""
        return cls(httpx.HTTPTransport(**transport_kwargs), deadline=deadline, max_response_bytes=max_response_bytes)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        deadline = self.start(request)
        try:
            with _deadline_scope(deadline):
                response = self.inner.handle_request(request)
        except httpx.TimeoutException as exc:
            raise _expired(exc, deadline, request) from None
        try:
            return self.bounded(request, response, deadline, _BoundedStream)
        except BaseException:
            response.close()
            raise

    def close(self) -> None:
        self.inner.close()


class AsyncBoundedTransport(_Bounds, httpx.AsyncBaseTransport):
    """The async twin of :class:`BoundedTransport`."""

    def __init__(self, inner: httpx.AsyncBaseTransport | None = None, *, deadline: float | None = None,
                 max_response_bytes: int | None = DEFAULT_MAX_RESPONSE_BYTES) -> None:
        super().__init__(deadline, max_response_bytes)
        self.inner = inner if inner is not None else httpx.AsyncHTTPTransport()
        _clip_sockets_of(self.inner, _AsyncDeadlineBackend)

    @classmethod
    def over(cls, *, deadline: float | None = None, max_response_bytes: int | None = DEFAULT_MAX_RESPONSE_BYTES,
             **transport_kwargs: Any) -> AsyncBoundedTransport:
        """A bounded ``httpx.AsyncHTTPTransport(**transport_kwargs)``."""
        return cls(httpx.AsyncHTTPTransport(**transport_kwargs), deadline=deadline, max_response_bytes=max_response_bytes)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        deadline = self.start(request)
        try:
            with _deadline_scope(deadline):
                response = await self.inner.handle_async_request(request)
        except httpx.TimeoutException as exc:
            raise _expired(exc, deadline, request) from None
        try:
            return self.bounded(request, response, deadline, _AsyncBoundedStream)
        except BaseException:
            await response.aclose()
            raise

    async def aclose(self) -> None:
        await self.inner.aclose()


# -- excerpts ------------------------------------------------------------------------------


def read_at_most(response: httpx.Response, n: int) -> bytes:
    """Up to ``n`` decoded bytes of a streamed ``response``, which is then closed."""
    parts: list[bytes] = []
    size = 0
    try:
        for chunk in response.iter_bytes():
            parts.append(chunk[: n - size])
            size += len(parts[-1])
            if size >= n:
                break
    finally:
        response.close()
    return b"".join(parts)


async def aread_at_most(response: httpx.Response, n: int) -> bytes:
    """Up to ``n`` decoded bytes of a streamed ``response``, which is then closed."""
    parts: list[bytes] = []
    size = 0
    try:
        async for chunk in response.aiter_bytes():
            parts.append(chunk[: n - size])
            size += len(parts[-1])
            if size >= n:
                break
    finally:
        await response.aclose()
    return b"".join(parts)
