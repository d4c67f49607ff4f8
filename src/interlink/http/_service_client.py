"""From a service record to a configured client: ``ServiceConfigAdapter`` and ``build_client``.

The adapter reads a record duck-typed (``interlink.store.Service`` or any object with the
same attributes), so this module does not import the store: shells depend on the core,
not on each other. Auth types (zgw-consumers' names; ``none`` and ``jwt`` are accepted aliases):

===============================  ==================================================
``no_auth``                      nothing
``basic``                        ``username`` + secret
``api_key``                      secret in ``api_key_header`` (default ``Authorization``)
                                 or ``api_key_query``
``bearer``                       secret as a static bearer token
``oauth2_client_credentials``    ``token_url``, ``client_id`` + secret, ``scope``,
                                 ``client_auth_method`` (default: HTTP Basic as
                                 requests-oauthlib sends it)
``zgw``                          zgw-consumers' HS256 bearer: ``client_id`` + secret,
                                 ``jwt_lifetime``, ``user_id``, ``user_representation``
===============================  ==================================================

Client certificate/key (mTLS) and the server CA are independent of the auth type. Token
requests go through the client's own transport (so they are retried and share its
timeout) but, as zgw-consumers' requests-oauthlib session does, with the system trust store
and no client certificate: the record's CA and certificate are for the service, and its
identity provider is usually someone else's server. A record whose ``token_use_client_tls``
is true sends them with the service's TLS settings (the system store plus ``server_ca``,
and the client certificate) instead.
OAuth2 auth objects are shared between clients built for the same credentials, so
building a client per call still fetches one token per token lifetime.
The timeout is the record's, else zgw-consumers' default of 10 seconds for connecting and
for reading alike (requests applies one number to both).
"""

from __future__ import annotations

import hashlib
import logging
import threading
from typing import Any, TypeVar, overload

import httpx

from interlink.http._auth import APIKeyAuth, BasicAuth, BearerAuth
from interlink.http._client import APIClient
from interlink.http._jwt_bearer import DEFAULT_LIFETIME, JWTBearerAuth
from interlink.http._oauth2 import OAuth2ClientCredentials
from interlink.http._tls import MutualTLS
from interlink.service_auth import AUTH_TYPES, check_auth_type

__all__ = ["ServiceConfigAdapter", "build_client", "connection_check", "AUTH_TYPES", "DEFAULT_SERVICE_TIMEOUT"]

#: zgw-consumers' ``Service.timeout`` default: one number, for connecting and reading.
DEFAULT_SERVICE_TIMEOUT = 10.0

logger = logging.getLogger(__name__)

C = TypeVar("C")

_oauth2_cache: dict[tuple[str, ...], OAuth2ClientCredentials] = {}
_oauth2_lock = threading.Lock()


def _value(service: object, name: str, default: Any = None) -> Any:
    # A record of any class (interlink's Service, a zgw-consumers-like model, a settings
    # object): its fields are read by name, so their values are Any.
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

    def __init__(self, service: object) -> None:
        self.service = service

    def get_client_base_url(self) -> str:
        return str(_value(self.service, "base_url"))

    def auth(self) -> httpx.Auth | None:
        service = self.service
        auth_type = check_auth_type(_value(service, "auth_type", "no_auth") or "no_auth")
        secret = _value(service, "secret", "") or ""
        if auth_type == "no_auth":
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
                _value(service, "scope") or None, _value(service, "client_auth_method") or "client_secret_basic_raw",
            )
        if auth_type == "zgw":
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
        kwargs["timeout"] = float(timeout) if timeout else DEFAULT_SERVICE_TIMEOUT  # connect and read alike
        ca = _value(service, "server_ca") or None
        cert = _value(service, "client_certificate") or None
        key = _value(service, "client_private_key") or None
        # Only a token flow sends token requests, and only TLS settings make them differ.
        if isinstance(auth, OAuth2ClientCredentials) and (ca or cert) \
                and not _value(service, "token_use_client_tls", False):
            kwargs["token_tls"] = "default"
        if cert:
            kwargs["cert"] = MutualTLS(cert=cert, key=key, ca=ca)
        elif ca:
            kwargs["verify"] = ca
        return kwargs


@overload
def build_client(service: object, client_factory: None = None, *, client_class: None = None,
                 **kwargs: Any) -> APIClient: ...
@overload
def build_client(service: object, client_factory: type[C], *, client_class: type[C] | None = None,
                 **kwargs: Any) -> C: ...
@overload
def build_client(service: object, client_factory: None = None, *, client_class: type[C],
                 **kwargs: Any) -> C: ...
def build_client(service: object, client_factory: type[Any] | None = None, *,
                 client_class: type[Any] | None = None, **kwargs: Any) -> Any:
    """A client for ``service``: ``build_client(svc)`` (sync), or with zgw-consumers' keyword
    ``build_client(svc, client_factory=AsyncAPIClient)`` (``client_class=`` is the same).
    Extra ``kwargs`` go to ``client_factory.configure_from`` (for subclasses)."""
    if client_factory is not None and client_class is not None and client_factory is not client_class:
        raise TypeError("give client_factory= or client_class=, not both")
    factory = client_factory or client_class or APIClient
    configure = getattr(factory, "configure_from", None)
    if configure is None:
        raise TypeError(f"client_factory must have configure_from(adapter) (an APIClient subclass), not {factory!r}")
    return configure(ServiceConfigAdapter(service), **kwargs)


def connection_check(service: object, path: str | None = None) -> int | None:
    """The HTTP status of a GET to the record's ``api_connection_check_path`` (or ``path``,
    else the base URL), or ``None`` when the service cannot be reached — zgw-consumers'
    ``Service.connection_check``. The failure is logged at INFO, without secrets."""
    target = path or _value(service, "api_connection_check_path", "") or ""
    try:
        with build_client(service) as client:
            return int(client.get(target).status_code)
    except Exception as exc:  # noqa: BLE001 - a check reports, it does not raise (as upstream)
        logger.info("connection check of service %r failed: %s", _value(service, "slug", "?"), type(exc).__name__)
        return None
