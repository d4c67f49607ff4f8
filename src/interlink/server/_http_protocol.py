"""The HTTP/1.1 protocol ``interlink serve`` gives uvicorn: uvicorn's httptools protocol, reading
bodies in larger pieces and copying them less.

uvicorn's own protocol takes what the event loop read (at most 256 kB, already copied once out
of the loop's buffer into ``bytes``), copies the body from it (httptools' ``on_body``), appends
that to a ``bytearray`` (a second copy), stops reading once 64 KiB wait there and copies the
whole again into the ``bytes`` of each ASGI message. For a large upload those copies and the
turns of the loop between 64 KiB messages cost more than reading the socket and writing the file.

Here, with nothing changed in what is parsed or answered:

- the socket is read straight into a buffer of :data:`READ_SIZE` bytes (a ``BufferedProtocol``,
  which asyncio's and uvloop's transports fill in place), one buffer for every connection of a
  thread: httptools copies each part it keeps (URL, headers, body pieces) out of it before the
  loop reads again;
- the body's pieces wait as the ``bytes`` httptools made, and each is handed on as one ASGI
  message, as it is: no copy at all. Pieces under :data:`SMALL_PIECE` in a row (a chunked
  body sent in tiny chunks) are gathered into one instead, as uvicorn's protocol does;
- reading pauses once more than :data:`HIGH_WATER` bytes of body wait for the application,
  instead of 64 KiB.

Memory per connection stays bounded: at most :data:`HIGH_WATER` plus one read of body waits,
in pieces of at least :data:`SMALL_PIECE` bytes or gathered ones (never a piece per byte).
Every limit on bodies (size, time) is the application's, as before. The classes rely on
uvicorn's httptools protocol and request cycle as they are (their attributes and callbacks):
``tests/test_http_protocol.py`` runs the streamed-upload tests through them.
"""

from __future__ import annotations

import asyncio
import collections
import functools
import threading
import weakref
from typing import TYPE_CHECKING, Any

from uvicorn._types import ASGIReceiveEvent, HTTPRequestEvent
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol, RequestResponseCycle
from uvicorn.server import ServerState

from ._answer import JSON_HEADERS, Headers
from .types import Receive, Scope, Send

if TYPE_CHECKING:
    from ._access_log import AccessLog
    from ._app import ApiApp

__all__ = ["HIGH_WATER", "READ_SIZE", "SMALL_PIECE", "InterlinkHttpProtocol"]

#: bytes one read of the socket may bring in
READ_SIZE = 256 * 1024
#: bytes of body waiting for the application past which the connection stops reading
HIGH_WATER = 256 * 1024
#: body pieces shorter than this are gathered (up to GATHERED bytes) instead of kept and handed
#: on one by one: a piece each would cost an object and an ASGI message per few bytes of body
SMALL_PIECE = 4 * 1024
GATHERED = 64 * 1024


class _ReadBuffer(threading.local):
    """The buffer reads land in, one per thread: an event loop runs in one thread, and httptools
    has copied what it keeps out of the buffer before the loop reads again (servers of tests
    and of sites that run several loops in threads each get their own)."""

    def __init__(self) -> None:
        self.view = memoryview(bytearray(READ_SIZE))


_read_buffer = _ReadBuffer()


class _Body:
    """One request's body as the pieces httptools made, each handed on as one ASGI message (no
    joining copy); ``receive`` replaces the request cycle's."""

    __slots__ = ("cycle", "pieces", "waiting")

    def __init__(self, cycle: RequestResponseCycle) -> None:
        # Weakly: the cycle holds this receive, and a reference cycle would leave each request's
        # objects to the garbage collector instead of freeing them when the request is done.
        self.cycle = weakref.ref(cycle)
        # the pieces as httptools made them, small ones in a row gathered into a bytearray
        self.pieces: collections.deque[bytes | bytearray] = collections.deque()
        self.waiting = 0  # bytes in pieces

    async def receive(self) -> ASGIReceiveEvent:
        # uvicorn's RequestResponseCycle.receive, but a piece already waiting is handed on at once
        cycle = self.cycle()
        if cycle is None:  # (only the cycle's own task calls this, and it holds the cycle)
            return {"type": "http.disconnect"}
        if cycle.waiting_for_100_continue and not cycle.transport.is_closing():
            cycle.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            cycle.waiting_for_100_continue = False
        if not cycle.disconnected and not cycle.response_complete:
            if not self.pieces:
                cycle.flow.resume_reading()
                await cycle.message_event.wait()
            cycle.message_event.clear()
        if cycle.disconnected or cycle.response_complete:
            return {"type": "http.disconnect"}
        piece = self.pieces.popleft() if self.pieces else b""
        self.waiting -= len(piece)
        body = bytes(piece) if isinstance(piece, bytearray) else piece  # (a gathered one: copied)
        if self.waiting <= HIGH_WATER and cycle.more_body:
            # More of this body may be read; once it has all come, what the connection reads is
            # the next request's (pipelined), which waits for its turn under its own high water.
            cycle.flow.resume_reading()
        message: HTTPRequestEvent = {"type": "http.request", "body": body,
                                     "more_body": cycle.more_body or bool(self.pieces)}
        return message


class _Turn(threading.local):
    """The answers written to during the current turn of this thread's event loop."""

    def __init__(self) -> None:
        self.loop: asyncio.AbstractEventLoop | None = None
        self.written: list[_AnswerWriter] = []


_turn = _Turn()

#: bytes of one answer past which they are sent at once, not at the end of the turn: the
#: transport's own flow control (``pause_writing``) then holds a large or streamed answer back
SEND_AT_ONCE = 64 * 1024


def _send_turn(written: list[_AnswerWriter]) -> None:
    for writer in written:
        writer.send()
    written.clear()


class _AnswerWriter:
    """One response's way to the connection: what it writes during a turn of the event loop
    leaves together at the end of that turn. uvicorn writes the head (status line and headers)
    on ``http.response.start`` and the body on ``http.response.body``: sent as written, a small
    answer costs two system calls and two TCP segments, and each, sent the moment it is ready,
    wakes the client again. Sent at the end of the turn, a small answer is one write, and the
    answers of the turn go out back to back (measured on an ``async def`` method: a quarter less
    server CPU per call). Nothing waits longer than the turn; a close sends what waits first."""

    __slots__ = ("loop", "pieces", "size", "transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self.transport = transport
        self.loop = loop
        self.pieces: list[bytes] = []
        self.size = 0

    def write(self, data: bytes) -> None:
        pieces = self.pieces
        if not pieces:
            turn = _turn
            if turn.loop is not self.loop:
                # A new loop in this thread (one closed before its turn ended left its list)
                turn.loop, turn.written = self.loop, []
            written = turn.written
            if not written:
                self.loop.call_soon(_send_turn, written)
            written.append(self)
        pieces.append(data)
        self.size += len(data)
        if self.size >= SEND_AT_ONCE:
            self.send()

    def send(self) -> None:
        pieces = self.pieces
        if pieces:
            data = pieces[0] if len(pieces) == 1 else b"".join(pieces)
            pieces.clear()
            self.size = 0
            if not self.transport.is_closing():
                self.transport.write(data)

    def close(self) -> None:
        self.send()
        self.transport.close()

    def is_closing(self) -> bool:
        return self.transport.is_closing()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.transport, name)


class _PiecesHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol keeping each request's body as pieces, up to :data:`HIGH_WATER`."""

    def __init__(self, config: Config, server_state: ServerState, app_state: dict[str, Any],
                 _loop: asyncio.AbstractEventLoop | None = None) -> None:
        self.request_body: _Body | None = None  # set before uvicorn's: one of the attributes made at first
        super().__init__(config, server_state, app_state, _loop)
        self.direct = _direct_target(self.app)

    def on_headers_complete(self) -> None:
        cycle = self.cycle
        super().on_headers_complete()
        if self.cycle is not cycle:
            # uvicorn made the new request's cycle; before any of its body, its receive becomes
            # ours (an attribute of the instance: run_asgi hands the application self.receive).
            # Not a change of the cycle's class: that would slow every attribute of it after.
            self.request_body = _Body(self.cycle)
            self.cycle.request_body = self.request_body  # type: ignore[attr-defined]  # for _call_directly
            self.cycle.receive = self.request_body.receive  # type: ignore[method-assign]
            self.cycle.transport = _AnswerWriter(self.transport, self.loop)  # type: ignore[assignment]

    def _start_asgi_task(self, cycle: RequestResponseCycle, app: Any) -> None:
        direct = self.direct
        # (uvicorn's own access log, when on, is written by its send: such calls go through it)
        if direct is not None and app is self.app and cycle.scope["method"] == "POST" and not cycle.access_log:
            api_app = direct[0]
            path = cycle.scope["path"]
            if path.startswith(api_app.prefix) and path != api_app.openapi_path:
                # A method call: answered by the ApiApp directly (uvicorn's request cycle still
                # runs it, with its error handling; see _call_directly)
                app = functools.partial(self._call_directly, cycle)
        super()._start_asgi_task(cycle, app)

    async def _call_directly(self, cycle: RequestResponseCycle, scope: Scope, receive: Receive, send: Send) -> None:
        """One method call of an ApiServer served by this protocol: ``ApiApp.answer``, the same
        as for every ASGI server, its answer written as bytes. The ASGI ``send`` of uvicorn's
        cycle checks every header of every answer against two regular expressions and works
        out the framing from them; here the headers are the ApiApp's own, known to be valid,
        and the framing is always a Content-Length: the same bytes, written with less work."""
        assert self.direct is not None
        api_app, log = self.direct
        body = None
        if not cycle.more_body and not cycle.waiting_for_100_continue:
            # the whole body has come: handed over as it is (uvicorn's receive would first
            # write "100 Continue" to a caller that asked for it, and so does ours)
            pieces = cycle.request_body.pieces  # type: ignore[attr-defined]
            if len(pieces) == 1 and type(pieces[0]) is bytes:
                body = pieces[0]
            elif not pieces:
                body = b""
        answer = await api_app.answer(scope, receive, scope["path"][len(api_app.prefix):], body, log)
        if answer is None:  # the caller went away
            return
        if cycle.flow.write_paused and not cycle.disconnected:
            await cycle.flow.drain()
        if not cycle.disconnected:  # (gone meanwhile: nothing to write, as uvicorn's send)
            _write_answer(cycle, *answer)

    # -- keep-alive: one timer per idle spell, not one per request -----------------------------
    # uvicorn cancels its keep-alive timer whenever the connection reads and makes a new one
    # after every answer: a timer made and cancelled per request. Here the timer, once armed,
    # stays; each answer only notes when the connection went idle, and a timer that fires early
    # (the connection was busy since) waits for the rest of the time. The same rule: a
    # connection idle for ``timeout_keep_alive`` seconds after its last answer is closed.

    idle_since: float | None = None

    def _unset_keepalive_if_required(self) -> None:
        self.idle_since = None  # busy: reading, or answering

    def on_response_complete(self) -> None:
        # uvicorn's, with the timer above
        self.server_state.total_requests += 1
        if self.transport.is_closing():
            return
        self.idle_since = None
        self.flow.resume_reading()
        if self.pipeline:
            cycle, app = self.pipeline.pop()
            self._start_asgi_task(cycle, app)
            return
        self.idle_since = self.loop.time()
        if self.timeout_keep_alive_task is None:
            self.timeout_keep_alive_task = self.loop.call_later(self.timeout_keep_alive,
                                                                self.timeout_keep_alive_handler)

    def timeout_keep_alive_handler(self) -> None:
        self.timeout_keep_alive_task = None
        idle_since = self.idle_since
        if idle_since is None or self.transport.is_closing():
            return  # busy: the next answer arms the timer again
        left = idle_since + self.timeout_keep_alive - self.loop.time()
        if left > 0:
            self.timeout_keep_alive_task = self.loop.call_later(left, self.timeout_keep_alive_handler)
        else:
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        if self.timeout_keep_alive_task is not None:
            self.timeout_keep_alive_task.cancel()
            self.timeout_keep_alive_task = None

    def _send_answer(self) -> None:
        # What the current answer wrote this turn, before the protocol itself writes or closes.
        writer = getattr(self.cycle, "transport", None)
        if type(writer) is _AnswerWriter:
            writer.send()

    def send_400_response(self, msg: str) -> None:
        self._send_answer()
        super().send_400_response(msg)

    def shutdown(self) -> None:
        self._send_answer()
        super().shutdown()

    def on_body(self, body: bytes) -> None:
        cycle = self.cycle
        if (self.parser.should_upgrade() and self._should_upgrade()) or cycle.response_complete:
            return
        request_body = self.request_body
        assert request_body is not None  # made with the cycle, in on_headers_complete
        pieces = request_body.pieces
        if (len(body) < SMALL_PIECE and pieces
                and len(pieces[-1]) < (GATHERED if type(pieces[-1]) is bytearray else SMALL_PIECE)):
            # a small piece after a small or gathered one joins it (a lone one is kept as it is)
            if type(pieces[-1]) is bytes:
                pieces[-1] = bytearray(pieces[-1])
            pieces[-1] += body
        else:
            pieces.append(body)
        request_body.waiting += len(body)
        if request_body.waiting > HIGH_WATER:
            self.flow.pause_reading()
        cycle.message_event.set()


class InterlinkHttpProtocol(asyncio.BufferedProtocol):
    """What uvicorn runs for each connection: reads land in the thread's buffer and go to an
    httptools protocol keeping bodies as pieces.

    A wrapper rather than a subclass: uvloop reads into a protocol's own buffer only when the
    protocol is not an ``asyncio.Protocol``, and uvicorn's is one. Upgrades (WebSocket) hand
    the transport to their own protocol, as uvicorn does.
    """

    __slots__ = ("http",)

    def __init__(self, config: Config, server_state: ServerState, app_state: dict[str, Any],
                 _loop: asyncio.AbstractEventLoop | None = None) -> None:
        self.http = _PiecesHttpToolsProtocol(config, server_state, app_state, _loop)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.http.connection_made(transport)  # type: ignore[arg-type]  # a Transport, as for uvicorn's

    def connection_lost(self, exc: Exception | None) -> None:
        self.http.connection_lost(exc)

    def eof_received(self) -> None:
        self.http.eof_received()  # None: the transport closes, as with uvicorn's own protocol

    def pause_writing(self) -> None:
        self.http.pause_writing()

    def resume_writing(self) -> None:
        self.http.resume_writing()

    def get_buffer(self, sizehint: int) -> memoryview:
        return _read_buffer.view

    def buffer_updated(self, nbytes: int) -> None:
        # httptools parses the memoryview in place; what it passes on (URL, headers, body
        # pieces) are copies, made before the next read reuses the buffer
        self.http.data_received(_read_buffer.view[:nbytes])  # type: ignore[arg-type]


def _direct_target(app: Any) -> tuple[ApiApp, AccessLog | None] | None:
    """The ApiApp whose method calls the protocol answers directly, and the access log they
    are written to: when uvicorn serves an ApiServer, bare or in interlink's AccessLog (as
    ``interlink serve`` does); None for any other application."""
    from ._access_log import AccessLog
    from ._api import ApiServer

    if isinstance(app, AccessLog) and app.api_server is not None:
        return app.api_server.app, app
    if isinstance(app, ApiServer):
        return app.app, None
    return None


def _write_answer(cycle: RequestResponseCycle, status: int, headers: Headers, body: bytes) -> None:
    """What uvicorn's ``send`` writes for a whole answer with a Content-Length (the default
    headers, ``server`` and ``date``, first; ``connection: close`` when the connection will
    not be kept), then what it does once the answer is complete."""
    cycle.response_started = True
    cycle.waiting_for_100_continue = False
    closes = headers is not JSON_HEADERS and any(name == b"connection" for name, _ in headers)
    if closes:  # the ApiApp sends only "connection: close"
        cycle.keep_alive = False
    head = [STATUS_LINE[status], _header_lines(cycle.default_headers), _header_lines(headers),
            b"content-length: ", str(len(body)).encode(), b"\r\n"]
    if not cycle.keep_alive and not closes:
        head.append(b"connection: close\r\n")
    head += (b"\r\n", body)
    transport = cycle.transport
    transport.write(b"".join(head))
    cycle.response_complete = True
    cycle.message_event.set()
    if not cycle.keep_alive:
        transport.close()
    cycle.on_response()


#: header lists already turned into lines, by identity: the default headers (a new list each
#: second, for its ``date``) and the ApiApp's JSON headers are the same list answer after answer
_header_lines_of: dict[int, tuple[Headers, bytes]] = {}


def _header_lines(headers: Headers) -> bytes:
    cached = _header_lines_of
    entry = cached.get(id(headers))
    if entry is not None and entry[0] is headers:
        return entry[1]
    lines = b"".join(b"%s: %s\r\n" % (name, value) for name, value in headers)
    if len(cached) >= 8:  # a few lists answer after answer; a new one each time is not kept long
        cached.clear()
    cached[id(headers)] = (headers, lines)
    return lines
