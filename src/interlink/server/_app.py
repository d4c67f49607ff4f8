"""The ASGI shell: method calls on a lean path, everything else through Starlette.

A method call is read here — the body once, into pairs (urlencoded, multipart) or a JSON
object, within ``max_body_size`` while it streams — handed to the framework-free pipeline
(``server/_pipeline.py``), and its answer sent: the result as JSON, or the ApiError's status and
one JSON shape. Anything else raised is our bug or the method's, and is a logged 500. Pages,
``/docs``, ``/api/openapi.json`` and the routes of extensions (site pages) go through Starlette.
"""

from __future__ import annotations

import contextlib
import gc
import logging
from time import perf_counter
from collections.abc import AsyncIterator, Awaitable
from typing import TYPE_CHECKING, Any

import anyio.to_thread
from starlette.applications import Starlette
from starlette.requests import Request as StarletteRequest
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from interlink.errors import ApiError, BadArguments, PayloadTooLarge
from interlink.identity import Authenticator, Backend

from ._access_log import AccessLog
from ._answer import INTERNAL_ERROR, JSON_HEADERS, Headers, error_answer
from ._authentication import Authentication
from ._body import (
    ClientDisconnected,
    Pairs,
    form_pairs,
    json_body,
    multipart_pairs,
    query_pairs,
    read_body,
    unsupported,
)
from ._docs import docs_routes
from ._openapi import openapi_document
from ._pipeline import Dispatch, Pipeline, Request, dumps
from ._ratelimit import FailureLimiter
from ._redaction import install_log_redaction
from ._results import ResultMismatch
from ._streamed_form import StreamedForm, UploadLimits, boundary_of
from ._threads import ThreadPool
from .types import Receive, Scope, Send

if TYPE_CHECKING:
    from ._api import ApiServer
    from ._client_address import ClientAddress
    from ._method import Method

__all__ = ["ApiApp", "AsgiRequest"]

logger = logging.getLogger("interlink.server")



_frozen = False


def _freeze_start_up() -> None:
    """Garbage collection tuned for a server, once per process (docs/performance.md).

    What start-up made (modules, the store's mappers, compiled methods: ~100,000 objects) lives
    as long as the process: it is frozen, kept out of the full collections, which otherwise walk
    all of it and stopped a busy server for ~60 ms about once a second. It is frozen after a
    collection, since frozen garbage in a cycle would never be freed.

    The young generation's threshold goes from Python's 700 to 10,000 new objects, unless it was
    set already: the calls in flight hold a few hundred objects between them, so at 700 the
    collector ran every few dozen calls, only to find them still alive (5 % of a served call).
    """
    global _frozen
    if not _frozen:
        _frozen = True
        gc.collect()
        gc.freeze()
        threshold = gc.get_threshold()
        if threshold[0] == 700:  # Python's default: nobody chose it
            gc.set_threshold(10_000, *threshold[1:])


class AsgiRequest(Request):
    """A Request read from an ASGI scope; its URL is put together only if asked for."""

    __slots__ = ("scope", "length")

    def __init__(self, scope: Scope, headers: list[tuple[bytes, bytes]], query: Pairs,
                 form: Pairs | None, json: dict[str, Any] | None, authorization: str | None,
                 client: str | None) -> None:
        self.scope = scope
        self.headers = headers
        self.query = query
        self.form = form
        self.json = json
        self.authorization = authorization
        self.client = client
        self.path = scope["path"]
        self.length: int | None = None  # the Content-Length header, if sent

    @property
    def url(self) -> str:
        scope = self.scope
        host = None
        for name, value in self.headers:
            if name == b"host":
                host = value.decode("latin-1")
                break
        if not host:
            server = scope.get("server") or ("localhost", None)
            host = server[0] if server[1] in (None, 80, 443) else f"{server[0]}:{server[1]}"
        query = scope.get("query_string", b"").decode("latin-1")
        url = f"{scope.get('scheme', 'http')}://{host}{scope.get('root_path', '')}{scope['path']}"
        return f"{url}?{query}" if query else url


class ApiApp:
    def __init__(self, api: ApiServer) -> None:
        self.api = api
        self.prefix = api.prefix + "/"
        self.openapi_path = self.prefix + "openapi.json"
        self.pipeline = Pipeline(api)
        routes: list[BaseRoute] = [Route(api.prefix + "/openapi.json", self.openapi, methods=["GET"])]
        if api.docs:
            routes += docs_routes(api.prefix + "/openapi.json", api.title)
        routes += api.routes
        # Extensions' routes (site pages) need what the extension is bound to at setup.
        extension_routes = [route for extension in api.extensions for route in extension.routes()]
        self.binds_routes = bool(extension_routes)
        self.site = Starlette(routes=routes + extension_routes, lifespan=self.lifespan)
        self._openapi: bytes | None = None

    # -- what the pipeline holds, by the names tests and tools have used ---------------------

    @property
    def backend(self) -> Backend | None:
        return self.pipeline.backend

    @property
    def authentication(self) -> Authentication | None:
        return self.pipeline.authentication

    @property
    def limiter(self) -> FailureLimiter:
        return self.pipeline.limiter

    @property
    def threads(self) -> ThreadPool:
        return self.pipeline.threads

    @property
    def client_address(self) -> ClientAddress:
        return self.pipeline.client_address

    @property
    def authenticator(self) -> Authenticator | None:
        """The backend's authenticator (after setup)."""
        backend = self.pipeline.backend
        return None if backend is None else backend.authenticator

    def add_method(self, method: Method) -> None:
        self.pipeline.add_method(method)
        self._openapi = None

    def invalidate(self) -> None:
        """The registry changed (an extension's declarations): compile and document it again."""
        self.pipeline.recompile()
        self._openapi = None

    # -- set-up -------------------------------------------------------------------------

    def setup(self) -> None:
        """Open the backend (store), bind the extensions, compile the methods; idempotent."""
        install_log_redaction()
        self.pipeline.setup()

    @contextlib.asynccontextmanager
    async def lifespan(self, app: Starlette) -> AsyncIterator[None]:
        await anyio.to_thread.run_sync(self.setup)
        _freeze_start_up()
        async with contextlib.AsyncExitStack() as stack:
            for extension in self.api.extensions:  # e.g. the callbacks' delivery worker
                await stack.enter_async_context(extension.lifespan())
            yield

    # -- ASGI ---------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.logged_by(None, scope, receive, send)  # (behind AccessLog: logged_by, directly)

    def logged_by(self, log: AccessLog | None, scope: Scope, receive: Receive, send: Send) -> Awaitable[int | None]:
        """Serve one ASGI connection, its line written to ``log``; what ``AccessLog`` calls.

        A plain function that returns the coroutine to await: a method call is one coroutine,
        ``call_method``, below the server's own (each layer is a frame and a resumption on
        every call, docs/performance.md)."""
        if scope["type"] == "http":
            path: str = scope["path"]
            if path.startswith(self.prefix) and path != self.openapi_path:
                return self.call_method(scope, receive, send, path[len(self.prefix) :], log)
        return self.serve_site(log, scope, receive, send)

    async def serve_site(self, log: AccessLog | None, scope: Scope, receive: Receive, send: Send) -> None:
        """Pages, ``/docs``, the OpenAPI document and extensions' routes: through Starlette."""
        if scope["type"] == "http":
            if self.binds_routes and not self.pipeline.ready:  # served without a lifespan
                await anyio.to_thread.run_sync(self.setup)
            if log is not None:
                await log.logged(self.site, scope, receive, send)
                return
        await self.site(scope, receive, send)

    async def call_method(self, scope: Scope, receive: Receive, send: Send, route: str,
                          log: AccessLog | None = None) -> int:
        """Answer one method call; the status sent (0 when the caller went away first).

        Behind interlink's ``AccessLog`` the line is written by ``answer``, where the status is
        known, instead of through a wrapper around every ``send``."""
        answer = await self.answer(scope, receive, route, log=log)
        if answer is None:
            return 0
        status, headers, body = answer
        await send({"type": "http.response.start", "status": status,
                    "headers": [*headers, (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})
        return status

    async def answer(self, scope: Scope, receive: Receive, route: str, body: bytes | None = None,
                     log: AccessLog | None = None) -> tuple[int, Headers, bytes] | None:
        """The status, headers (without Content-Length) and body that answer one method call,
        or None when the caller went away before it was read; what every HTTP shell of this app
        sends (``call_method`` as ASGI messages, interlink's HTTP protocol as bytes). ``body``:
        the whole request body when the shell already has it (a form or JSON call then reads
        nothing from ``receive``). The call's line goes to ``log``, where the status is known."""
        start = perf_counter() if log is not None else 0.0
        logged = 500  # if the call is cancelled or fails past its error handling
        headers = JSON_HEADERS
        pipeline = self.pipeline
        streamed = False
        try:
            try:
                dispatch = pipeline.find(route, scope["method"])
                if not pipeline.ready:
                    await anyio.to_thread.run_sync(self.setup)
                if dispatch.method.stream_parameter is None:
                    body = dumps(await pipeline.call(dispatch, await self.read_request(scope, receive, body=body)))
                else:
                    streamed = True
                    body = dumps(await self.call_streamed(dispatch, scope, receive))
                logged = 200
                return 200, headers, body
            except ApiError as exc:
                status, headers, body = error_answer(exc)
                if streamed and status in (408, 413):
                    # A streamed body too large or too slow: the rest is not worth reading
                    # (the server would read and drop it to keep the connection).
                    headers = [*headers, (b"connection", b"close")]
                logged = status
                return status, headers, body
            except ClientDisconnected:
                logged = 0
                return None
            except ResultMismatch as exc:
                logger.error("%s", exc)
            except Exception:
                logger.exception("error in %s", route.replace("/", "."))
            return 500, headers, INTERNAL_ERROR
        finally:
            if log is not None:
                log.record(scope, logged, perf_counter() - start)

    async def read_request(self, scope: Scope, receive: Receive, with_body: bool = True,
                           body: bytes | None = None) -> AsgiRequest:
        """The request's headers, query pairs and body (pairs or a JSON object), read once;
        with ``with_body=False`` the body is left to the caller (a streamed upload). ``body``:
        the whole body, when the shell has it already (a multipart one is read from
        ``receive`` all the same)."""
        raw_headers: list[tuple[bytes, bytes]] = scope["headers"]
        kind = ""
        length: int | None = None
        authorization: str | None = None
        for name, value in raw_headers:  # one pass for the three headers a call needs
            if name == b"content-type":
                kind = value.split(b";", 1)[0].strip().lower().decode("latin-1")
            elif name == b"content-length":
                try:
                    length = int(value)
                except ValueError:
                    raise BadArguments("Content-Length is not a number") from None
            elif name == b"authorization" and authorization is None:
                authorization = value.decode("latin-1")
        limit = self.api.max_body_size
        query_string: bytes = scope.get("query_string", b"")
        query = query_pairs(query_string) if query_string else []
        form: Pairs | None = None
        json_arguments: dict[str, Any] | None = None
        if not with_body:
            pass
        elif kind == "application/x-www-form-urlencoded" or (kind == "" and not length):
            if length is not None and length > limit:
                raise PayloadTooLarge.over(limit)
            if body is not None:
                if len(body) > limit:
                    raise PayloadTooLarge.over(limit)
            elif (message := await receive())["type"] == "http.request" and not message.get("more_body", False):
                # The whole body in one message (a small call): read here, no coroutine of its own.
                body = message.get("body", b"")
                if len(body) > limit:
                    raise PayloadTooLarge.over(limit)
            else:
                body = await read_body(receive, limit, length, first=message)
            form = form_pairs(body) if body else None
        elif kind == "multipart/form-data":
            form = await multipart_pairs(scope, receive, limit)
        elif kind == "application/json":
            if body is None:
                body = await read_body(receive, limit, length)
            elif len(body) > limit:
                raise PayloadTooLarge.over(limit)
            json_arguments = json_body(body)  # always an object
        else:
            raise unsupported(kind)
        request = AsgiRequest(scope, raw_headers, query, form, json_arguments, authorization,
                              self.pipeline.client_address(scope))
        request.length = length
        return request

    async def call_streamed(self, dispatch: Dispatch, scope: Scope, receive: Receive) -> Any:
        """A method with a FileStream: called once the fields before its file part are read,
        while the file is still arriving (server/_streamed_form.py)."""
        content_type = b""
        for name, value in scope["headers"]:
            if name == b"content-type":
                content_type = value
                break
        if content_type.split(b";", 1)[0].strip().lower() != b"multipart/form-data":
            # Not multipart: read as any call; decoding then names the missing file part.
            return await self.pipeline.call(dispatch, await self.read_request(scope, receive))
        api = self.api
        field = dispatch.method.stream_parameter
        assert field is not None
        limits = UploadLimits(api.max_upload_size, api.max_body_size, api.upload_timeout, api.upload_idle_timeout)
        request = await self.read_request(scope, receive, with_body=False)
        if request.length is not None and request.length > limits.max_size:
            raise PayloadTooLarge.over(limits.max_size)
        form = StreamedForm(receive, boundary_of(content_type), field, limits)
        try:
            request.form = await form.fields()
            try:
                result = await self.pipeline.call(dispatch, request)
            except Exception as exc:
                if form.failure is not None:  # the upload was cut: that is the answer
                    raise form.failure from None
                if (isinstance(exc, BadArguments) and form.stream is not None and exc.field
                        and exc.field != field and exc.field.split(".", 1)[0] not in form.names_before_file()):
                    raise BadArguments(
                        f"{exc.message}: send the fields before the file part {field!r}", field=exc.field
                    ) from None
                raise
            if form.failure is not None:  # the method carried on past UploadCut
                raise form.failure
            return result
        finally:
            form.close()

    async def openapi(self, request: StarletteRequest) -> Response:
        if self._openapi is None:
            self._openapi = dumps(openapi_document(self.api))
        return Response(self._openapi, media_type="application/json")
