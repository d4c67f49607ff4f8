"""An upload read while it arrives: ``FileStream``, and ``UploadCut`` for one that stopped short.

The wire only describes the value a method receives; the server's shell feeds it (a chunk
source it pulls from while the method reads), so nothing here does I/O of its own.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, ClassVar

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import core_schema

#: Where a FileStream's bytes come from: the next chunk of the file, b"" at its end.
ChunkSource = Callable[[], Awaitable[bytes]]


class UploadCut(Exception):
    """The upload stopped before its end: the caller went away, sent too much, too slowly, or a
    malformed body. What the method stored of it is partial and must not be kept; the server
    answers the caller (when it is still there) with what went wrong."""


class FilePart:
    """What pydantic sees of a file part (``FileUpload``, ``FileStream``): an instance of the
    class itself, shown in a JSON schema as a binary string (``_json_schema`` adds the title)."""

    __slots__ = ()
    _json_schema: ClassVar[dict[str, str]] = {}

    @classmethod
    def __get_pydantic_core_schema__(cls, source: type[Any], handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        return core_schema.is_instance_schema(cls)

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {"type": "string", "format": "binary", **cls._json_schema}


class FileStream(FilePart):
    """A file part read as it arrives: ``async for chunk in stream`` or ``await stream.read(n)``.

    The method runs once the arguments before the file part are checked; each read pulls the
    next bytes from the connection, so a method that writes them on keeps memory flat. A read
    that cannot finish the upload raises :class:`UploadCut`; ``complete`` turns true only once
    the whole file and the end of the body have arrived.
    """

    __slots__ = ("filename", "content_type", "received", "complete", "_source", "_buffer", "_ended")
    _json_schema = {"title": "FileStream",
                    "description": "a file part, sent after the other fields; read as it arrives"}

    def __init__(self, source: ChunkSource, filename: str = "upload", content_type: str = "application/octet-stream") -> None:
        self.filename = filename
        self.content_type = content_type
        #: bytes handed to the method so far
        self.received = 0
        #: True once the file ended and the body after it was well formed
        self.complete = False
        self._source = source
        self._buffer = b""
        self._ended = False

    async def _next(self) -> bytes:
        if self._ended:
            return b""
        chunk = await self._source()
        if not chunk:
            self._ended = True
            self.complete = True
        return chunk

    async def read(self, size: int = -1) -> bytes:
        """Up to ``size`` bytes (all the rest with -1: only for uploads known to be small);
        b"" at the end of a complete upload."""
        if size < 0:
            parts = [self._buffer]
            self._buffer = b""
            while chunk := await self._next():
                parts.append(chunk)
            data = b"".join(parts)
        else:
            while not self._buffer and not self._ended:
                self._buffer = await self._next()
            data, self._buffer = self._buffer[:size], self._buffer[size:]
        self.received += len(data)
        return data

    def __aiter__(self) -> FileStream:
        return self

    async def __anext__(self) -> bytes:
        if self._buffer:
            data, self._buffer = self._buffer, b""
        else:
            data = await self._next()
            if not data:
                raise StopAsyncIteration
        self.received += len(data)
        return data

    def __repr__(self) -> str:
        return f"FileStream(filename={self.filename!r}, content_type={self.content_type!r})"
