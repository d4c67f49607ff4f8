"""The event loop ``interlink serve`` runs on: uvloop, but taking every waiting connection each
time the listening socket is ready.

Since libuv 1.45, uvloop accepts one connection per turn of the loop. A turn of a busy server
answers every request that has arrived, tens of milliseconds at 200 busy connections on one
core, so a burst of new connections is let in one per turn: measured with 200 connections
opened at once against a saturated server, the last twenty waited 0.5 to 2 s for their first
answer, while every other answer took under 0.2 s (docs/performance.md). asyncio's own loop
takes up to ``backlog`` connections per turn and has no such wait, but its turns cost more
than uvloop's and its answers are slower in the tail at ordinary load.

So this loop is uvloop with asyncio's way of accepting: the listening sockets are watched with
``add_reader`` and drained on each wake-up, and each accepted socket is handed to uvloop's
``connect_accepted_socket``, which serves it exactly as uvloop serves the connections it
accepts itself. TLS, Unix sockets and anything else unusual go to uvloop unchanged.

``interlink serve`` uses it by default (``--loop asyncio`` or ``--loop uvloop`` choose
otherwise); with uvicorn directly: ``uvicorn mysite:app --loop interlink.server:new_event_loop``.
Without uvloop installed it is asyncio's loop.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ssl import SSLContext

__all__ = ["new_event_loop"]

logger = logging.getLogger("interlink.server")

#: asyncio waits this long before accepting again after running out of file descriptors.
ACCEPT_RETRY_DELAY = 1.0
_OUT_OF_RESOURCES = (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM)


class _DrainingServer(asyncio.AbstractServer):
    """Listening TCP sockets whose waiting connections are all accepted at each wake-up."""

    def __init__(self, loop: asyncio.AbstractEventLoop, sockets: list[socket.socket],
                 protocol_factory: Callable[[], asyncio.BaseProtocol], backlog: int) -> None:
        self._loop = loop
        self._sockets = sockets
        self._protocol_factory = protocol_factory
        self._backlog = max(backlog, 1)
        self._serving = False
        self._closed: asyncio.Future[None] = loop.create_future()
        self._handing_over: set[asyncio.Task[None]] = set()  # referenced until done, or they may be collected

    @property
    def sockets(self) -> tuple[socket.socket, ...]:
        return tuple(self._sockets)

    def get_loop(self) -> asyncio.AbstractEventLoop:
        return self._loop

    def is_serving(self) -> bool:
        return self._serving

    async def start_serving(self) -> None:
        self._start()

    def _start(self) -> None:
        if self._serving or self._closed.done():
            return
        self._serving = True
        for sock in self._sockets:
            self._loop.add_reader(sock.fileno(), self._accept, sock)

    def _accept(self, sock: socket.socket) -> None:
        # At most `backlog` per wake-up, as asyncio does: the listening socket is
        # level-triggered, so whatever is left is taken at the next turn.
        for _ in range(self._backlog):
            try:
                connection, _ = sock.accept()
            except (BlockingIOError, InterruptedError, ConnectionAbortedError):
                return
            except OSError as error:
                if error.errno not in _OUT_OF_RESOURCES:
                    raise
                logger.warning("cannot accept connections (%s); trying again in %.0f s", error, ACCEPT_RETRY_DELAY)
                self._loop.remove_reader(sock.fileno())
                self._loop.call_later(ACCEPT_RETRY_DELAY, self._resume, sock)
                return
            connection.setblocking(False)
            task = self._loop.create_task(self._serve(connection))
            self._handing_over.add(task)
            task.add_done_callback(self._handing_over.discard)

    def _resume(self, sock: socket.socket) -> None:
        if self._serving:
            self._loop.add_reader(sock.fileno(), self._accept, sock)

    async def _serve(self, connection: socket.socket) -> None:
        try:
            await self._loop.connect_accepted_socket(self._protocol_factory, connection)
        except OSError:  # the client left before the transport was made
            connection.close()

    async def serve_forever(self) -> None:
        self._start()
        await asyncio.shield(self._closed)

    def close(self) -> None:
        if self._closed.done():
            return
        for sock in self._sockets:
            if self._serving:
                self._loop.remove_reader(sock.fileno())
            sock.close()
        self._serving = False
        self._closed.set_result(None)

    async def wait_closed(self) -> None:
        # uvicorn tracks and closes its connections itself; this server owns only the listeners.
        await asyncio.shield(self._closed)


def _listening_sockets(host: str | Iterable[str] | None, port: int | None, family: int, flags: int,
                       backlog: int, reuse_address: bool | None, reuse_port: bool | None) -> list[socket.socket]:
    hosts: list[str | None] = [host] if host is None or isinstance(host, str) else list(host)
    seen: set[object] = set()  # getaddrinfo's answers, each bound once
    sockets: list[socket.socket] = []
    try:
        for name in hosts:
            for info in socket.getaddrinfo(name or None, port, family, socket.SOCK_STREAM, 0, flags):
                if info in seen:
                    continue
                seen.add(info)
                af, kind, proto, _, address = info
                sock = socket.socket(af, kind, proto)
                sockets.append(sock)
                if reuse_address is not False:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                if reuse_port:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
                if af == socket.AF_INET6:
                    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                try:
                    sock.bind(address)
                except OSError as error:
                    raise OSError(error.errno, f"error while attempting to bind on address {address!r}: "
                                               f"{(error.strerror or str(error)).lower()}") from None
        for sock in sockets:
            sock.listen(backlog)
            sock.setblocking(False)
    except BaseException:
        for sock in sockets:
            sock.close()
        raise
    return sockets


def new_event_loop() -> asyncio.AbstractEventLoop:
    """A new event loop for a server: uvloop that accepts every waiting connection per turn, or
    asyncio's loop where uvloop is not installed."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()

    class DrainingLoop(uvloop.Loop):
        # uvloop's own create_server returns an AbstractServer, as this one does; typeshed's
        # AbstractEventLoop promises an asyncio.Server, which neither loop makes.
        async def create_server(  # type: ignore[override]
                self, protocol_factory: Callable[[], asyncio.BaseProtocol], host: str | Iterable[str] | None = None,
                port: int | None = None, *, family: int = socket.AF_UNSPEC, flags: int = socket.AI_PASSIVE,
                sock: socket.socket | None = None, backlog: int = 100, ssl: SSLContext | bool | None = None,
                reuse_address: bool | None = None, reuse_port: bool | None = None,
                start_serving: bool = True, **options: Any) -> asyncio.AbstractServer:
            unusual = ssl is not None or options or (sock is not None and sock.family not in (socket.AF_INET,
                                                                                                socket.AF_INET6))
            if unusual:
                # Handed on as given: uvloop's overloads spell out each combination separately.
                create: Callable[..., Awaitable[asyncio.AbstractServer]] = super().create_server
                return await create(
                    protocol_factory, host, port, family=family, flags=flags, sock=sock, backlog=backlog,
                    ssl=ssl, reuse_address=reuse_address, reuse_port=reuse_port, start_serving=start_serving,
                    **options)
            if sock is not None:  # bound by uvicorn (workers, --fd); listen() as asyncio's serving does
                sock.listen(backlog)
                sock.setblocking(False)
                sockets = [sock]
            else:
                sockets = _listening_sockets(host, port, family, flags, backlog, reuse_address, reuse_port)
            server = _DrainingServer(self, sockets, protocol_factory, backlog)
            if start_serving:
                server._start()
            return server

    return DrainingLoop()
