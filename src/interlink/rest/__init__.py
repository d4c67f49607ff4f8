"""REST tools: rest-tools' client family on httpx, and its server side on Tornado.

``from interlink.rest import RestClient`` replaces ``from rest_tools.client import RestClient``;
``from interlink.rest import RestServer, RestHandler, ArgumentHandler`` replaces
``rest_tools.server``; ``from interlink.rest import Auth`` replaces ``rest_tools.utils``;
``from interlink.rest import Session, SessionMixin`` replaces ``rest_tools.server.session``
(``interlink.rest.Session`` is that server-side session store, not rest-tools' client
``Session``, a requests session: see the REST client docs).
The server names need Tornado (``pip install 'interlink[rest-server]'``); they are imported
when first used, so client-only users do not need it.
"""

from typing import Any

from interlink.rest._arguments import ArgumentSource
from interlink.rest._client import (
    MAX_RETRIES,
    CalcRetryFromBackoffMax,
    CalcRetryFromWaittimeMax,
    RestClient,
    RestHTTPError,
)
from interlink.rest._device import DeviceGrantAuth, DeviceLoginError, SavedDeviceGrantAuth
from interlink.rest._environment import from_environment, strtobool
from interlink.rest._jwt_auth import Auth, BadJwtKey, OpenIDAuth
from interlink.rest._openid import ClientCredentialsAuth, OpenIDDiscoveryError, OpenIDRestClient
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

# The server side, on Tornado: name -> private module.
_SERVER_NAMES = {
    "RestServer": "_server",
    "RestHandler": "_handler",
    "RestHandlerSetup": "_handler",
    "KeycloakUsernameMixin": "_handler",
    "CorsPolicy": "_handler",
    "OpenIDCookieHandlerMixin": "_login",
    "OpenIDLoginHandler": "_login",
    "ArgumentHandler": "_arghandler",
    "SessionMixin": "_session_mixin",
    "authenticated": "_decorators",
    "catch_error": "_decorators",
    "role_authorization": "_decorators",
    "scope_role_auth": "_decorators",
    "keycloak_role_auth": "_decorators",
    "token_attribute_role_mapping_auth": "_decorators",
    "TokenAttributeRoleMappingProtocol": "_decorators",
    "validate_request": "_openapi_validation",
    "request_and_validate": "_openapi_validation",
    "load_openapi_spec": "_openapi_validation",
    "get_version_vmaj": "_openapi_validation",
}


def __getattr__(name: str) -> Any:
    module_name = _SERVER_NAMES.get(name)
    if module_name is None:
        raise AttributeError(f"module 'interlink.rest' has no attribute {name!r}")
    try:
        import tornado  # noqa: F401
    except ImportError as error:
        raise ImportError(
            f"interlink.rest.{name} needs the rest-server extra ({error}): pip install 'interlink[rest-server]'"
        ) from error
    import importlib

    value = getattr(importlib.import_module(f"interlink.rest.{module_name}"), name)
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
]
