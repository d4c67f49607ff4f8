"""The Django shell of interlink's call pipeline: a Django request in, the pipeline's answer out.

The same ``Pipeline`` as ``interlink serve`` runs every call (server/_pipeline.py): credentials,
CSRF, the access rule, decoding, the transaction and the one error shape are its rules, not
this module's. Here a Django ``HttpRequest`` is read into the pipeline's ``Request`` — query
and urlencoded bodies by the ASGI server's own parser, multipart by Django's (its upload
handlers and limits), JSON by the wire's — and the answer becomes an ``HttpResponse``.

Under ASGI the call is awaited on Django's event loop, and ``def`` methods and every database
read run in the pipeline's worker threads (``DjangoThreadPool``), never on the loop. Under WSGI
a call runs on its request thread with no event loop (``async def`` methods and password checks,
which wait on one, get an event loop of the thread's own).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Awaitable, Callable, Coroutine
from typing import TYPE_CHECKING, Any, TypeVar

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation, TooManyFieldsSent
from django.http import HttpRequest, HttpResponse
from django.http.multipartparser import MultiPartParserError

from interlink.errors import ApiError, BadArguments, PayloadTooLarge
from interlink.server import (
    INTERNAL_ERROR,
    Dispatch,
    PasswordCredentials,
    Pipeline,
    Request,
    ResultMismatch,
    ThreadPool,
    dumps,
    error_answer,
    form_pairs,
    json_body,
    query_pairs,
    read_credentials,
    unsupported,
)
from interlink.wire import FileStream, FileUpload, FormValue

from ._backend import DjangoThreadPool, django_backend

if TYPE_CHECKING:
    from interlink import ApiServer

__all__ = ["DjangoRequest", "DjangoShell"]

logger = logging.getLogger("interlink.django")

Pairs = list[tuple[str, FormValue]]
T = TypeVar("T")


class DjangoRequest(Request):
    """A Request read from Django's; the session is Django's, and so is the CSRF rule."""

    __slots__ = ("django", "_headers")

    csrf_advice = "{% csrf_token %} in the form (or the X-CSRFToken header)"

    def __init__(self, django: HttpRequest, *, query: Pairs, form: Pairs | None, json: dict[str, Any] | None,
                 authorization: str | None, client: str | None) -> None:
        # Not Request.__init__: the header pairs are made only if something reads them (the
        # session's CSRF check, extensions); a keyed call never does.
        self.django = django
        self._headers: list[tuple[bytes, bytes]] | None = None
        self.query = query
        self.form = form
        self.json = json
        self.authorization = authorization
        self.client = client
        self.path = django.path

    @property  # type: ignore[override]
    def headers(self) -> list[tuple[bytes, bytes]]:
        if self._headers is None:
            self._headers = _header_pairs(self.django)
        return self._headers

    @headers.setter
    def headers(self, value: list[tuple[bytes, bytes]]) -> None:
        self._headers = value

    @property
    def url(self) -> str:
        return self.django.build_absolute_uri()

    def session_token(self) -> str | None:
        return self.django.COOKIES.get(settings.SESSION_COOKIE_NAME) or None

    def csrf_matches(self, session_token: str, sent: str | None) -> bool:
        """Django's own check (``CsrfViewMiddleware``): the token of ``{% csrf_token %}`` or the
        ``X-CSRFToken`` header against the CSRF cookie, and the Origin/Referer rules."""
        from django.middleware.csrf import CsrfViewMiddleware

        def protected(request: HttpRequest) -> HttpResponse:  # what the check is made for
            raise AssertionError("never called")

        check = CsrfViewMiddleware(protected)
        check.process_request(self.django)
        return check.process_view(self.django, protected, (), {}) is None


def _header_pairs(request: HttpRequest) -> list[tuple[bytes, bytes]]:
    scope = getattr(request, "scope", None)
    if scope is not None:  # ASGI: the raw headers, as the ASGI server reads them
        headers: list[tuple[bytes, bytes]] = scope["headers"]
        return headers
    pairs = []
    for name, value in request.META.items():  # WSGI: names and values as PEP 3333 passes them
        if name.startswith("HTTP_"):
            header = name[5:]
        elif name in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            header = name
        else:
            continue
        if isinstance(value, str) and value:
            pairs.append((header.replace("_", "-").lower().encode("latin-1"), value.encode("latin-1", "replace")))
    return pairs


def _query_string(request: HttpRequest) -> bytes:
    scope = getattr(request, "scope", None)
    if scope is not None:
        raw: bytes = scope.get("query_string", b"")
        return raw
    text: str = request.META.get("QUERY_STRING", "")
    try:
        return text.encode("latin-1")  # PEP 3333: the raw bytes, decoded as latin-1
    except UnicodeEncodeError:
        return text.encode("utf-8")


class _InRequestThread(ThreadPool):
    """The "worker threads" of a call made on WSGI's own request thread: the job runs right
    there, where Django's ORM may run (no event loop) and the request's connection is."""

    async def run(self, function: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        return function(*args, **kwargs)


def _run_without_loop(call: Coroutine[Any, Any, Any]) -> Any:
    """Run a call that never waits for anything (its blocking work runs inline, above)."""
    try:
        while True:
            call.send(None)  # a bare yield (asyncio.sleep(0)): go on
    except StopIteration as done:
        return done.value
    finally:
        call.close()


class DjangoShell:
    """One ApiServer's calls served through Django views (``api_urls(api)`` makes them).

    Two pipelines over the same methods, sharing their failed-login limits: ``pipeline`` runs
    blocking work in its worker threads, for ASGI and for what must wait on an event loop under
    WSGI (``async def`` methods, password checks with their limits); ``inline`` runs a WSGI call
    on its request thread with no event loop at all — the common keyed call to a ``def`` method,
    for which a loop and a hop to a worker thread were most of interlink's time under gunicorn.
    """

    def __init__(self, api: ApiServer) -> None:
        self.api = api
        self.pipeline = Pipeline(api, backend=django_backend, threads=DjangoThreadPool())
        self.inline = Pipeline(api, backend=django_backend, threads=_InRequestThread())
        self.inline.limiter = self.pipeline.limiter
        self._loops = threading.local()

    # -- the two ways in ----------------------------------------------------------------------

    def answer(self, request: HttpRequest, route: str) -> HttpResponse:
        """WSGI: the call on the request thread, or on this thread's own event loop."""
        try:
            dispatch = self.pipeline.find(route, request.method)
            if dispatch.method.is_async or self._checks_a_password(request):
                if not self.pipeline.ready:
                    self.pipeline.setup()
                loop = getattr(self._loops, "loop", None)
                if loop is None:
                    loop = self._loops.loop = asyncio.new_event_loop()
                result = loop.run_until_complete(self._call(self.pipeline, dispatch, request))
            else:
                if not self.inline.ready:
                    # The threaded pipeline first: the failed-login counts both share bind to
                    # its worker threads, where a call on an event loop may read Django's cache.
                    self.pipeline.setup()
                    self.inline.setup()
                result = _run_without_loop(self._call(self.inline, self.inline.dispatch.get(route, dispatch), request))
        except BaseException as error:  # noqa: BLE001 - every failure has its answer
            return self._failed(error, route)
        return HttpResponse(dumps(result), content_type="application/json")

    @staticmethod
    def _checks_a_password(request: HttpRequest) -> bool:
        """Basic ``user:password``: its limits wait for a slot (anyio), on an event loop."""
        header = request.META.get("HTTP_AUTHORIZATION")
        if not header:
            return False
        try:
            return isinstance(read_credentials(None, header), PasswordCredentials)
        except ApiError:
            return False  # malformed: the pipeline answers it

    async def answer_async(self, request: HttpRequest, route: str) -> HttpResponse:
        """ASGI: the call awaited on Django's event loop."""
        try:
            dispatch = self.pipeline.find(route, request.method)
            if not self.pipeline.ready:
                await self.pipeline.threads.run(self.pipeline.setup)
            result = await self._call(self.pipeline, dispatch, request)
        except Exception as error:  # noqa: BLE001 - every failure has its answer
            return self._failed(error, route)
        return HttpResponse(dumps(result), content_type="application/json")

    # -- the call -------------------------------------------------------------------------

    def _call(self, pipeline: Pipeline, dispatch: Dispatch, request: HttpRequest) -> Coroutine[Any, Any, Any]:
        call: Coroutine[Any, Any, Any] = pipeline.call(
            dispatch, self.read_request(request, stream=dispatch.method.stream_parameter))
        return call

    def _failed(self, error: BaseException, route: str) -> HttpResponse:
        if isinstance(error, ApiError):
            status, headers, body = error_answer(error)
        elif isinstance(error, ResultMismatch):
            logger.error("%s", error)
            status, headers, body = 500, [], INTERNAL_ERROR
        elif isinstance(error, Exception):
            logger.exception("error in %s", route.replace("/", "."), exc_info=error)
            status, headers, body = 500, [], INTERNAL_ERROR
        else:
            raise error  # KeyboardInterrupt, SystemExit
        response = HttpResponse(body, status=status, content_type="application/json")
        for name, value in headers:
            if name != b"content-type":
                response[name.decode("latin-1")] = value.decode("latin-1")
        return response

    def read_request(self, request: HttpRequest, stream: str | None = None) -> DjangoRequest:
        """The request's headers, query pairs and body (pairs or a JSON object), read once.

        ``stream`` names a ``FileStream`` parameter: Django has stored the whole upload (its
        upload handlers) before the view runs, so that method gets a FileStream over the stored
        file: it works, within ``max_upload_size``, but is not streamed."""
        limit = self.api.max_body_size if stream is None else self.api.max_upload_size
        meta = request.META
        try:
            length = int(meta.get("CONTENT_LENGTH") or 0)
        except ValueError:
            raise BadArguments("Content-Length is not a number") from None
        if length > limit:
            raise PayloadTooLarge.over(limit)
        kind = (request.content_type or "").lower()
        query_string = _query_string(request)
        query = query_pairs(query_string) if query_string else []
        form: Pairs | None = None
        json_arguments: dict[str, Any] | None = None
        try:
            if kind == "application/x-www-form-urlencoded" or (kind == "" and not length):
                body = request.body
                if len(body) > limit:
                    raise PayloadTooLarge.over(limit)
                form = form_pairs(body) if body else None
            elif kind == "multipart/form-data":
                form = self._multipart_pairs(request, stream)
            elif kind == "application/json":
                json_arguments = json_body(request.body)
            else:
                raise unsupported(kind)
        except RequestDataTooBig:
            raise PayloadTooLarge("the body is larger than the site's DATA_UPLOAD_MAX_MEMORY_SIZE") from None
        except TooManyFieldsSent:
            raise BadArguments("the form has more fields than the site's DATA_UPLOAD_MAX_NUMBER_FIELDS") from None
        except MultiPartParserError as error:
            raise BadArguments(f"malformed multipart body: {error}") from None
        except SuspiciousOperation as error:  # TooManyFilesSent and the like
            raise BadArguments(f"refused: {error}") from None
        client = meta.get("REMOTE_ADDR") or None
        if self.pipeline.client_address.trusted and client is not None:
            client = self.pipeline.client_address({"client": (client, 0), "headers": _header_pairs(request)})
        return DjangoRequest(request, query=query, form=form, json=json_arguments,
                             authorization=meta.get("HTTP_AUTHORIZATION"), client=client)

    @staticmethod
    def _multipart_pairs(request: HttpRequest, stream: str | None = None) -> Pairs:
        """Django's multipart parser (its upload handlers and limits): fields, then files."""
        pairs: Pairs = [(name, value) for name, values in request.POST.lists() for value in values]
        for name, files in request.FILES.lists():
            for uploaded in files:
                if name == stream:
                    pairs.append((name, FileStream(_chunks_of(uploaded), filename=uploaded.name or "upload",
                                                   content_type=uploaded.content_type or "application/octet-stream")))
                    continue
                pairs.append((name, FileUpload(uploaded, filename=uploaded.name or "upload",
                                               content_type=uploaded.content_type)))
        return pairs


def _chunks_of(uploaded: Any) -> Callable[[], Awaitable[bytes]]:
    """A FileStream's source over a file Django has already stored: 64 KiB at a time."""

    async def next_chunk() -> bytes:
        data: bytes = uploaded.read(65536)
        return data

    return next_chunk
