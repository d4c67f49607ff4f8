"""The HTTP/1.1 protocol ``interlink serve`` gives uvicorn: its httptools protocol, reading bodies
in larger pieces and copying them less.

uvicorn's own protocol takes what the event loop read (at most 256 kB, already copied once out
of the loop's buffer), copies the body from it (httptools' ``on_body``), appends that to a
``bytearray`` (a second copy), stops reading once 64 KiB wait there and copies the whole again
into the ``bytes`` of each ASGI message. For a large upload those copies and the turns of the
loop between 64 KiB messages cost more than reading the socket and writing the file.

This subclass changes three things and nothing about what is parsed or answered:

- the socket is read straight into a buffer of :data:`READ_SIZE` bytes (asyncio's and uvloop's
  ``BufferedProtocol``), one buffer for every connection of a thread: httptools copies each
  part it keeps out of it (headers, body pieces) before the next read;
- the body's pieces wait as the ``bytes`` httptools made, and a message hands them on joined
  (one piece, the usual case: no copy at all);
- reading pauses once more than :data:`HIGH_WATER` bytes of body wait for the application,
  instead of 64 KiB, so a message carries up to about a megabyte.

Memory per connection stays bounded: at most :data:`HIGH_WATER` plus one read of body waits.
Every limit on bodies (size, time) is the application's, as before.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from uvicorn._types import ASGIReceiveEvent, HTTPRequestEvent
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle

__all__ = ["HIGH_WATER", "READ_SIZE", "InterlinkHttpProtocol"]

#: bytes one read of the socket may bring in
READ_SIZE = 1024 * 1024
#: bytes of body waiting for the application past which the connection stops reading
HIGH_WATER = 1024 * 1024


class _ReadBuffer(threading.local):
    """The buffer reads land in, one per thread: an event loop runs in one thread, and httptools
    has copied what it keeps out of the buffer before the loop reads again (servers of tests
    and of sites that run several loops in threads each get their own)."""

    def __init__(self) -> None:
        self.view = memoryview(bytearray(READ_SIZE))


_read_buffer = _ReadBuffer()


class _BodyPiecesCycle(RequestResponseCycle):
    """uvicorn's request/response cycle with the body kept as the pieces httptools made."""

    pieces: list[bytes]
    waiting: int

    async def receive(self) -> ASGIReceiveEvent:
        # uvicorn's receive, with the pieces handed on instead of a copy of a bytearray
        if self.waiting_for_100_continue and not self.transport.is_closing():
            self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            self.waiting_for_100_continue = False
        if not self.disconnected and not self.response_complete:
            self.flow.resume_reading()
            await self.message_event.wait()
            self.message_event.clear()
        if self.disconnected or self.response_complete:
            return {"type": "http.disconnect"}
        pieces = self.pieces
        body = pieces[0] if len(pieces) == 1 else b"".join(pieces)
        pieces.clear()
        self.waiting = 0
        message: HTTPRequestEvent = {"type": "http.request", "body": body, "more_body": self.more_body}
        return message


class InterlinkHttpProtocol(HttpToolsProtocol, asyncio.BufferedProtocol):
    """uvicorn's httptools protocol reading into one buffer and handing bodies on in pieces of
    up to about a megabyte (the module's docstring says why)."""

    def get_buffer(self, sizehint: int) -> memoryview:
        return _read_buffer.view

    def buffer_updated(self, nbytes: int) -> None:
        # httptools reads a memoryview in place; what it passes on (URL, headers, body) are copies
        self.data_received(_read_buffer.view[:nbytes])  # type: ignore[arg-type]

    def on_headers_complete(self) -> None:
        cycle = self.cycle
        super().on_headers_complete()
        if self.cycle is not cycle:  # a new request's cycle (not an upgrade): ours, before any body
            self.cycle.__class__ = _BodyPiecesCycle
            self.cycle.pieces = []
            self.cycle.waiting = 0

    def on_body(self, body: bytes) -> None:
        cycle = self.cycle
        if (self.parser.should_upgrade() and self._should_upgrade()) or cycle.response_complete:
            return
        cycle.pieces.append(body)
        cycle.waiting += len(body)
        if cycle.waiting > HIGH_WATER:
            self.flow.pause_reading()
        cycle.message_event.set()

    cycle: Any  # uvicorn's annotation: RequestResponseCycle; every cycle of this protocol is a _BodyPiecesCycle
