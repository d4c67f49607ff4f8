"""The real network that replaces requests-mock in ape-pie's ported tests.

One HTTPS server on 127.0.0.1 (uvicorn, a trustme certificate that nothing trusts by
default) answers every method and path with ``200 ok`` and records what it received.
``recording()`` stands in for ``requests_mock.Mocker()``: ``m.request_history`` and
``m.last_request`` (``.url``, ``.method``, ``.headers``) are the requests the server saw
inside the block. The server is started once per session (``conftest.py``) because
hypothesis forbids function-scoped fixtures in ``@given`` tests.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any


@dataclass
class SeenRequest:
    url: str
    method: str
    headers: dict[str, str]


@dataclass
class Loopback:
    base_url: str = ""  # "https://127.0.0.1:PORT", set when the server is up
    ca_path: str = ""
    seen: list[SeenRequest] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


LOOPBACK = Loopback()


def app() -> Any:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    async def anything(request: Request) -> PlainTextResponse:
        with LOOPBACK.lock:
            LOOPBACK.seen.append(SeenRequest(str(request.url), request.method, dict(request.headers)))
        return PlainTextResponse("ok")

    methods = ["GET", "OPTIONS", "HEAD", "POST", "PUT", "PATCH", "DELETE"]
    return Starlette(routes=[Route("/{path:path}", anything, methods=methods)])


class Recording:
    def __init__(self, start: int) -> None:
        self._start = start

    @property
    def request_history(self) -> list[SeenRequest]:
        with LOOPBACK.lock:
            return LOOPBACK.seen[self._start:]

    @property
    def last_request(self) -> SeenRequest:
        return self.request_history[-1]

    def register_uri(self, *args: Any, **kwargs: Any) -> None:
        """requests-mock's registration: the real server already answers everything."""

    get = register_uri


@contextlib.contextmanager
def recording() -> Iterator[Recording]:
    with LOOPBACK.lock:
        start = len(LOOPBACK.seen)
    yield Recording(start)


def requests_mock_fixture() -> Recording:
    with LOOPBACK.lock:
        return Recording(len(LOOPBACK.seen))
