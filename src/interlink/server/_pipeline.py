"""The call pipeline: one API call from its parsed request to its encoded result, with no web
framework in it. Every shell runs this same code — the ASGI app (``server/_app.py``) today — so
credentials, CSRF, permissions, decoding, the transaction and the error shape are the same
whichever server a site runs on.

A shell reads the HTTP request (headers, query string, body) into a :class:`Request` and hands
it to :meth:`Pipeline.call` with the method's :class:`Dispatch`; it gets back the result
encoded by the method's return type (JSON-ready; :func:`dumps` makes the bytes) or an
``ApiError`` to answer with its status and one JSON shape. Anything else raised is a bug, the
server's or the method's: the shell logs it and answers 500.

The way of a call:

    Request -> reserved fields pulled out (authorisation; CSRF with a session cookie)
            -> credentials (a pure read) -> Authentication -> Role | 401 / 403 / 429
            -> the method's access rule -> decode with its compiled converter | 400
            -> dispatch (decided when the method was compiled, never per call):
                 async def            awaited on the event loop
                 def                  in the ThreadPool, one hop
                 with a Call          `with call:` around the method: commit or roll back
            -> encode by the declared return type | 500 (logged)

What is decided once per method (``compile_method``): whether a Role is needed, which
permissions, whether decoding loads models (then it runs in a worker thread), whether the call
needs a ``Call`` (a ``Call`` parameter, or an extension hook that watches the method), and
whether the method is awaited or run in the pool. The lean path — no Call, no hooks — has no
branch for any of it.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, NoReturn

from interlink.credentials import parse_authorisation
from interlink.errors import BadArguments, Forbidden, MethodNotAllowed, NoSuchMethod, NotAuthorised, ServerError
from interlink.identity import Backend, Role
from interlink.wire import FormValue, WireError

from ._authentication import Authentication
from ._backend import open_backend
from ._call import Call
from ._client_address import ClientAddress
from ._credentials import AUTHORISATION, pop_authorisation, pop_json_authorisation, read_credentials
from ._csrf import csrf_matches, pop_csrf
from ._extension import CallHook, CallRunner
from ._ratelimit import FailureLimiter
from ._redaction import warn_query_credentials
from ._results import result_encoder
from ._sessions import session_cookie
from ._threads import ThreadPool

if TYPE_CHECKING:
    from ._api import ApiServer
    from ._method import Method

__all__ = ["Dispatch", "Pipeline", "Request", "dumps"]

Pairs = list[tuple[str, FormValue]]
JsonObject = dict[str, Any]
#: A compiled method: (request, role, pairs, JSON object) -> the encoded result.
Run = Callable[["Request", "Role | None", Pairs, "JsonObject | None"], Awaitable[Any]]

# One encoder for every answer, made once: ``json.dumps`` with options, and even a shared
# JSONEncoder, build a new C encoder (and a dict of visited objects) on every call, which was a
# measurable part of a small call (docs/performance.md). Encoded results are trees the wire
# built, so there is no cycle to look for.
# json.encoder sets c_make_encoder to None where the C module is missing (typeshed omits it).
_c_make_encoder: Callable[..., Callable[[Any, int], list[str]]] | None = getattr(
    json.encoder, "c_make_encoder", None
)


def _unserialisable(value: object) -> NoReturn:
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


if _c_make_encoder is not None:
    _iterencode = _c_make_encoder(None, _unserialisable, json.encoder.encode_basestring, None, ":", ",",
                                  False, False, False)

    def dumps(value: Any) -> bytes:
        """``value`` as compact UTF-8 JSON; NaN and infinities are refused (ValueError)."""
        return "".join(_iterencode(value, 0)).encode()
else:  # pragma: no cover
    _encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode

    def dumps(value: Any) -> bytes:
        return _encode(value).encode()


class Request:
    """One API call's request as a shell hands it to the pipeline: read and parsed.

    ``headers`` are the raw header pairs with lower-case names (ASGI's form); ``query`` the
    query string's pairs; ``form`` the pairs of an urlencoded or multipart body (uploads as
    ``FileUpload``), or ``None``; ``json`` a JSON body's object, or ``None``; ``authorization``
    the ``Authorization`` header; ``client`` the caller's address (after trusted proxies);
    ``path`` the request's path, for log lines. The pipeline takes the reserved fields
    (``authorisation``, the CSRF token) out of ``query``, ``form`` and ``json`` in place.

    A shell subclasses it to give ``url`` (read only by extensions, so computed on demand).
    """

    __slots__ = ("headers", "query", "form", "json", "authorization", "client", "path")

    def __init__(
        self,
        headers: list[tuple[bytes, bytes]],
        *,
        query: Pairs | None = None,
        form: Pairs | None = None,
        json: JsonObject | None = None,
        authorization: str | None = None,
        client: str | None = None,
        path: str = "",
    ) -> None:
        self.headers = headers
        self.query: Pairs = query if query is not None else []
        self.form = form
        self.json = json
        self.authorization = authorization
        self.client = client
        self.path = path

    @property
    def url(self) -> str:
        """The full URL of the call (``$url`` of runtime expressions)."""
        raise NotImplementedError(f"{type(self).__name__} does not give its URL")

    def session_token(self) -> str | None:
        """The site login session's token (its cookie), if the request carries one."""
        return session_cookie(self.headers)

    #: What a page must send, for the 403 of a form posted without a valid CSRF token.
    csrf_advice = "the csrf_token field (csrf_field() in the page's template)"

    def csrf_matches(self, session_token: str, sent: str | None) -> bool:
        """Whether the CSRF token sent with a session cookie checks out. interlink's own rule
        here; a shell whose framework has its own (Django's CSRF middleware) overrides it."""
        return csrf_matches(session_token, sent)


class Dispatch:
    """A registered method and, once the pipeline is set up, its compiled ``run``."""

    __slots__ = ("method", "run")

    def __init__(self, method: Method) -> None:
        self.method = method
        self.run: Run | None = None

    def __repr__(self) -> str:
        return f"<Dispatch {self.method.name}>"


class Pipeline:
    """The server's core: the methods' compiled dispatch, the backend and the authentication,
    and the ``call`` every shell runs. Extensions are bound to it at setup."""

    def __init__(
        self,
        api: ApiServer,
        *,
        backend: Callable[[Pipeline], Backend] | None = None,
        threads: ThreadPool | None = None,
    ) -> None:
        self.api = api
        # runs plain `def` methods (and model loading) off the event loop; a shell may bring a
        # pool of its own (Django's closes the database connections its jobs opened)
        self.threads = threads or ThreadPool()
        # builds the backend at setup for a shell that brings its own (Django's models);
        # None: the ApiServer's authenticator or interlink.store
        self._open_backend = backend
        self.limiter: FailureLimiter = api.login_limiter or FailureLimiter(storage=api.login_limits)
        self.client_address = ClientAddress(api.trusted_proxies)
        self.backend: Backend | None = None
        self.authentication: Authentication | None = None
        self.ready = False
        self._setup_lock = threading.Lock()
        # "module/function" -> Dispatch: the route a shell finds a method by.
        self.dispatch: dict[str, Dispatch] = {}
        for method in api.methods.values():
            self.add_method(method)

    def find(self, route: str, http_method: str) -> Dispatch:
        """The method a shell's request names (``module/function``): a 404 for no such method,
        a 405 for one not called with POST."""
        dispatch = self.dispatch.get(route)
        if dispatch is None:
            raise NoSuchMethod(f"no method {route.replace('/', '.')[:200]!r}")
        if http_method != "POST":
            raise MethodNotAllowed(f"{dispatch.method.name} is called with POST")
        return dispatch

    def add_method(self, method: Method) -> None:
        dispatch = self.dispatch[f"{method.module}/{method.function_name}"] = Dispatch(method)
        if self.ready:
            dispatch.run = compile_method(method, self)

    # -- set-up ---------------------------------------------------------------------------

    def check(self) -> None:
        """Raise what would stop :meth:`setup` in the methods' own declarations (callbacks that
        nothing delivers), without opening anything: for a command to say it before serving."""
        for dispatch in self.dispatch.values():
            call_hooks(dispatch.method, self.api)

    def setup(self) -> None:
        """Open the backend (the store), bind the extensions and compile every method's
        dispatch; idempotent, and safe to call from several threads at once."""
        with self._setup_lock:
            if self.ready:
                return
            backend = open_backend(self.api) if self._open_backend is None else self._open_backend(self)
            self.backend = backend
            self.limiter.bind(backend.counters)  # failed-login counts: the backend's, Redis or memory
            self.authentication = Authentication(backend.authenticator, self.limiter)
            for extension in self.api.extensions:
                extension.bind(self, backend)
            self._compile()
            self._wrap_call()
            self.ready = True

    def _wrap_call(self) -> None:
        """Let extensions wrap the whole call (traces, metrics). Only a wrapped pipeline gets an
        instance attribute ``call``: without one, shells run the method itself, as before."""
        call: CallRunner = type(self).call.__get__(self)
        wrapped = False
        for extension in self.api.extensions:
            # Extension is a Protocol: an extension written before wrap_call existed has none.
            wrap = getattr(extension, "wrap_call", None)
            wrapper = None if wrap is None else wrap(call)
            if wrapper is not None:
                call, wrapped = wrapper, True
        if wrapped:
            self.call = call  # type: ignore[method-assign,assignment]  # this instance's own call, set once

    def recompile(self) -> None:
        """Decide every method's dispatch again (an extension changed what it watches)."""
        if self.ready:
            self._compile()

    def _compile(self) -> None:
        for dispatch in self.dispatch.values():
            dispatch.run = compile_method(dispatch.method, self)

    def load_model(self, cls: type, api_id: str) -> object:
        finder = getattr(cls, "from_api_id", None)
        if finder is not None:
            return finder(api_id)
        loader = None if self.backend is None else self.backend.load_model
        if loader is None:
            raise ServerError(f"no database to load a {cls.__name__} from")
        return loader(cls, api_id)

    # -- a call ---------------------------------------------------------------------------

    async def call(self, dispatch: Dispatch, request: Request) -> Any:
        """The encoded result of one call, or the ApiError to answer with."""
        run = dispatch.run
        if run is None:
            raise RuntimeError("Pipeline.setup() has not run")
        pairs, json_arguments, authorisation = arguments_of(request)
        header = request.authorization
        if authorisation is None and header is None:
            role = None
            sessions = self.backend.sessions if self.backend is not None else None
            if sessions is not None:
                # Site pages: only here, with no other credentials, are cookies looked at at all.
                token = request.session_token()
                if token is not None:
                    role = await self.session_role(token, pairs, json_arguments, request)
        elif authorisation is not None:  # the field wins over the header
            assert self.authentication is not None
            role = await self.authentication.key_role(*parse_authorisation(authorisation), request.client)
        else:
            credentials = read_credentials(None, header)
            assert credentials is not None and self.authentication is not None
            role = await self.authentication.role_for(credentials, request.client)
        return await run(request, role, pairs, json_arguments)

    async def session_role(
        self, token: str, pairs: Pairs, json_arguments: JsonObject | None, request: Request
    ) -> Role:
        """The user's default role for a session cookie, once the form's CSRF token checks out
        (by the shell's rule: ``Request.csrf_matches``)."""
        sent = pop_csrf(pairs, json_arguments, request.headers)
        if not request.csrf_matches(token, sent):
            raise Forbidden(
                "CSRF token missing or wrong: a form posted with the session cookie must "
                f"include {request.csrf_advice}"
            )
        assert self.backend is not None and self.backend.sessions is not None
        role = await self.backend.sessions.role_for(token)
        if role is None:
            raise NotAuthorised("the session has expired or was logged out; log in again")
        return role


def arguments_of(request: Request) -> tuple[Pairs, JsonObject | None, str | None]:
    """The call's pairs (query + form) or JSON object, and its ``authorisation`` field, taken
    out of them; sent more than once (query, body, JSON member) it is a 400."""
    query = request.query
    authorisation = None
    if query:
        authorisation = pop_authorisation(query)
        if authorisation is not None:
            warn_query_credentials(request.path)
    json_arguments = request.json
    if json_arguments is not None:
        found = pop_json_authorisation(json_arguments)
        pairs = query
    else:
        form = request.form
        if not form:
            return query, None, authorisation
        pairs = query + form if query else form
        found = pop_authorisation(pairs)
    if found is not None:
        if authorisation is not None:
            raise BadArguments("authorisation sent more than once", field=AUTHORISATION)
        authorisation = found
    return pairs, json_arguments, authorisation


# -- compiling a method's dispatch --------------------------------------------------------------


def call_hooks(method: Method, api: ApiServer) -> list[CallHook]:
    """What the extensions run at the start of each call of ``method``; a ``TypeError`` for a
    method whose declared callbacks nothing would deliver."""
    hooks = [hook for extension in api.extensions if (hook := extension.call_hook(method)) is not None]
    if method.callbacks and not hooks:
        raise TypeError(
            f"{method.name} declares callbacks=[...], but nothing delivers them: attach "
            "interlink.callbacks.Callbacks(api) to the ApiServer"
        )
    return hooks


def compile_method(method: Method, pipeline: Pipeline) -> Run:
    """The method's ``run``: access rule, decoding and dispatch decided once."""
    hooks = call_hooks(method, pipeline.api)
    check = _access_rule(method)
    decode = _decoder(method, pipeline)
    if not hooks and method.call_parameter is None and not method.arguments.needs_models:
        return _lean(method, pipeline, check, decode)
    execute = _executor(method, pipeline, hooks)
    if method.arguments.needs_models:
        threads = pipeline.threads

        async def run_loading_models(request: Request, role: Role | None, pairs: Pairs,
                                     json_arguments: JsonObject | None) -> Any:
            if check is not None:
                check(role)
            kwargs = await threads.run(decode, pairs, json_arguments)  # model look-ups do I/O
            return await execute(request, role, kwargs)

        return run_loading_models

    async def run(request: Request, role: Role | None, pairs: Pairs, json_arguments: JsonObject | None) -> Any:
        if check is not None:
            check(role)
        return await execute(request, role, decode(pairs, json_arguments))

    return run


def _lean(method: Method, pipeline: Pipeline, check: Callable[[Role | None], None] | None,
          decode: Callable[[Pairs, JsonObject | None], dict[str, Any]]) -> Run:
    """The most common methods — no Call, no extension hook, no models to load — as one step
    each: what ``_executor`` would do, without its layers (docs/performance.md)."""
    function = method.function
    encode = result_encoder(method)
    role_parameter = method.role_parameter
    if method.is_async:

        async def awaited(request: Request, role: Role | None, pairs: Pairs, json_arguments: JsonObject | None) -> Any:
            if check is not None:
                check(role)
            kwargs = decode(pairs, json_arguments)
            if role_parameter is not None:
                kwargs[role_parameter] = role
            return encode(await function(**kwargs))

        return awaited

    threads = pipeline.threads
    # A pool that runs jobs its own way (Django's) is awaited through its ``run``; the plain
    # pool's future is returned as it is: no coroutine of this step's own on the call path.
    submit = threads.submit if type(threads).run is ThreadPool.run else threads.run

    def pooled(request: Request, role: Role | None, pairs: Pairs, json_arguments: JsonObject | None) -> Awaitable[Any]:
        if check is not None:
            check(role)
        kwargs = decode(pairs, json_arguments)
        if role_parameter is not None:
            kwargs[role_parameter] = role
        return submit(_call_plain, function, kwargs, encode)

    return pooled


def _access_rule(method: Method) -> Callable[[Role | None], None] | None:
    """None for a public method; else a check that the caller has a role with the permissions."""
    if method.role_parameter is None:
        return None
    name = method.name
    requires = sorted(method.requires)

    def check(role: Role | None) -> None:
        if role is None:
            raise NotAuthorised(
                f"{name} needs credentials: a key as HTTP Basic or Bearer 'keyid:secret', "
                "or the authorisation=keyid:secret POST field"
            )
        if requires:
            missing = [p for p in requires if not role.has(p)]
            if missing:
                raise Forbidden(f"{name} needs the permission(s) {', '.join(missing)}")

    return check


def _decoder(method: Method, pipeline: Pipeline) -> Callable[[Pairs, JsonObject | None], dict[str, Any]]:
    arguments = method.arguments
    load = pipeline.load_model if arguments.needs_models else None
    decode_pairs, decode_json = arguments.decode_pairs, arguments.decode_json

    def decode(pairs: Pairs, json_arguments: JsonObject | None) -> dict[str, Any]:
        try:
            if json_arguments is not None:
                return decode_json(json_arguments, load)
            return decode_pairs(pairs, load)
        except WireError as exc:
            raise BadArguments(exc.message, field=exc.field or None) from None

    return decode


Execute = Callable[[Request, "Role | None", dict[str, Any]], Awaitable[Any]]


def _executor(method: Method, pipeline: Pipeline, hooks: list[CallHook]) -> Execute:
    """How the method is called, with its arguments decoded: one of four ways, chosen here."""
    function = method.function
    encode = result_encoder(method)
    role_parameter = method.role_parameter
    call_parameter = method.call_parameter
    threads = pipeline.threads

    if call_parameter is None and not hooks:  # a lean method whose arguments load models
        if method.is_async:

            async def awaited(request: Request, role: Role | None, kwargs: dict[str, Any]) -> Any:
                if role_parameter is not None:
                    kwargs[role_parameter] = role
                return encode(await function(**kwargs))

            return awaited

        async def pooled(request: Request, role: Role | None, kwargs: dict[str, Any]) -> Any:
            if role_parameter is not None:
                kwargs[role_parameter] = role
            return await threads.run(_call_plain, function, kwargs, encode)

        return pooled

    name = method.name
    database = pipeline.backend.database if pipeline.backend is not None else None

    def begin(request: Request, role: Role | None, kwargs: dict[str, Any]) -> Call:
        call = Call(name, role, request.client, database)
        if role_parameter is not None:
            kwargs[role_parameter] = role
        if call_parameter is not None:
            kwargs[call_parameter] = call
        for hook in hooks:
            hook(call, request, kwargs)
        return call

    if method.is_async:

        async def awaited_in_call(request: Request, role: Role | None, kwargs: dict[str, Any]) -> Any:
            call = begin(request, role, kwargs)
            with call:
                call.response = encode(await function(**kwargs))
            return call.response

        return awaited_in_call

    async def pooled_in_call(request: Request, role: Role | None, kwargs: dict[str, Any]) -> Any:
        return await threads.run(_call_in_call, begin(request, role, kwargs), function, kwargs, encode)

    return pooled_in_call


def _call_plain(function: Callable[..., Any], kwargs: dict[str, Any], encode: Callable[[Any], Any]) -> Any:
    """A ``def`` method without a Call, in its worker thread."""
    return encode(function(**kwargs))


def _call_in_call(call: Call, function: Callable[..., Any], kwargs: dict[str, Any], encode: Callable[[Any], Any]) -> Any:
    """A ``def`` method with a Call, in its worker thread: its transaction ends here too."""
    with call:
        call.response = encode(function(**kwargs))
    return call.response
