"""rest-tools' ``Auth`` and ``OpenIDAuth``: create and validate JWTs with PyJWT.

``Auth`` signs and checks with a key of its own (HS* with a shared secret, RS*/ES*/PS* with a
private key to sign and the public key to check). ``OpenIDAuth`` checks tokens an OpenID
provider issued, with the keys from its discovery document's ``jwks_uri``; a token signed
with a key id it does not know makes it read the key set again (key rotation).

Checks are rest-tools': ``exp``, ``iat`` and ``iss`` are required, ``exp``/``nbf`` with a leeway
(60 s by default), the audience when one is configured, the issuer against ``issuers``.
Fixed on purpose: the key set is read again at most once per ``refresh_interval`` seconds
(10 by default), so tokens with made-up key ids cannot make the server fetch the provider's
keys on every request (providers publish a new key before they sign with it);
``create_token`` does not change the ``payload`` dict it is given.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import httpx
import jwt

from interlink.http import BoundedTransport
from interlink.http._transport import TOKEN_ANSWER_BYTES

__all__ = ["Auth", "BadJwtKey", "OpenIDAuth"]

LOGGER = logging.getLogger("interlink.rest")


class BadJwtKey(RuntimeError):
    """The token names a key id the provider does not publish."""


class _AuthValidate:
    def __init__(self, audience: Any = None, issuers: Any = None, algorithms: Any = None, leeway: float = 60) -> None:
        self.audience = audience
        self.issuers = issuers
        self.algorithms = list(algorithms) if algorithms else ["RS256", "RS512"]
        self.leeway = leeway

    def _validate(self, token: str | bytes, key: Any, **kwargs: Any) -> dict[str, Any]:
        options: dict[str, Any] = {"require": ["exp", "iat", "iss", *kwargs.pop("required", [])]}
        leeway = kwargs.pop("leeway", None)
        leeway = float(self.leeway if leeway is None else leeway)
        audience = kwargs.pop("audience", None) or self.audience
        if audience:
            kwargs["audience"] = [audience] if isinstance(audience, str) else list(audience)
        else:
            options["verify_aud"] = False
        issuers = kwargs.pop("issuers", None)
        issuer = kwargs.pop("issuer", None)
        if not issuers:
            issuers = [issuer] if issuer else self.issuers
        claims = jwt.decode(token, key, leeway=leeway, algorithms=self.algorithms, options=options, **kwargs)
        if issuers and claims["iss"] not in issuers:
            raise jwt.exceptions.InvalidIssuerError()
        return claims


class Auth(_AuthValidate):
    """Create and validate JWTs with a key of our own (``rest_tools.utils.Auth``)."""

    def __init__(
        self,
        secret: str | bytes,
        pub_secret: str | bytes | None = None,
        issuer: str = "IceProd",
        algorithm: str = "HS512",
        expiration: float = 31622400,
        integer_times: bool = False,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("algorithms", [algorithm])
        super().__init__(**kwargs)
        self.secret = secret
        self.pub_secret = pub_secret if pub_secret else secret
        self.issuer = issuer
        self.algorithm = algorithm
        self.max_exp = expiration
        self.integer_times = integer_times

    def create_token(
        self,
        subject: str,
        expiration: float | None = None,
        payload: dict[str, Any] | None = None,
        headers: dict[str, Any] | None = None,
    ) -> str:
        """A signed token for ``subject`` that lives ``expiration`` seconds (at most the
        configured maximum), with ``payload``'s claims added."""
        lifetime = self.max_exp
        if expiration and lifetime > expiration:
            lifetime = expiration
        now: float = time.time()
        if self.integer_times:
            now, lifetime = int(now), int(lifetime)
        claims = dict(payload or {})
        claims.update({"iss": self.issuer, "sub": subject, "exp": now + lifetime, "nbf": now, "iat": now})
        return jwt.encode(claims, self.secret, algorithm=self.algorithm, headers=headers)

    def validate(self, token: str | bytes, **kwargs: Any) -> dict[str, Any]:
        """The token's claims; raises (a PyJWT error) when it does not check out."""
        return self._validate(token, self.pub_secret, issuer=self.issuer, **kwargs)


class OpenIDAuth(_AuthValidate):
    """Validate tokens from an OpenID provider, found by discovery at ``url``."""

    def __init__(
        self,
        url: str,
        provider_info: dict[str, Any] | None = None,
        public_keys: dict[str, Any] | None = None,
        *,
        refresh_interval: float = 10.0,
        timeout: float = 10.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.url = url if url.endswith("/") else url + "/"
        self.public_keys: dict[str, Any] = dict(public_keys or {})
        self.provider_info: dict[str, Any] = dict(provider_info or {})
        self.token_url = ""
        self.refresh_interval = refresh_interval
        self.timeout = timeout
        self._last_refresh = float("-inf")
        self._lock = threading.Lock()
        # Given both, the caller pinned the keys: never fetch (as rest-tools).
        self._allow_refresh = not (public_keys and provider_info)
        if self._allow_refresh:
            self._refresh_keys(force=True)

    def _refresh_keys(self, force: bool = False) -> None:
        if not self._allow_refresh:
            LOGGER.warning("no refresh of keys is allowed")
            return
        with self._lock:
            if not force and time.monotonic() - self._last_refresh < self.refresh_interval:
                return
            self._last_refresh = time.monotonic()
            try:
                # the provider's answers are bounded like every exchange (interlink.http)
                transport = BoundedTransport(max_response_bytes=TOKEN_ANSWER_BYTES)
                with httpx.Client(timeout=self.timeout, follow_redirects=True, transport=transport) as http:
                    if not self.provider_info:
                        response = http.get(self.url + ".well-known/openid-configuration")
                        response.raise_for_status()
                        self.provider_info = response.json()
                        self.token_url = self.provider_info["token_endpoint"]
                    if self.provider_info.get("jwks_uri"):
                        response = http.get(self.provider_info["jwks_uri"])
                        response.raise_for_status()
                        keys = jwt.PyJWKSet.from_dict(response.json()).keys
                        self.public_keys = {key.key_id: key.key for key in keys}
            except Exception as exc:
                # As rest-tools: a provider that cannot be reached now leaves the keys known so far.
                LOGGER.warning("failed to refresh OpenID keys from %s: %s", self.url, exc)

    def validate(self, token: str | bytes, **kwargs: Any) -> dict[str, Any]:
        """The token's claims, checked with the provider's key named by its ``kid``."""
        header = jwt.get_unverified_header(token)
        kid = header.get("kid")
        if kid not in self.public_keys:
            self._refresh_keys()
        if kid in self.public_keys:
            return self._validate(token, self.public_keys[kid], **kwargs)
        raise BadJwtKey(f"JWT key {kid} not found")
