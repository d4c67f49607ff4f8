"""``RestHandler`` and ``RestHandlerSetup``: rest-tools' Tornado request handler.

A handler is a real ``tornado.web.RequestHandler`` (``self.write``, ``self.get_argument``,
``self.set_status``, ``raise HTTPError(400, reason=…)`` all are Tornado's), with rest-tools'
additions: ``Authorization: bearer <jwt>`` makes ``current_user`` the token's ``sub`` and
``auth_data`` its claims; ``get_argument`` looks in the query, then the JSON body; every error
is ``{"code": status, "error": reason}``.

Beyond rest-tools, each fixed or added on purpose:

* the ``Server`` header is the configured one on every response (rest-tools sent an empty one
  except on errors);
* CORS by configuration (``config["cors"]``): allowed origins, and preflight requests answered;
* interlink keys: with ``RestHandlerSetup(config, authenticator=…)`` (interlink's store), a
  bearer credential ``k-…:secret`` is checked by the store and the same decorators apply.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Iterable
from typing import Any

import tornado.web

from interlink.credentials import split_key_password
from interlink.observe import observer
from interlink.rest._arguments import ArgumentProblem, read_json_object
from interlink.rest._jwt_auth import Auth, OpenIDAuth
from interlink.rest._stats import RouteStats, RouteStatsTable

__all__ = ["CorsPolicy", "KeycloakUsernameMixin", "RestHandler", "RestHandlerSetup"]

LOGGER = logging.getLogger("interlink.rest")


class CorsPolicy:
    """Which browser origins may call, with what (``config["cors"]`` of ``RestHandlerSetup``).

    ``allowed_origins``: exact origins (``"https://app.example.org"``) or ``"*"`` for any;
    ``allow_headers``: request headers a preflight may ask for (``Authorization`` and
    ``Content-Type`` by default); ``expose_headers``; ``allow_credentials``; ``max_age``.
    """

    def __init__(
        self,
        allowed_origins: Iterable[str] = (),
        allow_headers: Iterable[str] = ("Authorization", "Content-Type"),
        expose_headers: Iterable[str] = (),
        allow_credentials: bool = False,
        max_age: int = 600,
    ) -> None:
        if isinstance(allowed_origins, str):
            allowed_origins = [allowed_origins]
        origins = [origin.rstrip("/") for origin in allowed_origins]
        self.any_origin = "*" in origins
        self.origins = frozenset(origins)
        self.allow_headers = ", ".join(allow_headers)
        self.expose_headers = ", ".join(expose_headers)
        self.allow_credentials = allow_credentials
        self.max_age = max_age

    def allows(self, origin: str) -> bool:
        return self.any_origin or origin in self.origins


def RestHandlerSetup(config: dict[str, Any] | None = None, *, authenticator: Any = None) -> dict[str, Any]:
    """The keyword arguments for a route's handler, built from ``config`` as rest-tools does:
    ``debug``, ``auth`` (``secret``… for ``Auth``, ``openid_url`` for ``OpenIDAuth``; ``url``),
    ``rest_api.auth_key``, ``server_header`` (default ``"REST"``), ``route_stats``; and,
    added here, ``cors`` (see ``CorsPolicy``) and ``authenticator`` for interlink keys."""
    config = config or {}
    auth: Auth | OpenIDAuth | None = None
    auth_url = ""
    auth_config = config.get("auth")
    if auth_config is not None:
        kwargs = {k: auth_config[k] for k in ("leeway", "audience", "issuers") if k in auth_config}
        if "secret" in auth_config:
            kwargs.update(
                {k: auth_config[k] for k in ("secret", "issuer", "algorithm", "expiration", "expiration_temp") if k in auth_config}
            )
            kwargs.pop("expiration_temp", None)  # rest-tools passes it on; its Auth has no use for it
            auth = Auth(**kwargs)
        elif "openid_url" in auth_config:
            if "algorithms" in auth_config:
                kwargs["algorithms"] = auth_config["algorithms"]
            auth = OpenIDAuth(auth_config["openid_url"], **kwargs)
            auth_url = auth.token_url or auth_url
        if "url" in auth_config:
            auth_url = auth_config["url"]
    module_auth_key = config.get("rest_api", {}).get("auth_key", "")
    if "route_stats" in config:
        route_stats = RouteStatsTable(functools.partial(RouteStats, **config["route_stats"]))
    else:
        route_stats = RouteStatsTable()
    setup: dict[str, Any] = {
        "debug": bool(config.get("debug")),
        "auth": auth,
        "auth_url": auth_url,
        "module_auth_key": module_auth_key,
        "server_header": config.get("server_header", "REST"),
        "route_stats": route_stats,
    }
    cors = config.get("cors")
    if cors is not None:
        setup["cors"] = cors if isinstance(cors, CorsPolicy) else CorsPolicy(**cors)
    if authenticator is not None:
        setup["authenticator"] = authenticator
    return setup


class RestHandler(tornado.web.RequestHandler):
    """rest-tools' default REST handler, on Tornado."""

    # Defaults for a handler made outside a server (rest-tools' own tests build one bare).
    debug = False
    auth: Auth | OpenIDAuth | None = None
    auth_url: str | None = None
    auth_key = ""
    module_auth_key = ""
    server_header = ""
    route_stats: Any = None
    cors: CorsPolicy | None = None
    authenticator: Any = None
    _key_claims: dict[str, Any] | None = None

    def __init__(self, application: Any = None, request: Any = None, **kwargs: Any) -> None:
        self.auth_data: dict[str, Any] = {}
        if application is None and request is None:
            return  # bare, for tests that set attributes by hand (as rest-tools' do)
        if getattr(request, "connection", None) is None:
            # A request built by hand, outside a server, perhaps on a stand-in application
            # (rest-tools' own argument tests do this): Tornado's setup may fail part way, as
            # it does under rest-tools, leaving a handler good for reading its request.
            self.application = application
            self.request = request
            try:
                super().__init__(application, request, **kwargs)
            except Exception as exc:
                LOGGER.debug("handler built outside a server: %s", exc)
            return
        super().__init__(application, request, **kwargs)

    def initialize(  # type: ignore[override]
        self,
        debug: bool = False,
        auth: Auth | OpenIDAuth | None = None,
        auth_url: str | None = None,
        module_auth_key: str = "",
        server_header: str = "",
        route_stats: Any = None,
        cors: CorsPolicy | None = None,
        authenticator: Any = None,
        **kwargs: Any,
    ) -> None:
        super().initialize(**kwargs)
        self.debug = debug
        self.auth = auth
        self.auth_url = auth_url
        self.auth_data = {}
        self.auth_key = ""
        self.module_auth_key = module_auth_key
        self.server_header = server_header
        self.route_stats = route_stats
        self.cors = cors
        self.authenticator = authenticator
        if getattr(self, "_headers", None) is not None:
            self.set_default_headers()  # now that the configuration is known

    # -- headers --------------------------------------------------------------------------
    def set_default_headers(self) -> None:
        if self.server_header:
            self._headers["Server"] = self.server_header
        else:
            self._headers.pop("Server", None)
        if self.cors is not None:
            origin = self.request.headers.get("Origin")
            if origin and self.cors.allows(origin):
                star = self.cors.any_origin and not self.cors.allow_credentials
                self._headers["Access-Control-Allow-Origin"] = "*" if star else origin
                if not star:
                    self._headers["Vary"] = "Origin"
                if self.cors.allow_credentials:
                    self._headers["Access-Control-Allow-Credentials"] = "true"
                if self.cors.expose_headers:
                    self._headers["Access-Control-Expose-Headers"] = self.cors.expose_headers

    async def options(self, *args: Any, **kwargs: Any) -> None:
        """A CORS preflight, when CORS is configured; otherwise 405 as Tornado's default."""
        origin = self.request.headers.get("Origin")
        wanted = self.request.headers.get("Access-Control-Request-Method")
        if self.cors is None or not origin or not wanted:
            raise tornado.web.HTTPError(405)
        if not self.cors.allows(origin):
            raise tornado.web.HTTPError(403, reason="CORS origin not allowed")
        methods = [m for m in self.SUPPORTED_METHODS if m != "OPTIONS" and self._implements(m)]
        if wanted.upper() not in methods:
            raise tornado.web.HTTPError(405, reason="CORS method not allowed")
        self.set_status(204)
        self.set_header("Access-Control-Allow-Methods", ", ".join(methods))
        self.set_header("Access-Control-Allow-Headers", self.cors.allow_headers)
        self.set_header("Access-Control-Max-Age", str(self.cors.max_age))
        self.finish()

    def _implements(self, method: str) -> bool:
        own = getattr(type(self), method.lower(), None)
        return own is not None and own is not getattr(tornado.web.RequestHandler, method.lower(), None)

    # -- who calls -------------------------------------------------------------------------
    async def _execute(self, transforms: Any, *args: bytes, **kwargs: bytes) -> None:
        # Reported to interlink's observer (a server span with tracing on: docs/observability.md),
        # named by handler class: a path may carry ids.
        request = self.request
        with observer().handling(f"{request.method} {type(self).__name__}", request.method or "",
                                 request.headers) as handling:
            try:
                # An interlink key is checked by the store, which is asynchronous; Tornado's
                # get_current_user is not, so the key is checked here, before prepare() and the method.
                if self.authenticator is not None:
                    try:
                        self._key_claims = await self._check_key()
                    except Exception as exc:  # Forbidden (address not allowed), store unreachable…
                        LOGGER.info("interlink key refused: %s", exc)
                        self._key_claims = None
                await super()._execute(transforms, *args, **kwargs)
            finally:
                handling.finished(self.get_status())

    async def _check_key(self) -> dict[str, Any] | None:
        scheme, _, credential = self.request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer":
            return None
        pair = split_key_password(credential.strip())
        if pair is None:
            return None
        key_id, secret = pair
        role = await self.authenticator.authenticate_key(key_id, secret, client=self.request.remote_ip)
        if role is None:
            return None
        return key_claims(key_id, role)

    def get_current_user(self) -> str | None:
        """The token's ``sub`` (and ``auth_data`` its claims), or ``None``."""
        if self._key_claims is not None:
            self.auth_data = self._key_claims
            self.auth_key = self._key_claims["interlink_key"]  # the key id: never keep its secret
            return self._key_claims["sub"]
        try:
            kind, token = self.request.headers["Authorization"].split(" ", 1)
            if kind.lower() != "bearer":
                raise ValueError("not a bearer credential")
            if self.auth is None:
                raise RuntimeError("need to set auth in order to validate tokens!")
            data = self.auth.validate(token.strip())
            self.auth_data = data
            self.auth_key = token.strip()
            return data["sub"]
        except Exception as exc:
            LOGGER.info("failed auth: %s", type(exc).__name__)
            if LOGGER.isEnabledFor(logging.DEBUG):
                LOGGER.debug("auth failure", exc_info=True)
        return None

    # -- route stats -----------------------------------------------------------------------
    def prepare(self) -> Any:
        if self.route_stats is not None:
            stat = self.route_stats[self.request.path]
            if stat.is_overloaded():
                backoff = stat.get_backoff_time()
                LOGGER.warning("Server is overloaded, backoff %r", backoff)
                # Kept for write_error: raising clears the headers set so far (rest-tools lost
                # its Retry-After that way).
                self._retry_after = max(1, int(backoff))
                raise tornado.web.HTTPError(503, reason="server overloaded")
            self.start_time = time.time()
        return None

    def on_finish(self) -> None:
        if self.route_stats is not None and self.get_status() < 500 and hasattr(self, "start_time"):
            self.route_stats[self.request.path].append(time.time() - self.start_time)

    # -- errors ----------------------------------------------------------------------------
    def write_error(self, status_code: int = 500, **kwargs: Any) -> None:
        """Every error as ``{"code": status, "error": reason}`` (the status line's reason)."""
        if status_code == 503 and getattr(self, "_retry_after", None):
            self.set_header("Retry-After", self._retry_after)
        self.write({"code": status_code, "error": self._reason})
        self.finish()

    # -- arguments -------------------------------------------------------------------------
    @functools.cached_property
    def json_body_arguments(self) -> dict[str, Any]:
        """The request body's JSON object (``{}`` for no body); 400 when it is not one."""
        try:
            return read_json_object(self.request.body)
        except ArgumentProblem as exc:
            raise tornado.web.HTTPError(400, reason=str(exc)) from None

    def get_argument(  # type: ignore[override]
        self,
        name: str,
        default: Any = tornado.web._ARG_DEFAULT,
        strip: bool = True,
        type: Any = None,
        choices: Any = None,
        forbiddens: Any = None,
        strict_type: Any = None,
    ) -> Any:
        """The argument from the query, else the JSON body, else ``default`` (400 without one)."""
        if type is not None or choices is not None or forbiddens is not None or strict_type is not None:
            raise RuntimeError("advanced argument checking is deprecated, please use ArgumentHandler instead")
        try:
            return super().get_argument(name, strip=strip)
        except tornado.web.MissingArgumentError:
            pass
        try:
            return self.json_body_arguments[name]
        except KeyError:
            pass
        return super().get_argument(name, default, strip=strip)


def key_claims(key_id: str, role: Any) -> dict[str, Any]:
    """What a handler sees of an interlink key, shaped like token claims so that the same
    decorators apply: ``role`` (``role_authorization``), ``realm_access.roles``
    (``keycloak_role_auth``), ``scope`` (the role's permissions)."""
    user = getattr(role, "user", None)
    username = getattr(user, "username", None) or getattr(role, "api_id", None) or key_id
    name = getattr(role, "name", None) or ""
    permissions = sorted(getattr(role, "permissions", None) or ())
    return {
        "sub": username,
        "role": name,
        "realm_access": {"roles": [name]},
        "scope": " ".join(str(p) for p in permissions),
        "iss": "interlink",
        "interlink_key": key_id,
    }


class KeycloakUsernameMixin:
    """``current_user`` is the token's ``preferred_username`` (else ``upn``), as rest-tools'."""

    auth_data: dict[str, Any]

    def get_current_user(self) -> str | None:
        if not super().get_current_user():  # type: ignore[misc]
            return None
        username = self.auth_data.get("preferred_username") or self.auth_data.get("upn")
        if not username:
            LOGGER.info("could not find auth username")
        return username
