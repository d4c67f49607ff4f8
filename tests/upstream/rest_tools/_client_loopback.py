"""The fake-network helpers of rest-tools' client tests, as real loopback servers.

rest-tools mocks the network (``requests_mock``, ``httpretty``); interlink's client is on
httpx, which those libraries cannot see, and the project's tests run real peers anyway. So
``requests_mock`` here is a real HTTP server on 127.0.0.1 (Starlette under uvicorn) with the
same shape: ``requests_mock.post(path_or_url, content=bytes_or_callable, status_code=…)``
registers an answer, the callable gets ``(request, context)`` with ``request.body``/
``request.headers`` and may set ``context.status_code``; the returned matcher counts
``call_count``/``called``; ``requests_mock.last_request`` is the latest request. A URL's host
is ignored (only the path routes), so ``requests_mock.url`` stands where rest-tools wrote
``http://test``. ``body=[chunks]`` streams the chunks one by one (httpretty's
``streaming=True``); ``delay=`` answers late (in place of ``exc=Timeout``). A callable that
raises answers 500 (requests_mock raised it inside the client), and is recorded in
``requests_mock.errors``.
"""

from __future__ import annotations

import asyncio
import threading
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import jwt
import pytest

from servers import UvicornThread


@dataclass
class SeenRequest:
    method: str
    url: str
    path: str
    headers: Any  # case-insensitive, as requests' headers
    body: str | None


@dataclass
class Context:
    status_code: int = 200
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Matcher:
    method: str
    path: str
    content: Any = b""
    status_code: int = 200
    body: list[bytes] | None = None
    delay: float = 0.0
    call_count: int = 0

    @property
    def called(self) -> bool:
        return self.call_count > 0


class LoopbackMock:
    def __init__(self) -> None:
        self.url = ""
        self.matchers: dict[tuple[str, str], Matcher] = {}
        self.history: list[SeenRequest] = []
        self.errors: list[BaseException] = []
        self.lock = threading.Lock()

    def reset(self) -> None:
        with self.lock:
            self.matchers.clear()
            self.history.clear()
            self.errors.clear()

    # -- requests_mock's registration API ------------------------------------------------------
    def register(self, method: str, url: str, **kwargs: Any) -> Matcher:
        path = urllib.parse.urlsplit(url).path if "://" in url else url
        matcher = Matcher(method.upper(), path or "/", **kwargs)
        with self.lock:
            self.matchers[(matcher.method, matcher.path)] = matcher
        return matcher

    def get(self, url: str, **kwargs: Any) -> Matcher:
        return self.register("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> Matcher:
        return self.register("POST", url, **kwargs)

    @property
    def called(self) -> bool:
        return bool(self.history)

    @property
    def last_request(self) -> SeenRequest:
        return self.history[-1]

    # -- the server side ------------------------------------------------------------------------
    def app(self) -> Any:
        from starlette.applications import Starlette
        from starlette.requests import Request
        from starlette.responses import Response, StreamingResponse
        from starlette.routing import Route

        async def answer(request: Request) -> Response:
            raw = await request.body()
            seen = SeenRequest(request.method, str(request.url), request.url.path, httpx.Headers(request.headers.raw),
                               raw.decode("utf-8", "replace") if raw else None)
            with self.lock:
                self.history.append(seen)
                matcher = self.matchers.get((request.method, request.url.path))
                if matcher is not None:
                    matcher.call_count += 1
            if matcher is None:
                return Response(b"no answer registered", status_code=404)
            if matcher.delay:
                await asyncio.sleep(matcher.delay)
            if matcher.body is not None:
                chunks = list(matcher.body)

                async def stream() -> Any:
                    for chunk in chunks:
                        yield chunk
                        await asyncio.sleep(0)  # each chunk its own write

                return StreamingResponse(stream(), status_code=matcher.status_code)
            context = Context(status_code=matcher.status_code)
            content = matcher.content
            if callable(content):
                try:
                    content = content(seen, context)
                except Exception as exc:  # requests_mock raised it inside the client: a 500 here
                    self.errors.append(exc)
                    return Response(repr(exc).encode(), status_code=500)
            return Response(content, status_code=context.status_code, headers=context.headers)

        methods = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
        return Starlette(routes=[Route("/{path:path}", answer, methods=methods)])


@pytest.fixture(scope="session")
def _loopback_server() -> Iterator[LoopbackMock]:
    mock = LoopbackMock()
    server = UvicornThread(mock.app())
    mock.url = server.start()
    yield mock
    server.stop()


@pytest.fixture
def requests_mock(_loopback_server: LoopbackMock) -> Iterator[LoopbackMock]:
    _loopback_server.reset()
    yield _loopback_server
    _loopback_server.reset()


@pytest.fixture(scope="session")
def untrusted_tls_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """HTTPS on loopback with a certificate from a CA nobody trusts (an SSL error, for real)."""
    import trustme

    directory = tmp_path_factory.mktemp("untrusted")
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    cert.private_key_and_cert_chain_pem.write_to_path(str(directory / "server.pem"))
    mock = LoopbackMock()
    server = UvicornThread(mock.app(), ssl_certfile=str(directory / "server.pem"))
    yield server.start("https")
    server.stop()


class TokenMaker:
    """Mints tokens as rest-tools' ``Auth.create_token`` does (iss/sub/exp/nbf/iat and the
    given payload and headers), for the tests that need an issuer's tokens."""

    def __init__(self, secret: Any, issuer: str = "IceProd", algorithm: str = "HS512",
                 expiration: int = 31622400) -> None:
        self.secret = secret
        self.issuer = issuer
        self.algorithm = algorithm
        self.max_exp = expiration

    def create_token(self, subject: str, expiration: int | None = None, payload: dict[str, Any] | None = None,
                     headers: dict[str, Any] | None = None) -> str:
        exp = min(self.max_exp, expiration) if expiration else self.max_exp
        now = time.time()
        claims = dict(payload or {})
        claims.update({"iss": self.issuer, "sub": subject, "exp": now + exp, "nbf": now, "iat": now})
        return jwt.encode(claims, self.secret, algorithm=self.algorithm, headers=headers)
