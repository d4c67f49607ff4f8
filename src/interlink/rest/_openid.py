"""OpenID Connect discovery, ``OpenIDRestClient`` (refresh tokens) and ``ClientCredentialsAuth``.

``token_url`` is the *issuer*, as in rest-tools: the token endpoint comes from
``{token_url}/.well-known/openid-configuration``. An unreachable or malformed discovery
document raises :class:`OpenIDDiscoveryError` (rest-tools logged it and carried on with
``provider_info`` empty, failing later with a KeyError).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import httpx

from interlink.http._jwt import expires_at
from interlink.http._oauth2 import ClientAuthMethod, TokenRequestError, TokenState, parse_token_response
from interlink.rest._client import RestClient, TokenType

__all__ = ["OpenIDDiscoveryError", "discover", "OpenIDRestClient", "ClientCredentialsAuth"]

UpdateFunc = Callable[[TokenType, TokenType | None], None]


class OpenIDDiscoveryError(RuntimeError):
    """The issuer's ``.well-known/openid-configuration`` could not be read or is not usable."""


def discover(issuer: str, *, timeout: float = 10.0, verify: Any = True) -> dict[str, Any]:
    """The issuer's discovery document (must name a ``token_endpoint``)."""
    url = issuer.rstrip("/") + "/.well-known/openid-configuration"
    try:
        response = httpx.get(url, timeout=timeout, verify=verify, follow_redirects=True)
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


def _expiry(data: dict[str, Any], token: str) -> float | None:
    lifetime = data.get("expires_in")
    if isinstance(lifetime, (int, float)):
        return time.time() + float(lifetime)
    return expires_at(token)


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
        self.provider_info = discover(token_url, verify=self._verify())
        self.token_url = token_url
        self.token_endpoint: str = self.provider_info["token_endpoint"]
        self.refresh_token: TokenType | None = refresh_token
        self.client_id = client_id
        self.client_secret = client_secret
        self.update_func = update_func
        if initial_access_token is not None:
            self._store(initial_access_token)
        else:
            self._store(self._fetch_token())  # fail now, not on the first request

    def _verify(self) -> Any:
        return self.kwargs.get("cacert", True)

    def _has_token_source(self) -> bool:
        return True

    def _refresh_form(self) -> dict[str, str]:
        if not self.refresh_token:
            raise TokenRequestError("no refresh token available")
        form = {"grant_type": "refresh_token", "refresh_token": _text(self.refresh_token), "client_id": self.client_id}
        if self.client_secret:
            form["client_secret"] = self.client_secret
        return form

    def _accept(self, response: httpx.Response) -> tuple[str, float | None]:
        data = parse_token_response(response.status_code, response.content, self.token_endpoint)
        access_token = str(data["access_token"])
        new_refresh = data.get("refresh_token")
        if new_refresh:
            self.refresh_token = new_refresh
            if self.update_func:
                self.update_func(access_token, new_refresh)
        self.logger.debug("OpenID token refreshed")
        return access_token, _expiry(data, access_token)

    def _fetch_token(self) -> tuple[TokenType, float | None]:
        response = httpx.post(self.token_endpoint, data=self._refresh_form(), timeout=self.timeout, verify=self._verify())
        return self._accept(response)

    async def _fetch_token_async(self) -> tuple[TokenType, float | None]:
        async with httpx.AsyncClient(timeout=self.timeout, verify=self._verify()) as client:
            response = await client.post(self.token_endpoint, data=self._refresh_form())
        return self._accept(response)


class ClientCredentialsAuth(RestClient):
    """A REST client for services: OAuth2 client credentials against the issuer ``token_url``.

    ``client_auth_method`` (keyword) puts the secret in HTTP Basic (default) or the body
    (``"client_secret_post"``); ``scopes`` (keyword) are requested if given.
    """

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
        self.provider_info = discover(token_url, verify=self.kwargs.get("cacert", True))
        self.token_url = token_url
        self.client_id = client_id
        self._state = TokenState(self.provider_info["token_endpoint"], client_id, client_secret,
                                 " ".join(scopes) if scopes else None, client_auth_method)

    @property
    def token_fetches(self) -> int:
        return self._state.fetches

    def _has_token_source(self) -> bool:
        return True

    def _accept(self, response: httpx.Response) -> tuple[str, float | None]:
        data = self._state.accept(response.status_code, response.content, time.monotonic())
        token = str(data["access_token"])
        self.logger.debug("OpenID token created")
        return token, _expiry(data, token)

    def make_access_token(self) -> str:
        """A new access token (rest-tools' name)."""
        return str(self._store(self._fetch_token()))

    def _fetch_token(self) -> tuple[TokenType, float | None]:
        request = self._state.request()
        response = httpx.post(request.url, headers=request.headers, data=request.form, timeout=self.timeout,
                              verify=self.kwargs.get("cacert", True))
        return self._accept(response)

    async def _fetch_token_async(self) -> tuple[TokenType, float | None]:
        request = self._state.request()
        async with httpx.AsyncClient(timeout=self.timeout, verify=self.kwargs.get("cacert", True)) as client:
            response = await client.post(request.url, headers=request.headers, data=request.form)
        return self._accept(response)


def _text(value: TokenType) -> str:
    return value.decode("ascii") if isinstance(value, bytes) else value
