"""From a service record to a configured client: ``ServiceConfigAdapter`` and ``build_client``.

The adapter reads a record duck-typed (``interlink.store.Service`` or any object with the
same attributes), so this module does not import the store: shells depend on the core,
not on each other. Auth types:

===============================  ==================================================
``none``                         nothing
``basic``                        ``username`` + secret
``api_key``                      secret in ``api_key_header`` (default ``Authorization``)
                                 or ``api_key_query``
``bearer``                       secret as a static bearer token
``oauth2_client_credentials``    ``token_url``, ``client_id`` + secret, ``scope``,
                                 ``client_auth_method`` (basic or post)
``jwt``                          zgw-style HS256 bearer: ``client_id`` + secret,
                                 ``jwt_lifetime``, ``user_id``, ``user_representation``
===============================  ==================================================

Client certificate/key (mTLS) and the server CA are independent of the auth type. Token
requests go through the client's own transport (so they carry the client certificate and
are retried), trusting the system store as well as ``server_ca``: the record's CA is for the
service, and its identity provider is often a public one.
OAuth2 auth objects are shared between clients built for the same credentials, so
building a client per call still fetches one token per token lifetime.
"""

from __future__ import annotations

import hashlib
import threading
from typing import Any

import httpx

from interlink.http._auth import APIKeyAuth, BasicAuth, BearerAuth
from interlink.http._client import APIClient
from interlink.http._jwt_bearer import DEFAULT_LIFETIME, JWTBearerAuth
from interlink.http._oauth2 import OAuth2ClientCredentials
from interlink.http._tls import MutualTLS
from interlink.service_auth import AUTH_TYPES, check_auth_type

__all__ = ["ServiceConfigAdapter", "build_client", "AUTH_TYPES"]

_oauth2_cache: dict[tuple[str, ...], OAuth2ClientCredentials] = {}
_oauth2_lock = threading.Lock()


def _value(service: Any, name: str, default: Any = None) -> Any:
    getter = getattr(service, f"get_{name}", None)
    if callable(getter):
        return getter()
    value = getattr(service, name, default)
    return default if value is None else value


def _shared_oauth2(token_url: str, client_id: str, secret: str, scope: str | None, method: str) -> OAuth2ClientCredentials:
    key = (token_url, client_id, hashlib.sha256(secret.encode()).hexdigest(), scope or "", method)
    with _oauth2_lock:
        auth = _oauth2_cache.get(key)
        if auth is None:
            auth = _oauth2_cache[key] = OAuth2ClientCredentials(
                token_url, client_id, secret, scope=scope, auth_method=method  # type: ignore[arg-type]
            )
        return auth


class ServiceConfigAdapter:
    """A :class:`~interlink.http.ConfigAdapter` over a service record."""

    def __init__(self, service: Any) -> None:
        self.service = service

    def get_client_base_url(self) -> str:
        return str(_value(self.service, "base_url"))

    def auth(self) -> httpx.Auth | None:
        service = self.service
        auth_type = check_auth_type(_value(service, "auth_type", "none"))
        secret = _value(service, "secret", "") or ""
        if auth_type == "none":
            return None
        if auth_type == "basic":
            return BasicAuth(_value(service, "username", ""), secret)
        if auth_type == "api_key":
            query = _value(service, "api_key_query") or None
            return APIKeyAuth(secret, header=None if query else (_value(service, "api_key_header") or None), query=query)
        if auth_type == "bearer":
            return BearerAuth(secret)
        if auth_type == "oauth2_client_credentials":
            return _shared_oauth2(
                _value(service, "token_url"), _value(service, "client_id"), secret,
                _value(service, "scope") or None, _value(service, "client_auth_method", "client_secret_basic"),
            )
        if auth_type == "jwt":
            return JWTBearerAuth(
                _value(service, "client_id"), secret,
                lifetime=int(_value(service, "jwt_lifetime", DEFAULT_LIFETIME)),
                user_id=_value(service, "user_id", ""),
                user_representation=_value(service, "user_representation", ""),
            )
        raise AssertionError(f"auth type {auth_type!r} is in AUTH_TYPES but has no flow here")

    def get_client_session_kwargs(self) -> dict[str, Any]:
        service = self.service
        kwargs: dict[str, Any] = {}
        auth = self.auth()
        if auth is not None:
            kwargs["auth"] = auth
        headers = _value(service, "extra_headers") or {}
        if headers:
            kwargs["headers"] = dict(headers)
        timeout = _value(service, "timeout")
        if timeout:
            kwargs["timeout"] = float(timeout)
        ca = _value(service, "server_ca") or None
        cert = _value(service, "client_certificate") or None
        key = _value(service, "client_private_key") or None
        if cert:
            kwargs["cert"] = MutualTLS(cert=cert, key=key, ca=ca)
        elif ca:
            kwargs["verify"] = ca
        return kwargs


def build_client(service: Any, *, client_class: type = APIClient, **kwargs: Any) -> Any:
    """A client for ``service``: ``build_client(svc)`` (sync) or
    ``build_client(svc, client_class=AsyncAPIClient)``."""
    return client_class.configure_from(ServiceConfigAdapter(service), **kwargs)
