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

As rest-tools does, ``OpenIDRestClient`` sends the refresh token's own ``scope`` with every
refresh, read from the token after checking it against the issuer's keys (``jwks_uri``,
RS256/RS512 unless ``algorithms=`` says otherwise): an opaque refresh token has no scope to
send; one signed with a key the issuer does not publish (Keycloak signs its refresh tokens
with a private HMAC key) is read without a check when its algorithm is HS*, and refused
otherwise (:class:`BadJwtKey`). A confidential client authenticates with HTTP Basic, as
rest-tools does, unless the provider's discovery document lists only
``client_secret_post``; ``client_auth_method=`` overrides either.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import httpx
import jwt

from interlink.http._errors import ClientError, TokenRequestError
from interlink.http._oauth2 import ClientAuthMethod, Flow, OAuth2ClientCredentials, TokenFlow, TokenState, token_request
from interlink.http._transport import TOKEN_REQUEST
from interlink.rest._client import TOKEN_EXPIRY_MARGIN, RestClient, TokenType, hold_token
from interlink.rest._jwt_auth import BadJwtKey

__all__ = [
    "OpenIDDiscoveryError",
    "BadJwtKey",
    "IssuerKeys",
    "discover",
    "OpenIDRestClient",
    "ClientCredentialsAuth",
    "RefreshTokenFlow",
    "ClientCredentialsFlow",
    "rest_tools_token_error",
]

UpdateFunc = Callable[[TokenType, TokenType | None], None]


class OpenIDDiscoveryError(ClientError, RuntimeError):
    """The issuer's ``.well-known/openid-configuration`` could not be read or is not usable."""


#: rest-tools' checks of an issuer's token: these claims present, 60 s of clock leeway.
REQUIRED_CLAIMS = ("exp", "iat", "iss")
DEFAULT_ALGORITHMS = ("RS256", "RS512")
KEY_REFRESH_INTERVAL = 10.0  # seconds: an unknown ``kid`` re-reads the JWKS at most this often


class IssuerKeys:
    """The issuer's public keys (its ``jwks_uri``), read when first needed and re-read when a
    token names an unknown key, at most every ``KEY_REFRESH_INTERVAL`` seconds."""

    def __init__(self, jwks_uri: str | None, fetch: Callable[[str], Any], algorithms: list[str] | None = None,
                 leeway: float = 60.0) -> None:
        self.jwks_uri = jwks_uri
        self.algorithms = list(algorithms or DEFAULT_ALGORITHMS)
        self.leeway = leeway
        self._fetch = fetch
        self._keys: dict[str, Any] = {}
        self._read_at: float | None = None

    def _refresh(self) -> None:
        now = time.monotonic()
        if not self.jwks_uri or (self._read_at is not None and now - self._read_at < KEY_REFRESH_INTERVAL):
            return
        self._read_at = now
        keys = {}
        for key in jwt.PyJWKSet.from_dict(self._fetch(self.jwks_uri)).keys:
            if key.key_id:
                keys[key.key_id] = key.key
        self._keys = keys

    def key_for(self, token: str) -> Any:
        kid = jwt.get_unverified_header(token).get("kid")
        if kid not in self._keys:
            self._refresh()
        if kid not in self._keys:
            raise BadJwtKey(f"JWT key {kid} not found")
        return self._keys[kid]

    def validate(self, token: str, audience: str | list[str] | None = None) -> dict[str, Any]:
        """The claims of ``token`` once its signature, ``exp``, ``iat`` and ``iss`` check out."""
        key = self.key_for(token)
        options: dict[str, Any] = {"require": list(REQUIRED_CLAIMS)}
        if not audience:
            options["verify_aud"] = False
        return jwt.decode(token, key, algorithms=self.algorithms, leeway=self.leeway, options=options,
                          audience=audience or None)


def refresh_token_scope(token: str, keys: IssuerKeys) -> str:
    """The ``scope`` claim of a refresh token, as rest-tools reads it (see the module text).

    Fixed on purpose: only a token that is not a JWT counts as opaque. rest-tools caught
    PyJWT's ``DecodeError``, of which ``InvalidSignatureError`` is a subclass, so a token
    whose signature failed was sent on as if it had no scope.
    """
    try:
        header = jwt.get_unverified_header(token)
    except jwt.exceptions.DecodeError:
        return ""  # an opaque token
    try:
        return str(keys.validate(token).get("scope", ""))
    except BadJwtKey:
        if str(header.get("alg", "")).startswith("HS"):
            # Signed with the provider's private key: nothing to check it with; the scope
            # only narrows what the provider grants, so reading it unchecked is harmless.
            return str(jwt.decode(token, options={"verify_signature": False}).get("scope", ""))
        raise


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


def rest_tools_token_error(exc: TokenRequestError) -> TokenRequestError:
    """rest-tools' text for a refused token request, ``Token request failed: <error>``; the
    provider's OAuth2 ``error`` and ``error_description`` stay on the exception."""
    return TokenRequestError(f"Token request failed: {exc.error}", error=exc.error, description=exc.description)


#: What rest-tools' ``ClientCredentialsAuth`` asks for when no scopes are given.
CLIENT_CREDENTIALS_SCOPE = "offline_access"


class ClientCredentialsFlow(OAuth2ClientCredentials):
    """The client-credentials grant as rest-tools sends it (``scope=offline_access`` unless
    scopes are given), and its failures in rest-tools' words."""

    def fetch(self) -> Flow:
        response = yield token_request(self.state.request())
        assert response is not None
        try:
            self.state.accept(response.status_code, response.content, self._clock())
        except TokenRequestError as exc:
            raise rest_tools_token_error(exc) from exc


class RefreshTokenFlow(TokenFlow):
    """Access tokens from an OpenID refresh token; a rotated refresh token is kept and handed
    to ``update_func``. Public clients (no secret) send only their ``client_id``."""

    def __init__(self, token_endpoint: str, refresh_token: TokenType | None, client_id: str,
                 client_secret: str | None, update_func: UpdateFunc | None, logger: logging.Logger,
                 auth_method: ClientAuthMethod = "client_secret_basic",
                 scope_of: Callable[[str], str] | None = None) -> None:
        method: ClientAuthMethod = auth_method if client_secret else "none"
        super().__init__(TokenState(token_endpoint, client_id, client_secret or "", auth_method=method,
                                    leeway=TOKEN_EXPIRY_MARGIN), clock=time.time)
        self.refresh_token = refresh_token
        self.update_func = update_func
        self.logger = logger
        self.scope_of = scope_of

    def fetch(self) -> Flow:
        if not self.refresh_token:
            raise TokenRequestError("no refresh token available")
        refresh = self.refresh_token.decode("ascii") if isinstance(self.refresh_token, bytes) else self.refresh_token
        scope = self.scope_of(refresh) if self.scope_of else ""
        self.logger.debug("refreshing the token. scopes: %s", scope)
        # rest-tools' form: the client_id always, the scope even when empty.
        grant = {"grant_type": "refresh_token", "refresh_token": refresh, "client_id": self.state.client_id,
                 "scope": scope}
        response = yield token_request(self.state.request(grant))
        assert response is not None
        now = self._clock()
        try:
            data = self.state.accept(response.status_code, response.content, now)
        except TokenRequestError as exc:
            raise rest_tools_token_error(exc) from exc
        if self.state.expires_at is None:  # no expires_in: the JWT's exp, if it is one
            hold_token(self.state, str(data["access_token"]), None, now)
        new_refresh = data.get("refresh_token")
        if new_refresh:
            self.refresh_token = new_refresh
            if self.update_func:
                self.update_func(str(data["access_token"]), new_refresh)
        self.logger.debug("OpenID token refreshed")


def choose_client_auth(provider_info: dict[str, Any], prefer: ClientAuthMethod = "client_secret_basic") -> ClientAuthMethod:
    """``prefer`` (the method rest-tools used for this client) when the provider supports it,
    else the other secret method it lists. A provider that lists nothing supports Basic
    (RFC 8414, section 2)."""
    supported = provider_info.get("token_endpoint_auth_methods_supported") or ["client_secret_basic"]
    if prefer in supported:
        return prefer
    for method in ("client_secret_basic", "client_secret_post"):
        if method in supported:
            return method  # type: ignore[return-value]
    return prefer


def _fetch_json(client: RestClient) -> Callable[[str], Any]:
    def fetch(url: str) -> Any:
        with client.idp_client() as http:
            response = http.get(url, extensions={TOKEN_REQUEST: True})
        if response.status_code != 200:
            raise OpenIDDiscoveryError(f"reading {url} answered HTTP {response.status_code}")
        return response.json()

    return fetch


class OpenIDRestClient(RestClient):
    """A REST client whose access token comes from an OpenID refresh token.

    Args:
        address: base address of the REST API
        token_url: the OpenID issuer (discovery document under it)
        refresh_token: the initial refresh token
        client_id / client_secret: the OAuth2 client (secret optional: public clients)
        update_func: called with ``(access_token, refresh_token)`` whenever the provider
            hands out a new refresh token (``SavedDeviceGrantAuth`` saves it)
        algorithm / algorithms: the signature algorithms accepted on the refresh token
            (default RS256 and RS512)
        client_auth_method: ``"client_secret_basic"`` or ``"client_secret_post"``
            (default: Basic, unless the provider supports only the latter)
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
        client_auth_method: ClientAuthMethod | None = None,
        **kwargs: Any,
    ) -> None:
        algorithms = kwargs.pop("algorithms", None)
        if "algorithm" in kwargs:
            algorithms = [kwargs.pop("algorithm")]
        kwargs.setdefault("logger", logging.getLogger("OpenIDRestClient"))
        super().__init__(address, **kwargs)
        self.provider_info = _discover_for(self, token_url)
        self.token_url = token_url
        self.token_endpoint: str = self.provider_info["token_endpoint"]
        self.client_id = client_id
        self.client_secret = client_secret
        self.issuer_keys = IssuerKeys(self.provider_info.get("jwks_uri"), _fetch_json(self), algorithms)
        method = client_auth_method or choose_client_auth(self.provider_info)
        self.auth = RefreshTokenFlow(self.token_endpoint, refresh_token, client_id, client_secret, update_func,
                                     self.logger, auth_method=method, scope_of=self._scope_of)
        if initial_access_token is not None:
            hold_token(self.auth.state, initial_access_token[0], initial_access_token[1], time.time())
        else:
            self._refresh_now()  # fail now, not on the first request

    def _scope_of(self, refresh_token: str) -> str:
        return refresh_token_scope(refresh_token, self.issuer_keys)

    def _get_scopes(self) -> str:
        """The scope sent with the next refresh (rest-tools' name)."""
        token = self.refresh_token
        return self._scope_of(token.decode("ascii") if isinstance(token, bytes) else token or "")

    def _openid_token(self) -> str:
        """A new access token from the refresh token, now (rest-tools' name)."""
        return self._refresh_now()

    @property
    def refresh_token(self) -> TokenType | None:
        return self.auth.refresh_token

    @property
    def update_func(self) -> UpdateFunc | None:
        return self.auth.update_func


class ClientCredentialsAuth(RestClient):
    """A REST client for services: OAuth2 client credentials against the issuer ``token_url``.

    The token request is rest-tools': ``grant_type=client_credentials``, the id and secret in
    the body, ``scope=offline_access``; a refusal raises ``TokenRequestError("Token request
    failed: <error>")``. ``client_auth_method`` (keyword) puts the secret in HTTP Basic
    instead (``"client_secret_basic"``; also chosen when the provider does not list
    ``client_secret_post``); ``scopes`` (keyword) replace ``offline_access``.
    """

    auth: ClientCredentialsFlow

    def __init__(
        self,
        address: str,
        token_url: str,
        client_id: str,
        client_secret: str,
        *,
        client_auth_method: ClientAuthMethod | None = None,
        scopes: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("logger", logging.getLogger("ClientCredentialsAuth"))
        super().__init__(address, **kwargs)
        self.provider_info = _discover_for(self, token_url)
        self.token_url = token_url
        self.client_id = client_id
        self.auth = ClientCredentialsFlow(self.provider_info["token_endpoint"], client_id, client_secret,
                                          scope=" ".join(scopes) if scopes else CLIENT_CREDENTIALS_SCOPE,
                                          auth_method=client_auth_method
                                          or choose_client_auth(self.provider_info, "client_secret_post"))

    @property
    def token_fetches(self) -> int:
        return self.auth.token_fetches

    def make_access_token(self) -> str:
        """A new access token (rest-tools' name)."""
        return self._refresh_now()
