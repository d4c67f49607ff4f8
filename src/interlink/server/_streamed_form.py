"""A multipart body read as the method asks for it: the fields first, then one file, streamed.

For a method with a ``FileStream`` parameter the ASGI shell does not read the body before the
call. It reads the text fields up to the file part's headers — so the pipeline checks the
credentials and decodes the other arguments before the file's bytes are taken in — and then
hands the method a ``FileStream`` whose every read pulls the next chunk from the connection
through python-multipart's incremental parser. Nothing is spooled: memory holds one chunk.

Bounds: the whole body (``max_upload_size``), the text fields together (``max_body_size``),
the number of parts, each part's headers (count and size), and time: the whole body within
``upload_timeout`` seconds and never ``upload_idle_timeout`` seconds without a byte, so a
caller dripping the body cannot hold the method for ever.

Before the method runs a failure is raised as the ApiError to answer; once it reads, the
failure is kept in ``failure`` and the method sees ``UploadCut``: the shell then answers with
the failure (nothing, when the caller went away) whatever the method did with the exception.
"""

from __future__ import annotations

import asyncio
import collections
from time import monotonic
from typing import Any

import anyio
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

from interlink.errors import ApiError, BadArguments, PayloadTooLarge, RequestTimeout
from interlink.wire import MAX_FIELDS, FileStream, UploadCut

from ._body import ClientDisconnected, Pairs
from .types import Message, Receive

__all__ = ["StreamedForm", "UploadLimits", "boundary_of"]

#: headers of one part: how many, and how long each line may be
MAX_PART_HEADERS = 8
MAX_PART_HEADER_SIZE = 4096


class UploadLimits:
    """What a streamed body may cost: bytes in all, bytes of text fields, and time."""

    __slots__ = ("max_size", "max_fields_size", "timeout", "idle_timeout")

    def __init__(self, max_size: int, max_fields_size: int, timeout: float, idle_timeout: float) -> None:
        self.max_size = max_size
        self.max_fields_size = max_fields_size
        self.timeout = timeout
        self.idle_timeout = idle_timeout


def boundary_of(content_type: bytes) -> bytes:
    """The multipart boundary of a ``Content-Type`` header's value; a 400 without one."""
    _, options = parse_options_header(content_type)
    boundary = options.get(b"boundary")
    if not boundary:
        raise BadArguments("a multipart/form-data body needs a boundary in its Content-Type")
    return boundary


class StreamedForm:
    """One streamed multipart body: ``await fields()``, then the method reads the FileStream."""

    def __init__(self, receive: Receive, boundary: bytes, stream_field: str, limits: UploadLimits) -> None:
        self.receive = receive
        self.stream_field = stream_field
        self.limits = limits
        self.deadline = monotonic() + limits.timeout
        #: what ended the upload early, answered by the shell after the method: an ApiError, or
        #: ClientDisconnected when there is nobody to answer
        self.failure: ApiError | ClientDisconnected | None = None
        self.stream: FileStream | None = None
        self.pairs: Pairs = []
        self._size = 0
        self._more = True
        self._parts = 0
        self._fields_size = 0
        # the part being parsed
        self._header_name = bytearray()
        self._header_value = bytearray()
        self._disposition = b""
        self._part_type = b""
        self._text: bytearray | None = None
        self._part_name = ""
        # the file's chunks parsed but not yet read, and where the body is
        self._file: collections.deque[bytes] = collections.deque()
        self._file_ended = False
        self._body_ended = False
        self._deferred: ApiError | None = None
        # the wait for each message is bounded by one timer, moved on lazily (_receive_within)
        self._loop = _running_asyncio_loop()
        self._timer: asyncio.TimerHandle | None = None
        self._expiry = 0.0
        self._waiter: asyncio.Task[Any] | None = None
        self._expired = False
        try:
            self.parser = MultipartParser(
                boundary,
                {
                    "on_part_begin": self._part_begin,
                    "on_header_field": self._header_field,
                    "on_header_value": self._header_value_data,
                    "on_header_end": self._header_end,
                    "on_headers_finished": self._headers_finished,
                    "on_part_data": self._part_data,
                    "on_part_end": self._part_end,
                    "on_end": self._end,
                },
                max_header_count=MAX_PART_HEADERS,
                max_header_size=MAX_PART_HEADER_SIZE,
            )
        except Exception as exc:  # a boundary too long
            raise BadArguments(f"malformed multipart body: {exc}") from None

    # -- before the call: the fields -------------------------------------------------------

    async def fields(self) -> Pairs:
        """The text fields before the file part (with the FileStream last, if the file part
        came); raises the ApiError to answer, or ClientDisconnected."""
        while self.stream is None and not self._body_ended:
            body = await self._receive()
            if body is None:
                raise BadArguments("the multipart body ended before its closing boundary")
            try:
                self._write(body)
            except ApiError as exc:
                if not self._file_began():  # (a call: the parser's callbacks may have set it)
                    raise
                # The file part began in this chunk and something after it is wrong: the
                # method is called, and meets the error once it has read the file's bytes.
                self._deferred = exc
        if self.stream is not None:
            return [*self.pairs, (self.stream_field, self.stream)]
        return self.pairs

    def _file_began(self) -> bool:
        return self.stream is not None

    def names_before_file(self) -> set[str]:
        """The top-level names of the fields that came before the file part."""
        return {name.split(".", 1)[0].split("[", 1)[0] for name, _ in self.pairs}

    # -- while the method reads: the file ----------------------------------------------------

    async def _next_file_chunk(self) -> bytes:
        if self.failure is not None:
            raise UploadCut(_describe(self.failure))
        try:
            while True:
                if self._file:
                    return self._file.popleft()
                if self._deferred is not None:
                    raise self._deferred
                if self._file_ended:
                    # The file's end is the upload's only if the body closes properly after it.
                    while not self._body_ended:
                        body = await self._receive()
                        if body is None:
                            raise BadArguments("the multipart body ended before its closing boundary")
                        self._write(body)
                    while await self._receive() is not None:  # an epilogue, within the limits
                        pass
                    return b""
                body = await self._receive()
                if body is None:
                    raise BadArguments(f"the body ended in the middle of the file {self.stream_field!r}",
                                       field=self.stream_field)
                self._write(body)
        except (ApiError, ClientDisconnected) as exc:
            self.failure = exc
            raise UploadCut(_describe(exc)) from None

    # -- reading and parsing ------------------------------------------------------------------

    async def _receive(self) -> bytes | None:
        """The next chunk of the body; None once it has all arrived."""
        if not self._more:
            return None
        wait = min(self.limits.idle_timeout, self.deadline - monotonic())
        message = await self._receive_within(wait) if wait > 0 else None
        if message is None:
            raise RequestTimeout(
                f"the upload was not sent in time: at most {self.limits.timeout:g} s in all and "
                f"{self.limits.idle_timeout:g} s without data"
            )
        if message["type"] == "http.disconnect":
            raise ClientDisconnected
        body: bytes = message.get("body", b"")
        self._size += len(body)
        if self._size > self.limits.max_size:
            raise PayloadTooLarge.over(self.limits.max_size)
        self._more = bool(message.get("more_body", False))
        if not self._more:
            self._stop_timer()
        return body

    async def _receive_within(self, seconds: float) -> Message | None:
        """The next ASGI message, or None after ``seconds`` without one."""
        loop = self._loop
        if loop is None:  # trio: anyio's cancel scope
            with anyio.move_on_after(seconds):
                return await self.receive()
            return None
        # On asyncio a timeout or cancel scope for each message costs as much as the rest of a
        # chunk's Python work (a timer set and cancelled, the running loop looked up several
        # times). One timer serves the whole body instead: each wait only moves its expiry on,
        # and the timer, when it fires early, sets itself again for the expiry as it now is.
        self._expiry = loop.time() + seconds
        if self._timer is None:
            self._timer = loop.call_at(self._expiry, self._timer_fired)
        self._expired = False
        self._waiter = task = asyncio.current_task(loop)
        try:
            return await self.receive()
        except asyncio.CancelledError:
            if self._expired and task is not None and task.uncancel() == 0:
                return None  # the timer's own cancellation, nothing else's
            raise
        finally:
            self._waiter = None

    def _timer_fired(self) -> None:
        self._timer = None
        if self._waiter is None or self._loop is None:
            return  # not waiting: the next wait sets it again
        if self._loop.time() < self._expiry:
            self._timer = self._loop.call_at(self._expiry, self._timer_fired)
            return
        self._expired = True
        self._waiter.cancel()

    def close(self) -> None:
        """Done with the body, read to its end or not: its timer goes, so the loop does not keep
        this form (and what ``receive`` holds unread) until the idle time is up."""
        self._stop_timer()

    def _stop_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _write(self, body: bytes) -> None:
        try:
            self.parser.write(body)
        except MultipartParseError as exc:
            raise BadArguments(f"malformed multipart body: {exc}") from None

    # parser callbacks: they run inside parser.write and raise the ApiError that stops it

    def _part_begin(self) -> None:
        if self.stream is not None:
            raise BadArguments(
                f"the file {self.stream_field!r} must be the last part of the body", field=self.stream_field
            )
        self._parts += 1
        if self._parts > MAX_FIELDS:
            raise BadArguments(f"the form body has more than {MAX_FIELDS} fields")
        self._disposition = self._part_type = b""
        self._text = None

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def _header_value_data(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def _header_end(self) -> None:
        name = bytes(self._header_name).strip().lower()
        if name == b"content-disposition":
            self._disposition = bytes(self._header_value)
        elif name == b"content-type":
            self._part_type = bytes(self._header_value).strip()
        self._header_name.clear()
        self._header_value.clear()

    def _headers_finished(self) -> None:
        _, options = parse_options_header(self._disposition)
        raw_name = options.get(b"name")
        if raw_name is None:
            raise BadArguments("a multipart part has no name in its Content-Disposition")
        name = raw_name.decode("utf-8", "replace")
        filename = options.get(b"filename")
        if name == self.stream_field:
            content_type = self._part_type.decode("latin-1") or "application/octet-stream"
            self.stream = FileStream(
                self._next_file_chunk,
                filename=(filename or b"upload").decode("utf-8", "replace"),
                content_type=content_type,
            )
            return
        if filename is not None:
            raise BadArguments(
                f"{name!r} is a file, but this method streams one file only, {self.stream_field!r}",
                field=name,
            )
        self._part_name = name
        self._text = bytearray()

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self._text is not None:
            self._fields_size += end - start
            if self._fields_size > self.limits.max_fields_size:
                raise PayloadTooLarge(
                    f"the fields before the file are larger than the limit of {self.limits.max_fields_size} bytes"
                )
            self._text += data[start:end]
        elif self.stream is not None and not self._file_ended:
            self._file.append(data[start:end])

    def _part_end(self) -> None:
        if self._text is not None:
            try:
                self.pairs.append((self._part_name, self._text.decode("utf-8")))
            except UnicodeDecodeError:
                raise BadArguments("a field is not valid UTF-8", field=self._part_name) from None
            self._text = None
        elif self.stream is not None:
            self._file_ended = True

    def _end(self) -> None:
        self._body_ended = True


def _running_asyncio_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:  # trio (through anyio)
        return None


def _describe(failure: ApiError | ClientDisconnected) -> str:
    if isinstance(failure, ApiError):
        return failure.message
    return "the caller went away before the end of the upload"
