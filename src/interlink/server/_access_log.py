"""An access log line per HTTP request, formatted once and written in batches.

uvicorn's access log builds a ``logging.LogRecord`` per request, runs the record through
filters (ours redacts credentials with a regular expression) and a colourising formatter, and
writes and flushes the stream once per line. On a small API call that was a large share of the
server's time (docs/performance.md). ``AccessLog`` keeps the same information — client
address, method, path and query string, HTTP version, status — adds the duration, formats the
line with one f-string and appends it to a buffer that is written out by the event loop at
most every ``interval`` seconds (or when it is full) and at exit.

Credentials never reach the log: query-string fields whose name, *percent-decoded* and
case-folded, is a credential name (``authorisation``, ``password``, ...) have their value
replaced by ``[redacted]``, so ``?%61uthorisation=k-…:secret`` is redacted as well.
"""

from __future__ import annotations

import asyncio
import atexit
import re
import sys
import time
from collections.abc import Callable
from http import HTTPStatus
from typing import IO
from urllib.parse import quote

from interlink import urls as _urls

from .types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["AccessLog", "BufferedLines", "redact_query", "CREDENTIAL_NAMES"]

#: Query-string field names (decoded, case-folded) whose values are never logged: the one list
#: of ``interlink.urls``, which also redacts the URLs the CLI and the clients print.
CREDENTIAL_NAMES = _urls.CREDENTIAL_NAMES

_PHRASES = {s.value: f"{s.value} {s.phrase}" for s in HTTPStatus}
# Printable ASCII without space, quote and backslash: such a path needs no quoting.
_PLAIN = re.compile(r"[!#-\[\]-~]*")


def redact_query(query: str) -> str:
    """``query`` with the values of credential fields replaced by ``[redacted]``."""
    return _urls.redact_query(query, placeholder="[redacted]")


def _plain(text: str) -> str:
    """Text safe on one log line inside quotes: escaped unless it is plain printable ASCII."""
    if _PLAIN.fullmatch(text):
        return text
    return quote(text, safe="/:@!$&'()*+,;=%?-._~")


_PATHS: dict[str, str] = {}  # path -> _plain(path): an API's paths repeat


def _plain_path(path: str) -> str:
    shown = _PATHS.get(path)
    if shown is None:
        shown = _plain(path)
        if len(_PATHS) < 4096:
            _PATHS[path] = shown
    return shown


class BufferedLines:
    """Collects lines and writes them to ``stream`` in one write per ``interval`` seconds
    (scheduled on the running event loop) or whenever ``limit`` lines are waiting; what is
    left is written at exit. Called from the event loop's thread only."""

    def __init__(self, stream: IO[str] | None = None, interval: float = 0.1, limit: int = 512) -> None:
        self._stream = stream
        self.interval = interval
        self.limit = limit
        self._lines: list[str] = []
        self._timer: asyncio.TimerHandle | None = None
        atexit.register(self.flush)

    def __call__(self, line: str) -> None:
        lines = self._lines
        lines.append(line)
        if len(lines) >= self.limit:
            self.flush()
        elif self._timer is None:
            try:
                self._timer = asyncio.get_running_loop().call_later(self.interval, self.flush)
            except RuntimeError:  # no event loop: write at once
                self.flush()

    def flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self._lines:
            return
        text = "".join(self._lines)
        self._lines = []
        stream = self._stream or sys.stdout
        try:
            stream.write(text)
            stream.flush()
        except (OSError, ValueError):  # closed or broken stream: the lines are dropped
            pass


class AccessLog:
    """ASGI middleware: one line per HTTP request, e.g.
    ``INFO:     127.0.0.1:50412 - "POST /api/home/list_users HTTP/1.1" 200 OK 0.4 ms``.

    ``write`` receives each line (with its newline); the default batches them to standard
    output. Pass e.g. ``lambda line: logger.info(line.rstrip())`` to use logging instead, at
    the cost of a log record per request.
    """

    def __init__(self, app: ASGIApp, write: Callable[[str], None] | None = None) -> None:
        from ._api import ApiServer

        self.app = app
        self.write = write if write is not None else BufferedLines()
        # An ApiServer records its own method calls (it knows their status without a wrapper
        # around ``send``): it is handed this log directly; the rest goes through logged().
        self.api_server = app if isinstance(app, ApiServer) else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        api_server = self.api_server
        if api_server is not None:
            # Straight to the ApiServer's ASGI app, which writes the line itself: one coroutine
            # for a method call below this one instead of three (docs/performance.md).
            await api_server.app.logged_by(self, scope, receive, send)
            return
        await self.logged(self.app, scope, receive, send)

    def record(self, scope: Scope, status: int, seconds: float) -> None:
        """Write the line of a request that took ``seconds`` and was answered with ``status``
        (0: not at all)."""
        self.write(self.line(scope, status, seconds))

    async def logged(self, app: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
        """``app`` serving the request, its status read from what it sends, and the line written."""
        start = time.perf_counter()
        status = 0

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await app(scope, receive, send_status)
        except BaseException:
            if not status:
                status = 500  # uvicorn answers 500 for an app that raised before answering
            raise
        finally:
            self.write(self.line(scope, status, time.perf_counter() - start))

    @staticmethod
    def line(scope: Scope, status: int, seconds: float) -> str:
        client = scope.get("client")
        address = f"{client[0]}:{client[1]}" if client else "-"
        path = _plain_path(scope.get("root_path", "") + scope["path"])
        query: bytes = scope.get("query_string", b"")
        if query:
            path = f"{path}?{_plain(redact_query(query.decode('latin-1')))}"
        shown = _PHRASES.get(status, str(status)) if status else "- (no response)"
        return (
            f'INFO:     {address} - "{scope["method"]} {path} HTTP/{scope.get("http_version", "1.1")}" '
            f"{shown} {seconds * 1000:.1f} ms\n"
        )
