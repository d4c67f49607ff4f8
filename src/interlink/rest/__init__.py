"""REST tools: rest-tools' client family on httpx, and its server side on Tornado.

The modules mirror rest-tools': ``from rest_tools.client import RestClient`` becomes
``from interlink.rest.client import RestClient``, ``from rest_tools.server import RestServer,
RestHandler, ArgumentHandler`` becomes ``from interlink.rest.server import …``. This package
re-exports both, and ``rest_tools.utils``' ``Auth`` and ``from_environment``
(``from interlink.rest import Auth``). ``interlink.rest.Session`` is the server-side session
store of ``rest_tools.server.session``, not rest-tools' client ``Session`` (a requests
session: see the REST client docs).

The server names need Tornado (``pip install 'interlink[rest-server]'``); they are imported
when first used, so client-only users do not need it.
"""

import typing as _typing

from interlink.rest._arguments import ArgumentSource
from interlink.rest._environment import from_environment, strtobool
from interlink.rest._jwt_auth import Auth, BadJwtKey, OpenIDAuth
from interlink.rest._session import (
    MemorySessionStorage,
    RedisSessionStorage,
    Session,
    SessionEntry,
    SessionStorage,
    SessionWrapper,
    StorageTypes,
)
from interlink.rest._stats import RouteStats
from interlink.rest.client import (
    MAX_RETRIES,
    CalcRetryFromBackoffMax,
    CalcRetryFromWaittimeMax,
    ClientCredentialsAuth,
    DeviceGrantAuth,
    DeviceLoginError,
    OpenIDDiscoveryError,
    OpenIDRestClient,
    RestClient,
    RestHTTPError,
    SavedDeviceGrantAuth,
)

# Names of interlink.rest.server that need Tornado, loaded on first use.
_SERVER_NAMES = (
    "RestServer",
    "RestHandler",
    "RestHandlerSetup",
    "KeycloakUsernameMixin",
    "CorsPolicy",
    "OpenIDCookieHandlerMixin",
    "OpenIDLoginHandler",
    "ArgumentHandler",
    "SessionMixin",
    "authenticated",
    "catch_error",
    "role_authorization",
    "scope_role_auth",
    "keycloak_role_auth",
    "token_attribute_role_mapping_auth",
    "TokenAttributeRoleMappingProtocol",
    "validate_request",
)
# rest-tools' openapi_tools and client.utils: openapi-core (and Tornado), loaded on first use.
_OPENAPI_NAMES = ("request_and_validate", "load_openapi_spec", "get_version_vmaj")


def __getattr__(name: str) -> _typing.Any:
    if name in _SERVER_NAMES:
        from interlink.rest import server as module  # raises an ImportError naming the extra
    elif name in _OPENAPI_NAMES:
        from interlink.rest import _openapi_validation as module
    else:
        raise AttributeError(f"module 'interlink.rest' has no attribute {name!r}")
    value = getattr(module, name)
    globals()[name] = value
    return value


__all__ = [
    "RestClient",
    "RestHTTPError",
    "OpenIDRestClient",
    "OpenIDDiscoveryError",
    "ClientCredentialsAuth",
    "DeviceGrantAuth",
    "SavedDeviceGrantAuth",
    "DeviceLoginError",
    "MAX_RETRIES",
    "CalcRetryFromBackoffMax",
    "CalcRetryFromWaittimeMax",
    "from_environment",
    "strtobool",
    "Auth",
    "OpenIDAuth",
    "BadJwtKey",
    "ArgumentSource",
    "RouteStats",
    "Session",
    "SessionEntry",
    "SessionStorage",
    "SessionWrapper",
    "MemorySessionStorage",
    "RedisSessionStorage",
    "StorageTypes",
    *_SERVER_NAMES,
    *_OPENAPI_NAMES,
]
