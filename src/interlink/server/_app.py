"""The ASGI application: method calls on a lean path, everything else through Starlette.

A call's way: body read once -> flat pairs -> reserved fields pulled out -> credentials read
(a pure step) -> Authentication -> Role -> decode with the method's compiled converter -> call
(async awaited, plain functions in interlink's ThreadPool, server/_threads.py) -> encode -> JSON. Every failure on that way
is an ApiError with its one shape; anything else is our bug or the method's, and is a logged 500.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
from typing import TYPE_CHECKING, Any, AsyncIterator

import anyio.to_thread
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route

from interlink.errors import ApiError, BadArguments, Forbidden, MethodNotAllowed, NoSuchMethod, NotAuthorised, ServerError
from interlink.identity import Backend
from interlink.wire import WireError

from ._authentication import Authentication
from ._backend import open_backend
from ._body import ClientDisconnected, content_type_of, form_pairs, json_body, multipart_pairs, query_pairs, read_body, unsupported
from ._call import CURRENT_CALL, Call
from ._client_address import ClientAddress
from ._credentials import AUTHORISATION, authorization_header, pop_authorisation, pop_json_authorisation, read_credentials
from ._csrf import csrf_matches, pop_csrf
from ._docs import docs_routes
from ._openapi import openapi_document
from ._ratelimit import FailureLimiter
from ._redaction import install_log_redaction, warn_query_credentials
from ._results import ResultMismatch, encode_result
from ._sessions import session_cookie
from ._threads import ThreadPool

if TYPE_CHECKING:
    from ._api import ApiServer
    from ._method import Method

logger = logging.getLogger("interlink.server")

JSON_HEADERS = [(b"content-type", b"application/json")]


# One encoder for every response: json.dumps with non-default options builds a new
# JSONEncoder per call, which was a measurable part of a small call (docs/performance.md).
_encode_json = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode


def dumps(value: Any) -> bytes:
    return _encode_json(value).encode()


class ApiApp:
    def __init__(self, api: ApiServer) -> None:
        self.api = api
        self.prefix = api.prefix + "/"
        self.by_path: dict[str, Method] = {}
        for method in api.methods.values():
            self.add_method(method)
        self.backend: Backend | None = None
        self.authentication: Authentication | None = None
        self.limiter: FailureLimiter = api.login_limiter or FailureLimiter(storage=api.login_limits)
        self.client_address = ClientAddress(api.trusted_proxies)
        self._ready = False
        self.threads = ThreadPool()  # runs plain `def` methods (and model loading) off the event loop
        routes: list[Any] = [Route(api.prefix + "/openapi.json", self.openapi, methods=["GET"])]
        if api.docs:
            routes += docs_routes(api.prefix + "/openapi.json", api.title)
        routes += api.routes
        self.site = Starlette(routes=routes, lifespan=self.lifespan)
        self._openapi: bytes | None = None

    def add_method(self, method: Method) -> None:
        self.by_path[f"{method.module}/{method.function_name}"] = method
        self._openapi = None

    # -- set-up -------------------------------------------------------------------------

    def setup(self) -> None:
        """Open the backend (store) and hand collaborators to the site pages; idempotent."""
        if self._ready:
            return
        install_log_redaction()
        backend = open_backend(self.api)
        self.backend = backend
        self.limiter.bind(backend.database)  # failed-login counts: database, Redis or memory
        self.authentication = Authentication(backend.authenticator, self.limiter)
        for site in self.api.sites:
            site.bind(self.authentication, backend.sessions, self.client_address)
        self._ready = True

    @property
    def authenticator(self) -> Any:
        """The backend's authenticator (after setup)."""
        return None if self.backend is None else self.backend.authenticator

    @contextlib.asynccontextmanager
    async def lifespan(self, app: Any) -> AsyncIterator[None]:
        await anyio.to_thread.run_sync(self.setup)
        hook = self.api.call_hook
        if hook is None:
            yield
            return
        async with hook.running(self):  # the in-process delivery worker
            yield

    def load_model(self, cls: type, api_id: str) -> Any:
        finder = getattr(cls, "from_api_id", None)
        if finder is not None:
            return finder(api_id)
        loader = None if self.backend is None else self.backend.load_model
        if loader is None:
            raise ServerError(f"no database to load a {cls.__name__} from")
        return loader(cls, api_id)

    # -- ASGI ---------------------------------------------------------------------------

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            path: str = scope["path"]
            if path.startswith(self.prefix) and path != self.prefix + "openapi.json":
                await self.call_method(scope, receive, send, path[len(self.prefix) :])
                return
        await self.site(scope, receive, send)

    async def call_method(self, scope: Any, receive: Any, send: Any, route: str) -> None:
        headers = JSON_HEADERS
        try:
            method = self.by_path.get(route)
            if method is None:
                raise NoSuchMethod(f"no method {route.replace('/', '.')[:200]!r}")
            if scope["method"] != "POST":
                headers = [*JSON_HEADERS, (b"allow", b"POST")]
                raise MethodNotAllowed(f"{method.name} is called with POST")
            if not self._ready:
                await anyio.to_thread.run_sync(self.setup)
            result = await self.invoke(method, scope, receive)
            body = dumps(result)
            status = 200
        except ApiError as exc:
            status, body = exc.status, dumps(exc.to_dict())
            if status == 401:
                # Bearer, not Basic: a Basic challenge makes browsers prompt for a password over
                # the page that called (Swagger UI's Try it out never shows the 401).
                headers = [*JSON_HEADERS, (b"www-authenticate", b'Bearer realm="api"')]
            elif status in (429, 503) and hasattr(exc, "retry_after"):
                headers = [*JSON_HEADERS, (b"retry-after", str(exc.retry_after).encode())]
        except ClientDisconnected:
            return
        except ResultMismatch as exc:
            logger.error("%s", exc)
            status, body = 500, dumps(ServerError("internal error; it has been logged").to_dict())
        except Exception:
            logger.exception("error in %s", route.replace("/", "."))
            status, body = 500, dumps(ServerError("internal error; it has been logged").to_dict())
        await send({"type": "http.response.start", "status": status,
                    "headers": [*headers, (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})

    async def read_arguments(self, scope: Any, receive: Any) -> tuple[list[tuple[str, Any]], Any, str | None]:
        """The request's pairs (query + form/multipart) or JSON object, and its authorisation field."""
        raw_headers: list[tuple[bytes, bytes]] = scope["headers"]
        kind, length = content_type_of(raw_headers)
        limit = self.api.max_body_size
        pairs = query_pairs(scope.get("query_string", b""))
        authorisation = pop_authorisation(pairs)
        if authorisation is not None:
            warn_query_credentials(scope["path"])
        json_arguments: Any = None
        if kind == "application/x-www-form-urlencoded" or (kind == "" and not length):
            body = await read_body(receive, limit, length)
            if body:
                pairs += form_pairs(body)
        elif kind == "multipart/form-data":
            pairs += await multipart_pairs(scope, receive, limit)
        elif kind == "application/json":
            json_arguments = json_body(await read_body(receive, limit, length))  # always an object
            json_authorisation = pop_json_authorisation(json_arguments)
            if json_authorisation is not None:
                if authorisation is not None:
                    raise BadArguments("authorisation sent more than once", field=AUTHORISATION)
                authorisation = json_authorisation
        else:
            raise unsupported(kind)
        body_authorisation = pop_authorisation(pairs)
        if body_authorisation is not None:
            if authorisation is not None:
                raise BadArguments("authorisation sent more than once", field=AUTHORISATION)
            authorisation = body_authorisation
        return pairs, json_arguments, authorisation

    async def invoke(self, method: Method, scope: Any, receive: Any) -> Any:
        raw_headers: list[tuple[bytes, bytes]] = scope["headers"]
        pairs, json_arguments, authorisation = await self.read_arguments(scope, receive)
        credentials = read_credentials(authorisation, authorization_header(raw_headers))
        client = self.client_address(scope)
        assert self.backend is not None and self.authentication is not None
        sessions = self.backend.sessions
        if credentials is None:
            role = None
            if sessions is not None:
                # Site pages: only here, with no other credentials, are cookies looked at at all.
                token = session_cookie(raw_headers)
                if token is not None:
                    role = await self.session_role(token, pairs, json_arguments, raw_headers)
        else:
            role = await self.authentication.role_for(credentials, client)
        if method.role_parameter is not None:
            if role is None:
                raise NotAuthorised(
                    f"{method.name} needs credentials: a key as HTTP Basic or Bearer 'keyid:secret', "
                    "or the authorisation=keyid:secret POST field"
                )
            missing = [p for p in method.requires if not role.has(p)]
            if missing:
                raise Forbidden(f"{method.name} needs the permission(s) {', '.join(sorted(missing))}")
        kwargs = await self.decode(method, pairs, json_arguments)
        if method.role_parameter is not None:
            kwargs[method.role_parameter] = role
        call: Call | None = None
        hook = self.api.call_hook  # callbacks and webhooks (interlink.callbacks), when declared
        watched = hook is not None and hook.watches(method)
        if method.call_parameter is not None or watched:
            call = Call(method.name, role, client, self.backend.database)
            if method.call_parameter is not None:
                kwargs[method.call_parameter] = call
            if watched:
                hook.begin(call, method, scope, kwargs)
        if method.is_async:
            if call is None:
                return encode_result(method, await method.function(**kwargs))
            token = CURRENT_CALL.set(call)
            try:
                call.response = encode_result(method, await method.function(**kwargs))
            except BaseException as error:
                call.finish(error)
                raise
            finally:
                CURRENT_CALL.reset(token)
            call.finish()
            return call.response
        if call is None:
            result = await self.threads.run(method.function, **kwargs)
            return encode_result(method, result)
        return await self.threads.run(_run_in_transaction, method, call, kwargs)

    async def decode(self, method: Method, pairs: list[tuple[str, Any]], json_arguments: Any) -> dict[str, Any]:
        arguments = method.arguments
        try:
            if arguments.needs_models:
                decode = (
                    functools.partial(arguments.decode_json, json_arguments, self.load_model)
                    if json_arguments is not None
                    else functools.partial(arguments.decode_pairs, pairs, self.load_model)
                )
                return await self.threads.run(decode)
            if json_arguments is not None:
                return arguments.decode_json(json_arguments)
            return arguments.decode_pairs(pairs)
        except WireError as exc:
            raise BadArguments(exc.message, field=exc.field or None) from None

    async def session_role(
        self, token: str, pairs: list[tuple[str, Any]], json_arguments: Any, headers: list[tuple[bytes, bytes]]
    ) -> Any:
        """The user's default role for a session cookie, once the form's CSRF token checks out."""
        sent = pop_csrf(pairs, json_arguments, headers)
        if not csrf_matches(token, sent):
            raise Forbidden(
                "CSRF token missing or wrong: a form posted with the session cookie must "
                "include the csrf_token field (csrf_field() in the page's template)"
            )
        assert self.backend is not None and self.backend.sessions is not None
        role = await self.backend.sessions.role_for(token)
        if role is None:
            raise NotAuthorised("the session has expired or was logged out; log in again")
        return role

    async def openapi(self, request: Any) -> Any:
        if self._openapi is None:
            self._openapi = dumps(openapi_document(self.api))
        return Response(self._openapi, media_type="application/json")


def _run_in_transaction(method: Method, call: Call, kwargs: dict[str, Any]) -> Any:
    """A ``def`` method with a Call, in its worker thread: call, encode, commit (or roll back)."""
    CURRENT_CALL.set(call)  # this job's own copy of the context
    try:
        call.response = encode_result(method, method.function(**kwargs))
    except BaseException as error:
        call.finish(error)
        raise
    call.finish()
    return call.response
