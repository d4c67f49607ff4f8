"""The ASGI application: method calls on a lean path, everything else through Starlette.

A call's way: body read once -> flat pairs -> reserved fields pulled out -> authenticate ->
Role -> decode with the method's compiled converter -> call (async awaited, plain functions
in the thread pool) -> encode -> JSON. Every failure on that way is an ApiError with its one
shape; anything else is our bug or the method's, and is a logged 500.
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
from interlink.wire import WireError

from ._auth import authenticate, basic_authorization, install_log_redaction, warn_query_credentials
from ._client_address import ClientAddress
from ._csrf import csrf_matches, pop_csrf
from ._ratelimit import FailureLimiter
from ._sessions import session_cookie
from ._body import ClientDisconnected, content_type_of, form_pairs, json_body, multipart_pairs, query_pairs, read_body, unsupported
from ._docs import docs_routes
from ._openapi import openapi_document

if TYPE_CHECKING:
    from ._api import Api
    from ._method import Method

logger = logging.getLogger("interlink.server")

AUTHORISATION = "authorisation"
JSON_HEADERS = [(b"content-type", b"application/json")]


# One encoder for every response: json.dumps with non-default options builds a new
# JSONEncoder per call, which was a measurable part of a small call (docs/performance.md).
_encode_json = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode


def dumps(value: Any) -> bytes:
    return _encode_json(value).encode()


class ApiApp:
    def __init__(self, api: Api) -> None:
        self.api = api
        self.prefix = api.prefix + "/"
        self.by_path: dict[str, Method] = {}
        for method in api.methods.values():
            self.add_method(method)
        self.database: Any = None
        self.authenticator: Any = api.authenticator
        self.sessions: Any = None  # a SessionStore when there is a database (site logins)
        self.limiter: FailureLimiter = api.login_limiter or FailureLimiter()
        self.client_address = ClientAddress(api.trusted_proxies)
        self._pass_client = False
        self._ready = False
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
        """Open the database and the authenticator; idempotent, done at startup or first call."""
        if self._ready:
            return
        install_log_redaction()
        if self.authenticator is None or self.api.database is not None:
            from interlink.store import Database, KeyAuthenticator

            database = self.api.database
            if not isinstance(database, Database):
                database = Database(database)
            database.migrate()
            self.database = database
            if self.authenticator is None:
                self.authenticator = KeyAuthenticator(database)
            from ._sessions import SessionStore

            self.sessions = SessionStore(database)
        # Only authenticators that apply key IP allowlists are handed the client's address.
        self._pass_client = bool(getattr(self.authenticator, "checks_networks", False))
        self._ready = True

    @contextlib.asynccontextmanager
    async def lifespan(self, app: Any) -> AsyncIterator[None]:
        await anyio.to_thread.run_sync(self.setup)
        yield

    def load_model(self, cls: type, api_id: str) -> Any:
        finder = getattr(cls, "from_api_id", None)
        if finder is not None:
            return finder(api_id)
        if self.database is None:
            raise ServerError(f"no database to load a {cls.__name__} from")
        from interlink.store import load_model

        with self.database.session() as session:
            return load_model(session, cls, api_id)

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
                raise NoSuchMethod(f"no method {route.replace('/', '.')!r}")
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
                headers = [*JSON_HEADERS, (b"www-authenticate", b'Basic realm="api", charset="UTF-8"')]
        except ClientDisconnected:
            return
        except Exception:
            logger.exception("error in %s", route.replace("/", "."))
            status, body = 500, dumps(ServerError("internal error; it has been logged").to_dict())
        await send({"type": "http.response.start", "status": status,
                    "headers": [*headers, (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})

    async def invoke(self, method: Method, scope: Any, receive: Any) -> Any:
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
            json_arguments = json_body(await read_body(receive, limit, length))
            if not isinstance(json_arguments, dict):  # `null` too: never read as "no arguments"
                raise BadArguments("a JSON body must be an object of arguments")
            if AUTHORISATION in json_arguments:
                if authorisation is not None:
                    raise BadArguments("authorisation sent more than once", field=AUTHORISATION)
                value = json_arguments.pop(AUTHORISATION)
                if not isinstance(value, str):
                    raise BadArguments("authorisation must be text keyid:secret", field=AUTHORISATION)
                authorisation = value
        else:
            raise unsupported(kind)
        body_authorisation = pop_authorisation(pairs)
        if body_authorisation is not None:
            if authorisation is not None:
                raise BadArguments("authorisation sent more than once", field=AUTHORISATION)
            authorisation = body_authorisation

        basic = basic_authorization(raw_headers)
        if authorisation is None and basic is None and self.sessions is not None:
            # Site pages: only here, with no other credentials, are cookies looked at at all.
            token = session_cookie(raw_headers)
            role = None if token is None else await self.session_role(token, pairs, json_arguments, raw_headers)
        else:
            role = await self.authenticate_caller(scope, authorisation, basic)
        kwargs: dict[str, Any]
        arguments = method.arguments
        if method.role_parameter is not None:
            if role is None:
                raise NotAuthorised(
                    f"{method.name} needs credentials: send authorisation=keyid:secret as a POST field"
                )
            missing = [p for p in method.requires if not role.has(p)]
            if missing:
                raise Forbidden(f"{method.name} needs the permission(s) {', '.join(sorted(missing))}")
        try:
            if arguments.needs_models:
                decode = (
                    functools.partial(arguments.decode_json, json_arguments, self.load_model)
                    if json_arguments is not None
                    else functools.partial(arguments.decode_pairs, pairs, self.load_model)
                )
                kwargs = await anyio.to_thread.run_sync(decode)
            elif json_arguments is not None:
                kwargs = arguments.decode_json(json_arguments)
            else:
                kwargs = arguments.decode_pairs(pairs)
        except WireError as exc:
            raise BadArguments(exc.message, field=exc.field or None) from None
        if method.role_parameter is not None:
            kwargs[method.role_parameter] = role
        if method.is_async:
            result = await method.function(**kwargs)
        else:
            result = await anyio.to_thread.run_sync(functools.partial(method.function, **kwargs))
        return method.result.encode(result)

    async def authenticate_caller(self, scope: Any, authorisation: str | None, basic: str | None) -> Any:
        """Credentials -> Role, with failed-login rate limiting per identity and address."""
        limiter = self.limiter
        if limiter.active:
            limiter.check(credential_identity(authorisation, basic), self.client_address(scope))
        try:
            if self._pass_client and (authorisation is not None or basic is not None):
                return await authenticate(
                    self.authenticator, authorisation, basic, client=self.client_address(scope)
                )
            return await authenticate(self.authenticator, authorisation, basic)
        except NotAuthorised:
            limiter.failed(credential_identity(authorisation, basic), self.client_address(scope))
            raise

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
        role = await self.sessions.role_for(token)
        if role is None:
            raise NotAuthorised("the session has expired or was logged out; log in again")
        return role

    async def openapi(self, request: Any) -> Any:
        if self._openapi is None:
            self._openapi = dumps(openapi_document(self.api))
        return Response(self._openapi, media_type="application/json")


def credential_identity(authorisation: str | None, basic: str | None) -> str | None:
    """Who a failed login claimed to be (username or key id), for per-user rate limits."""
    if authorisation is not None:
        return authorisation.strip().partition(":")[0] or None
    if basic is not None:
        from interlink.credentials import parse_basic_header

        try:
            return parse_basic_header(basic)[0]
        except ApiError:
            return None
    return None


def pop_authorisation(pairs: list[tuple[str, Any]]) -> str | None:
    found: str | None = None
    index = 0
    while index < len(pairs):
        name, value = pairs[index]
        if name == AUTHORISATION:
            if found is not None:
                raise BadArguments("authorisation sent more than once", field=AUTHORISATION)
            if not isinstance(value, str):
                raise BadArguments("authorisation must be text keyid:secret", field=AUTHORISATION)
            found = value
            del pairs[index]
        else:
            index += 1
    return found


