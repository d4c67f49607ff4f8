"""The method registry: ``ApiServer``, ``api.module(name)``, ``@module.method`` and ``@api.method``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Iterable, TypeVar, overload

from ._method import Method

if TYPE_CHECKING:
    from starlette.routing import BaseRoute

    from interlink.identity import Authenticator

    from ._app import ApiApp
    from ._extension import Extension
    from ._ratelimit import FailureLimiter
    from .types import Receive, Scope, Send

F = TypeVar("F", bound=Callable[..., Any])


class Module:
    """A group of methods published under ``/api/<name>/``."""

    def __init__(self, api: ApiServer, name: str) -> None:
        if not name or "/" in name or "." in name:
            raise ValueError(f"module name {name!r} must be a non-empty name without '/' or '.'")
        self.api = api
        self.name = name

    @overload
    def method(self, function: F, /) -> F: ...
    @overload
    def method(
        self, /, *, name: str | None = None, requires: Iterable[str] = (), callbacks: Iterable[object] = ()
    ) -> Callable[[F], F]: ...

    def method(
        self, function: F | None = None, /, *, name: str | None = None, requires: Iterable[str] = (),
        callbacks: Iterable[object] = (),
    ) -> F | Callable[[F], F]:
        def register(fn: F) -> F:
            self.api.add(Method(fn, self.name, name=name, requires=requires, callbacks=callbacks))
            return fn

        return register(function) if function is not None else register


# Keywords and attributes that moved to an extension, and what to write instead.
_MOVED = {
    "callback_allowed_networks": "interlink.callbacks.Callbacks(api, allowed_networks=...)",
    "delivery_worker": "interlink.callbacks.Callbacks(api, delivery_worker=...)",
    "webhook": "callbacks.webhook(...), with callbacks = interlink.callbacks.Callbacks(api)",
    "emit": "callbacks.emit(...), with callbacks = interlink.callbacks.Callbacks(api)",
    "webhooks": "callbacks.webhooks, with callbacks = interlink.callbacks.Callbacks(api)",
    "call_hook": "an extension (api.add_extension; see interlink.server.Extension)",
}


class ApiServer:
    """A site's API: the registry of methods, and the ASGI application that serves them.

    ``ApiServer`` is itself an ASGI app (``uvicorn mysite.api:api``); ``interlink serve`` runs it too.
    Site pages (``Site(api)``) and callbacks (``interlink.callbacks.Callbacks(api)``) are
    extensions that attach themselves to it (``api.extensions``).
    """

    def __init__(
        self,
        *,
        database: Any = None,
        authenticator: Authenticator | None = None,
        prefix: str = "/api",
        max_body_size: int = 10 * 1024 * 1024,
        title: str = "interlink API",
        version: str = "1.0.0",
        routes: Iterable[BaseRoute] = (),
        docs: bool = True,
        trusted_proxies: Iterable[str] = (),
        login_limiter: FailureLimiter | None = None,
        login_limits: str | None = None,
        max_upload_size: int = 64 * 1024**3,
        upload_timeout: float = 3600.0,
        upload_idle_timeout: float = 60.0,
        **moved: object,
    ) -> None:
        for name in moved:
            if name in _MOVED:
                raise TypeError(f"ApiServer({name}=...) moved: use {_MOVED[name]}")
            raise TypeError(f"ApiServer() got an unexpected keyword argument {name!r}")
        self.methods: dict[str, Method] = {}
        self.modules: dict[str, Module] = {}
        # A URL or an interlink.store.Database, handed to the store unread at startup (the
        # server imports no store to name the type, hence Any).
        self.database = database
        self.authenticator = authenticator
        self.prefix = prefix.rstrip("/")
        self.max_body_size = max_body_size
        # A method taking a FileStream: its whole body, and how long it may take to arrive
        # in all and between two chunks (server/_streamed_form.py).
        self.max_upload_size = max_upload_size
        self.upload_timeout = upload_timeout
        self.upload_idle_timeout = upload_idle_timeout
        self.title = title
        self.version = version
        self.routes = list(routes)
        self.docs = docs
        # Networks of reverse proxies whose X-Forwarded-For is believed (docs/security.md).
        self.trusted_proxies = list(trusted_proxies)
        # Failed-login limits; None = the defaults (5 per user, 20 per address, per minute).
        self.login_limiter = login_limiter
        # Where failed-login counts live: "memory://", "database" or "redis://…" (interlink[redis]);
        # None: the database when there is one, else memory. See server/_ratelimit.py.
        self.login_limits = login_limits
        # What plugs into this server (site pages, callbacks): see server/_extension.py.
        self.extensions: list[Extension] = []
        self._app: ApiApp | None = None

    def module(self, name: str) -> Module:
        module = self.modules.get(name)
        if module is None:
            module = self.modules[name] = Module(self, name)
        return module

    @overload
    def method(self, function: F, /) -> F: ...
    @overload
    def method(
        self, /, *, module: str | None = None, name: str | None = None, requires: Iterable[str] = (),
        callbacks: Iterable[object] = (),
    ) -> Callable[[F], F]: ...

    def method(
        self,
        function: F | None = None,
        /,
        *,
        module: str | None = None,
        name: str | None = None,
        requires: Iterable[str] = (),
        callbacks: Iterable[object] = (),
    ) -> F | Callable[[F], F]:
        """Register a method; its module defaults to the last part of the function's module."""

        def register(fn: F) -> F:
            module_name = module or fn.__module__.rsplit(".", 1)[-1]
            return self.module(module_name).method(name=name, requires=requires, callbacks=callbacks)(fn)

        return register(function) if function is not None else register

    def add(self, method: Method) -> None:
        if method.name in self.methods:
            raise ValueError(f"method {method.name} is already registered")
        self.methods[method.name] = method
        if self._app is not None:
            self._app.add_method(method)

    def path_of(self, method: Method) -> str:
        """The URL path a method is called at: ``/api/<module>/<function>``."""
        return f"{self.prefix}/{method.module}/{method.function_name}"

    def add_extension(self, extension: Extension) -> None:
        """Plug ``extension`` in (``Site(api)`` and ``Callbacks(api)`` do it for themselves).
        Add extensions before the app starts serving: their routes are read when it is built."""
        if extension in self.extensions:
            return
        self.extensions.append(extension)
        self.invalidate()

    def invalidate(self) -> None:
        """Forget what was compiled from the registry — each method's dispatch, the OpenAPI
        document — because an extension changed what it watches or documents."""
        if self._app is not None:
            self._app.invalidate()

    @property
    def app(self) -> ApiApp:
        """The ASGI application, built on first use."""
        if self._app is None:
            from ._app import ApiApp

            self._app = ApiApp(self)
        return self._app

    if not TYPE_CHECKING:  # hidden from type checkers, which would let any attribute through

        def __getattr__(self, name: str) -> Any:
            # Only called for a name the server does not have: say where a moved one went.
            if name in _MOVED:
                raise AttributeError(f"ApiServer.{name} moved: use {_MOVED[name]}")
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await (self._app or self.app)(scope, receive, send)
