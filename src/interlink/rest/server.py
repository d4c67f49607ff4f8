"""rest-tools' ``rest_tools.server``: ``from rest_tools.server import RestServer, RestHandler``
becomes ``from interlink.rest.server import RestServer, RestHandler``.

The server runs on Tornado, as rest-tools' does (handlers call Tornado's ``RequestHandler``
API): ``pip install 'interlink[rest-server]'``. Besides ``rest_tools.server``'s own names this
module has those of its submodules that users import: ``rest_tools.server.session``'s
``Session`` family and ``SessionMixin``, ``rest_tools.server.stats``' ``RouteStats``; and
interlink's addition, ``CorsPolicy``. ``validate_request`` loads openapi-core (about a second)
when first used, not when this module is imported.
"""

from __future__ import annotations

import typing as _typing

try:
    import tornado as _tornado  # noqa: F401
except ImportError as _error:  # pragma: no cover - depends on the installed extras
    raise ImportError(
        f"interlink.rest.server needs the rest-server extra ({_error}): "
        "pip install 'interlink[rest-server]'"
    ) from _error

from interlink.rest._arghandler import ArgumentHandler
from interlink.rest._arguments import ArgumentSource
from interlink.rest._decorators import (
    TokenAttributeRoleMappingProtocol,
    authenticated,
    catch_error,
    keycloak_role_auth,
    role_authorization,
    scope_role_auth,
    token_attribute_role_mapping_auth,
)
from interlink.rest._handler import CorsPolicy, KeycloakUsernameMixin, RestHandler, RestHandlerSetup
from interlink.rest._login import OpenIDCookieHandlerMixin, OpenIDLoginHandler
from interlink.rest._server import RestServer
from interlink.rest._session import (
    MemorySessionStorage,
    RedisSessionStorage,
    Session,
    SessionEntry,
    SessionStorage,
    SessionWrapper,
    StorageTypes,
)
from interlink.rest._session_mixin import SessionMixin
from interlink.rest._stats import RouteStats

if _typing.TYPE_CHECKING:
    from interlink.rest._openapi_validation import validate_request


def __getattr__(name: str) -> _typing.Any:
    if name != "validate_request":
        raise AttributeError(f"module 'interlink.rest.server' has no attribute {name!r}")
    from interlink.rest._openapi_validation import validate_request

    globals()[name] = validate_request
    return validate_request

__all__ = [
    # rest_tools.server's names
    "RestServer",
    "RestHandlerSetup",
    "RestHandler",
    "KeycloakUsernameMixin",
    "OpenIDCookieHandlerMixin",
    "OpenIDLoginHandler",
    "authenticated",
    "catch_error",
    "role_authorization",
    "scope_role_auth",
    "keycloak_role_auth",
    "token_attribute_role_mapping_auth",
    "TokenAttributeRoleMappingProtocol",
    "ArgumentHandler",
    "ArgumentSource",
    "validate_request",
    # rest_tools.server.session
    "Session",
    "SessionEntry",
    "SessionStorage",
    "SessionWrapper",
    "MemorySessionStorage",
    "RedisSessionStorage",
    "StorageTypes",
    # rest_tools.server.stats
    "RouteStats",
    # interlink's additions
    "CorsPolicy",
    "SessionMixin",
]
