"""The two value types the wire knows by role rather than by structure."""

from __future__ import annotations

import io
import mimetypes
import os
from typing import IO, Any, ClassVar

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import core_schema

from ._limits import shorten
from ._stream import FilePart, FileStream


class Model:
    """Marker for classes sent over the wire as their ``api_id`` (users, roles, a site's own rows).

    Decoding turns the id back into an instance through a loader the server supplies, so the
    wire itself does no I/O. A class may also define ``from_api_id(cls, api_id)`` to load itself.
    """

    api_id: str
    api_id_prefix: ClassVar[str | None] = None

    @classmethod
    def __get_pydantic_core_schema__(cls, source: type[Any], handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        return core_schema.is_instance_schema(source)

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {"type": "string", "title": cls.__name__, "description": f"api_id of a {cls.__name__}"}


class FileUpload(FilePart):
    """A file sent in a multipart body: ``filename``, ``content_type`` and ``read()``.

    The client builds one from a path, bytes or a binary file object, and sends a file in
    chunks, never read whole (``content()``); the server hands the method one backed by the
    uploaded part.
    """

    __slots__ = ("filename", "content_type", "_file", "_data", "_start")
    _json_schema = {"title": "FileUpload"}

    def __init__(
        self,
        source: str | os.PathLike[str] | bytes | IO[bytes],
        filename: str | None = None,
        content_type: str | None = None,
    ) -> None:
        self._data: bytes | None = None
        self._file: IO[bytes] | None = None
        self._start: int | None = None  # where a seekable file's content starts
        if isinstance(source, bytes):
            self._data = source
            name = filename or "upload.bin"
        elif isinstance(source, (str, os.PathLike)):
            path = os.fspath(source)
            self._file = open(path, "rb")  # noqa: SIM115 - closed by close()/read()
            name = filename or os.path.basename(path)
        else:
            self._file = source
            name = filename or os.path.basename(str(getattr(source, "name", "") or "")) or "upload.bin"
        if self._file is not None:
            try:
                self._start = self._file.tell() if self._file.seekable() else None
            except (OSError, ValueError):
                self._start = None
        self.filename: str = name
        self.content_type: str = (
            content_type or mimetypes.guess_type(name)[0] or "application/octet-stream"
        )

    def read(self, size: int = -1) -> bytes:
        if self._data is not None:
            if size < 0:
                data, self._data = self._data, b""
            else:
                data, self._data = self._data[:size], self._data[size:]
            return data
        assert self._file is not None
        return self._file.read(size)

    def content(self) -> bytes | IO[bytes]:
        """What a client sends: the bytes, or the file rewound to where its content starts,
        for the HTTP client to read in chunks (so a file is sent again, to another server or
        after a retry, whole; a file object that cannot seek is sent once)."""
        if self._data is not None:
            return self._data
        assert self._file is not None
        if self._start is not None:
            self._file.seek(self._start)
        return self._file

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if self._file is None:
            raise io.UnsupportedOperation("in-memory upload cannot seek; read() it whole")
        return self._file.seek(offset, whence)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()

    def __repr__(self) -> str:
        return f"FileUpload(filename={self.filename!r}, content_type={self.content_type!r})"


FormValue = str | FileUpload | FileStream
"""The value of one form field or query pair: text, or a file from a multipart body (read
whole, or streamed to a method that takes a ``FileStream``)."""


class WireError(ValueError):
    """Input that does not fit the declared type; ``field`` is the dotted name at fault (a long
    name is cut short: it came from the caller and may be megabytes)."""

    def __init__(self, field: str, message: str) -> None:
        field = shorten(field)
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field
        self.message = message
