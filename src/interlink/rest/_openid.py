"""OpenID Connect discovery, ``OpenIDRestClient`` (refresh tokens) and ``ClientCredentialsAuth``.

``token_url`` is the *issuer*, as in rest-tools: the token endpoint comes from
``{token_url}/.well-known/openid-configuration``. An unreachable or malformed discovery
document raises :class:`OpenIDDiscoveryError` (rest-tools logged it and carried on with
``provider_info`` empty, failing later with a KeyError).

Both clients set an ``interlink.http.TokenFlow`` as their httpx auth: the refresh grant
(:class:`RefreshTokenFlow`) or ``OAuth2ClientCredentials``. Token requests are yielded by
that flow and sent by the client's own transport, so they carry the client certificate and
are retried like any request; discovery uses the same TLS settings (the system store plus
``cacert``: the identity provider is often public while the service's CA is private).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import httpx

from interlink.http._errors import ClientError, TokenRequestError
from interlink.http._oauth2 import ClientAuthMethod, Flow, OAuth2ClientCredentials, TokenFlow, TokenState, token_request
from interlink.http._transport import TOKEN_REQUEST
from interlink.rest._client import TOKEN_EXPIRY_MARGIN, RestClient, TokenType, hold_token

__all__ = ["OpenIDDiscoveryError", "discover", "OpenIDRestClient", "ClientCredentialsAuth", "RefreshTokenFlow"]

UpdateFunc = Callable[[TokenType, TokenType | None], None]


class OpenIDDiscoveryError(ClientError, RuntimeError):
    """The issuer's ``.well-known/openid-configuration`` could not be read or is not usable."""


def discover(issuer: str, http: httpx.Client) -> dict[str, Any]:
    """The issuer's discovery document (must name a ``token_endpoint``), read with ``http``."""
    url = issuer.rstrip("/") + "/.well-known/openid-configuration"
    try:
        response = http.get(url, extensions={TOKEN_REQUEST: True})
    except httpx.HTTPError as exc:
        raise OpenIDDiscoveryError(f"cannot reach the OpenID provider at {url}: {exc}") from exc
    if response.status_code != 200:
        raise OpenIDDiscoveryError(f"OpenID discovery at {url} answered HTTP {response.status_code}")
    try:
        document = response.json()
    except ValueError as exc:
        raise OpenIDDiscoveryError(f"OpenID discovery at {url} did not return JSON") from exc
    if not isinstance(document, dict) or not isinstance(document.get("token_endpoint"), str):
        raise OpenIDDiscoveryError(f"OpenID discovery document at {url} has no token_endpoint")
    return document


def _discover_for(client: RestClient, issuer: str) -> dict[str, Any]:
    # No retries: an unreachable provider is reported at once, where the client is made.
    with client.idp_client(retry=False) as http:
        return discover(issuer, http)


class RefreshTokenFlow(TokenFlow):
    """Access tokens from an OpenID refresh token; a rotated refresh token is kept and handed
    to ``update_func``. Public clients (no secret) send only their ``client_id``."""

    def __init__(self, token_endpoint: str, refresh_token: TokenType | None, client_id: str,
                 client_secret: str | None, update_func: UpdateFunc | None, logger: logging.Logger) -> None:
        method: ClientAuthMethod = "client_secret_post" if client_secret else "none"
        super().__init__(TokenState(token_endpoint, client_id, client_secret or "", auth_method=method,
                                    leeway=TOKEN_EXPIRY_MARGIN), clock=time.time)
        self.refresh_token = refresh_token
        self.update_func = update_func
        self.logger = logger

    def fetch(self) -> Flow:
        if not self.refresh_token:
            raise TokenRequestError("no refresh token available")
        refresh = self.refresh_token.decode("ascii") if isinstance(self.refresh_token, bytes) else self.refresh_token
        response = yield token_request(self.state.request({"grant_type": "refresh_token", "refresh_token": refresh}))
        assert response is not None
        now = self._clock()
        data = self.state.accept(response.status_code, response.content, now)
        if self.state.expires_at is None:  # no expires_in: the JWT's exp, if it is one
            hold_token(self.state, str(data["access_token"]), None, now)
        new_refresh = data.get("refresh_token")
        if new_refresh:
            self.refresh_token = new_refresh
            if self.update_func:
                self.update_func(str(data["access_token"]), new_refresh)
        self.logger.debug("OpenID token refreshed")


class OpenIDRestClient(RestClient):
    """A REST client whose access token comes from an OpenID refresh token.

    Args:
        address: base address of the REST API
        token_url: the OpenID issuer (discovery document under it)
        refresh_token: the initial refresh token
        client_id / client_secret: the OAuth2 client (secret optional: public clients)
        update_func: called with ``(access_token, refresh_token)`` whenever the provider
            hands out a new refresh token (``SavedDeviceGrantAuth`` saves it)
    """

    auth: RefreshTokenFlow

    def __init__(
        self,
        address: str,
        token_url: str,
        refresh_token: TokenType,
        client_id: str,
        client_secret: str | None = None,
        update_func: UpdateFunc | None = None,
        *,
        initial_access_token: tuple[str, float | None] | None = None,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("logger", logging.getLogger("OpenIDRestClient"))
        super().__init__(address, **kwargs)
        self.provider_info = _discover_for(self, token_url)
        self.token_url = token_url
        self.token_endpoint: str = self.provider_info["token_endpoint"]
        self.client_id = client_id
        self.client_secret = client_secret
        self.auth = RefreshTokenFlow(self.token_endpoint, refresh_token, client_id, client_secret, update_func,
                                     self.logger)
        if initial_access_token is not None:
            hold_token(self.auth.state, initial_access_token[0], initial_access_token[1], time.time())
        else:
            self._refresh_now()  # fail now, not on the first request

    @property
    def refresh_token(self) -> TokenType | None:
        return self.auth.refresh_token

    @property
    def update_func(self) -> UpdateFunc | None:
        return self.auth.update_func


class ClientCredentialsAuth(RestClient):
    """A REST client for services: OAuth2 client credentials against the issuer ``token_url``.

    ``client_auth_method`` (keyword) puts the secret in HTTP Basic (default) or the body
    (``"client_secret_post"``); ``scopes`` (keyword) are requested if given.
    """

    auth: OAuth2ClientCredentials

    def __init__(
        self,
        address: str,
        token_url: str,
        client_id: str,
        client_secret: str,
        *,
        client_auth_method: ClientAuthMethod = "client_secret_basic",
        scopes: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("logger", logging.getLogger("ClientCredentialsAuth"))
        super().__init__(address, **kwargs)
        self.provider_info = _discover_for(self, token_url)
        self.token_url = token_url
        self.client_id = client_id
        self.auth = OAuth2ClientCredentials(self.provider_info["token_endpoint"], client_id, client_secret,
                                            scope=" ".join(scopes) if scopes else None,
                                            auth_method=client_auth_method)

    @property
    def token_fetches(self) -> int:
        return self.auth.token_fetches

    def make_access_token(self) -> str:
        """A new access token (rest-tools' name)."""
        return self._refresh_now()
