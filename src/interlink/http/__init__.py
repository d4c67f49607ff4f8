"""Clients for other services: base-URL clients, config adapters, auth schemes, service clients.

``from interlink.http import APIClient`` replaces ``from ape_pie import APIClient``;
``build_client``, ``connection_check`` and ``pagination_helper`` replace zgw-consumers'.
Errors raised here are client-side :class:`ClientError` instances, never the wire errors of
``interlink.errors`` (what a server answers).
"""

from interlink.http._auth import APIKeyAuth, BasicAuth, BearerAuth
from interlink.http._bounds import (
    DEADLINE,
    DEFAULT_MAX_RESPONSE_BYTES,
    MAX_RESPONSE_BYTES,
    AsyncBoundedTransport,
    BoundedTransport,
    DeadlineExceeded,
    ResponseTooLarge,
    aread_at_most,
    read_at_most,
)
from interlink.http._client import APIClient, AsyncAPIClient, ConfigAdapter, RequestKwargs
from interlink.http._errors import REQUEST_ERRORS, ClientError, InvalidURLError, TokenRequestError
from interlink.http._jwt_bearer import JWTBearerAuth
from interlink.http._oauth2 import OAuth2ClientCredentials, TokenFlow, TokenState
from interlink.http._retry import RetryPolicy
from interlink.http._pagination import PaginationError, pagination_helper
from interlink.http._service_client import ServiceConfigAdapter, build_client, connection_check
from interlink.http._tls import MutualTLS, ssl_context
from interlink.http._transport import TOKEN_REQUEST, AsyncRetryTransport, RetryTransport
from interlink.http._urls import is_base_url
from interlink.urls import redact_url

__all__ = [
    "APIClient",
    "AsyncAPIClient",
    "ConfigAdapter",
    "RequestKwargs",
    "is_base_url",
    "ClientError",
    "InvalidURLError",
    "REQUEST_ERRORS",
    "PaginationError",
    "pagination_helper",
    "connection_check",
    "BasicAuth",
    "APIKeyAuth",
    "BearerAuth",
    "MutualTLS",
    "OAuth2ClientCredentials",
    "TokenRequestError",
    "TokenFlow",
    "TokenState",
    "RetryTransport",
    "AsyncRetryTransport",
    "TOKEN_REQUEST",
    "BoundedTransport",
    "AsyncBoundedTransport",
    "DEADLINE",
    "MAX_RESPONSE_BYTES",
    "DEFAULT_MAX_RESPONSE_BYTES",
    "DeadlineExceeded",
    "ResponseTooLarge",
    "read_at_most",
    "aread_at_most",
    "redact_url",
    "JWTBearerAuth",
    "RetryPolicy",
    "ServiceConfigAdapter",
    "build_client",
    "ssl_context",
]
